"""One table and one plot of a multirun's results: mean and spread per setting over seeds.

    python scripts/summarize_multirun.py outputs/train/multiruns/<time>
    python scripts/summarize_multirun.py <dir> --metrics val/miou_digits_best test/miou_digits

A job is a sub-folder with ``.hydra/overrides.yaml`` and the ``metrics.json`` that
``digitseg-train`` writes; its setting is its overrides except ``seed`` and those every job
shares. Writes ``summary.csv`` and ``summary.png`` into the multirun folder (``--out``).
"""

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

DEFAULT_METRICS = ("val/miou_digits_best", "test/miou_digits")
IGNORED = ("seed",)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def load_jobs(sweep_dir: Path) -> list[dict]:
    """Each job folder's overrides (list) and metrics (dict; empty when the job failed)."""
    jobs = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        metrics_file = job_dir / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        overrides = yaml.safe_load(overrides_file.read_text()) or []
        jobs.append({"dir": job_dir.name, "overrides": overrides, "metrics": metrics})
    return jobs


def summarize(jobs: list[dict], metrics: list[str]) -> tuple[list[dict], list[str]]:
    """Rows of setting, jobs, finished, and mean/std/values per metric, best mean first;
    and the overrides every job shares."""
    shared = set.intersection(*(set(job["overrides"]) for job in jobs)) if jobs else set()
    groups: dict[str, list[dict]] = {}
    for job in jobs:
        varying = [o for o in job["overrides"] if o not in shared and _key(o) not in IGNORED]
        groups.setdefault(" ".join(varying) or "(all)", []).append(job)
    rows = []
    for setting, members in groups.items():
        row = {"setting": setting, "jobs": len(members)}
        row["finished"] = sum(bool(job["metrics"]) for job in members)
        for name in metrics:
            values = [job["metrics"][name] for job in members if name in job["metrics"]]
            row[name] = {
                "mean": float(np.mean(values)) if values else math.nan,
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                "values": values,
            }
        rows.append(row)
    first = metrics[0]
    rows.sort(key=lambda r: -r[first]["mean"] if math.isfinite(r[first]["mean"]) else math.inf)
    return rows, sorted(shared)


def write_csv(rows: list[dict], metrics: list[str], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        header = ["setting", "jobs", "finished"]
        writer.writerow(header + [f"{m} {s}" for m in metrics for s in ("mean", "std")])
        for row in rows:
            stats = [row[m][s] for m in metrics for s in ("mean", "std")]
            writer.writerow([row[k] for k in header] + stats)


def format_table(rows: list[dict], metrics: list[str]) -> str:
    """A Markdown table: mean ± std (n) per metric and setting."""
    lines = ["| setting | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for row in rows:
        cells = []
        for name in metrics:
            stat = row[name]
            spread = f" ± {stat['std']:.4f}" if math.isfinite(stat["std"]) else ""
            cells.append(f"{stat['mean']:.4f}{spread} (n={len(stat['values'])})")
        lines.append(f"| {row['setting']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], metrics: list[str], path: Path) -> None:
    """One panel per metric: each seed as a grey dot, the mean as a marker with ±1 std."""
    height = 1.0 + 0.4 * len(rows)
    fig = Figure(figsize=(5 * len(metrics), height))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    positions = np.arange(len(rows))[::-1]
    for ax, name in zip(axes[0], metrics, strict=True):
        means = [row[name]["mean"] for row in rows]
        stds = [np.nan_to_num(row[name]["std"]) for row in rows]
        for y, row in zip(positions, rows, strict=True):
            ax.plot(row[name]["values"], [y] * len(row[name]["values"]), ".", color="0.6")
        ax.errorbar(means, positions, xerr=stds, fmt="o", color="C0", capsize=3)
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(positions, [row["setting"] for row in rows], fontsize=7)
        ax.set_xlabel(name)
        ax.tick_params(axis="y", labelleft=ax is axes[0][0])
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder")
    parser.add_argument("--metrics", nargs="+", help=f"default: those of {DEFAULT_METRICS} found")
    parser.add_argument("--out", type=Path, help="folder for summary.csv/png (the multirun's)")
    args = parser.parse_args(argv)
    jobs = load_jobs(args.sweep_dir)
    if not jobs:
        parser.error(f"no job folders with .hydra/overrides.yaml in {args.sweep_dir}")
    found = set().union(*(job["metrics"] for job in jobs))
    metrics = args.metrics or [m for m in DEFAULT_METRICS if m in found] or ["val/miou_digits"]
    rows, shared = summarize(jobs, metrics)
    out = args.out or args.sweep_dir
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, metrics, out / "summary.csv")
    plot(rows, metrics, out / "summary.png")
    print(f"{len(jobs)} jobs, shared overrides: {' '.join(shared) or '(none)'}")
    print(format_table(rows, metrics))
    print(f"written: {out / 'summary.csv'}, {out / 'summary.png'}")
    return rows


if __name__ == "__main__":
    main()
