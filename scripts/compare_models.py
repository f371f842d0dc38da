"""Train several model configs with the same budget and print one comparison table.

    python scripts/compare_models.py                       # unet vs fcn8, train.yaml defaults
    python scripts/compare_models.py --models unet fcn8 -- trainer.max_epochs=2 data=canvas

Everything after ``--`` is a Hydra override applied to every model. Each run lands in
``outputs/compare/<time>/<model>/`` and is tested on its preset's fixed test split.
"""

import argparse
import time
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from rich.console import Console
from rich.table import Table

from digitseg.train import train
from digitseg.utils.config import CONF_DIR

COLUMNS = ("val/miou_digits", "val/miou", "test/miou_digits", "test/miou", "test/pixel_accuracy")


def run(model: str, overrides: list[str], out_dir: Path) -> dict[str, float]:
    """Train and test one model config; adds its wall time in minutes."""
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(
            config_name="train",
            overrides=[f"model={model}", "logger=csv", "export.path=null", "test=true", *overrides],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir / model)
    start = time.perf_counter()
    metrics = train(cfg)
    metrics["minutes"] = (time.perf_counter() - start) / 60
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["unet", "fcn8"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every model")
    args = parser.parse_args()
    known = sorted(path.stem for path in Path(CONF_DIR, "model").glob("*.yaml"))
    unknown = [model for model in args.models if model not in known]
    if unknown:
        parser.error(
            f"unknown model config(s) {unknown}: choose from {known} (conf/model/); "
            "put Hydra overrides after --, as in: --models unet fcn8 -- trainer.max_epochs=2"
        )
    out_dir = Path("outputs", "compare", datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    results = {model: run(model, args.overrides, out_dir) for model in args.models}

    table = Table(title=f"same budget: {' '.join(args.overrides) or 'train.yaml defaults'}")
    for column in ("model", "minutes", *COLUMNS):
        table.add_column(column, justify="right")
    for model, metrics in results.items():
        cells = [f"{metrics.get(c, float('nan')):.4f}" for c in COLUMNS]
        table.add_row(model, f"{metrics['minutes']:.1f}", *cells)
    Console().print(table)
    print(f"runs in {out_dir}")


if __name__ == "__main__":
    main()
