"""One table and one plot of a multirun's results: mean and spread per setting over seeds.

    python scripts/summarize_multirun.py outputs/train/multiruns/<time>
    python scripts/summarize_multirun.py <dir> --metrics val/miou_digits_best test/miou_digits

A job is a sub-folder with ``.hydra/overrides.yaml`` and the ``metrics.json`` that
``digitseg-train`` writes; its setting is its overrides except ``seed`` and those every job
shares. Writes ``summary.csv`` and ``summary.png`` into the multirun folder (``--out``): the
best settings per metric (``--top``), and for a sweep whose overrides vary (Optuna's) the
first metric against each varying override's value.
"""

import argparse
import csv
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

DEFAULT_METRICS = ("val/miou_digits_best", "test/miou_digits")
IGNORED = ("seed",)
TOP = 20  # settings shown in the ranked panels
LABEL_WIDTH = 48  # characters per line of a setting's label
SLICE_COLUMNS = 4  # panels per row of the per-override slices


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
    """Rows of setting, its overrides, jobs, finished, and mean/std/values per metric, best
    mean first; and the overrides every job shares."""
    shared = set.intersection(*(set(job["overrides"]) for job in jobs)) if jobs else set()
    groups: dict[tuple[str, ...], list[dict]] = {}
    for job in jobs:
        varying = [o for o in job["overrides"] if o not in shared and _key(o) not in IGNORED]
        groups.setdefault(tuple(varying), []).append(job)
    rows = []
    for overrides, members in groups.items():
        setting = " ".join(overrides) or "(all)"
        row = {"setting": setting, "overrides": list(overrides), "jobs": len(members)}
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


def short_override(override: str) -> str:
    """``model.net.encoder_name=resnet18`` as ``encoder_name=resnet18``, numbers with 3
    significant digits."""
    key, _, value = override.partition("=")
    number = _number(value)
    return f"{key.rsplit('.', 1)[-1]}={value if number is None else f'{number:.3g}'}"


def setting_label(row: dict, width: int = LABEL_WIDTH) -> str:
    """A row's overrides shortened and wrapped into lines of about ``width`` characters."""
    parts = [short_override(o) for o in row["overrides"]] or [row["setting"]]
    return textwrap.fill(", ".join(parts), width)


def parameters(jobs: list[dict], metric: str) -> dict[str, list[tuple[str, float]]]:
    """Per override key that takes several values over the finished jobs (``seed`` aside):
    each job's (value, ``metric``)."""
    found: dict[str, list[tuple[str, float]]] = {}
    for job in jobs:
        if metric not in job["metrics"]:
            continue
        for override in job["overrides"]:
            key, value = _key(override), override.partition("=")[2]
            if key not in IGNORED:
                found.setdefault(key, []).append((value, job["metrics"][metric]))
    return {key: pairs for key, pairs in found.items() if len({v for v, _ in pairs}) > 1}


def plot(rows: list[dict], metrics: list[str], jobs: list[dict], top: int = TOP) -> Figure:
    """Top: one panel per metric, the ``top`` best settings (each seed a grey dot, the mean a
    marker with ±1 std). Below, when overrides vary: the first metric against each varying
    override's value, one dot per job, the best job starred (an Optuna sweep's slices)."""
    shown = rows[:top]
    labels = [setting_label(row) for row in shown]
    lines = [label.count("\n") + 1 for label in labels]
    varying = parameters(jobs, metrics[0])
    columns = min(len(varying), SLICE_COLUMNS)
    slice_rows = math.ceil(len(varying) / SLICE_COLUMNS) if varying else 0
    ranked_height = 1.2 + 0.22 * sum(lines) + 0.12 * len(shown)
    width = max(3.0 + 4.0 * len(metrics), 3.6 * columns)
    fig = Figure(figsize=(width, ranked_height + 3.0 * slice_rows), layout="constrained")
    ranked, slices = (
        fig.subfigures(2, 1, height_ratios=[ranked_height, 3.0 * slice_rows])
        if varying
        else (fig, None)
    )
    _ranked_panels(ranked, shown, labels, lines, metrics)
    hidden = len(rows) - len(shown)
    fig.suptitle(
        f"{len(rows)} settings, {len(jobs)} jobs"
        + (f" (the best {len(shown)} shown)" if hidden else ""),
        fontsize=10,
    )
    if varying:
        _slice_panels(slices, varying, metrics[0], columns)
    return fig


def _ranked_panels(fig, rows, labels, lines, metrics) -> None:
    # Each row gets room for its label's lines; the best setting on top.
    positions = np.cumsum([0, *lines[:-1]]) + (np.array(lines) - 1) / 2
    positions = positions.max() - positions
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
    for ax, name in zip(axes, metrics, strict=True):
        for y, row in zip(positions, rows, strict=True):
            ax.plot(row[name]["values"], [y] * len(row[name]["values"]), ".", color="0.6")
        means = [row[name]["mean"] for row in rows]
        stds = [np.nan_to_num(row[name]["std"]) for row in rows]
        ax.errorbar(means, positions, xerr=stds, fmt="o", color="C0", capsize=3)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(name)
        ax.set_ylim(-0.7, positions.max() + 0.7)
    axes[0].set_yticks(positions, labels, fontsize=8)


def _slice_panels(fig, varying: dict, metric: str, columns: int) -> None:
    axes = fig.subplots(math.ceil(len(varying) / columns), columns, squeeze=False)
    best = max(value for pairs in varying.values() for _, value in pairs)
    for ax, (key, pairs) in zip(axes.flat, sorted(varying.items()), strict=False):
        values, scores = zip(*pairs, strict=True)
        numbers = [_number(v) for v in values]
        if None in numbers:  # categories, in order of first appearance
            categories = list(dict.fromkeys(values))
            xs = [categories.index(v) for v in values]
            ax.set_xticks(range(len(categories)), categories, rotation=20, fontsize=8)
        else:
            xs = numbers
            if min(xs) > 0 and max(xs) / min(xs) >= 20:
                ax.set_xscale("log")
        ax.plot(xs, scores, "o", color="C0", alpha=0.7)
        top = [x for x, score in zip(xs, scores, strict=True) if score == best]
        ax.plot(top, [best] * len(top), "*", color="C3", markersize=12, label="best job")
        ax.set_title(key.rsplit(".", 1)[-1], fontsize=9)
        ax.set_ylabel(metric, fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(varying) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder")
    parser.add_argument("--metrics", nargs="+", help=f"default: those of {DEFAULT_METRICS} found")
    parser.add_argument("--out", type=Path, help="folder for summary.csv/png (the multirun's)")
    parser.add_argument("--top", type=int, default=TOP, help="settings shown in the plot")
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
    plot(rows, metrics, jobs, args.top).savefig(out / "summary.png", dpi=120)
    print(f"{len(jobs)} jobs, shared overrides: {' '.join(shared) or '(none)'}")
    print(format_table(rows, metrics))
    print(f"written: {out / 'summary.csv'}, {out / 'summary.png'}")
    return rows


if __name__ == "__main__":
    main()
