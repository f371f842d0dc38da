"""The report folder of an evaluation, and the same sent to the configured loggers.

Files: ``metrics.json`` (everything, NaN as null), ``report.md`` (tables), ``canvases.csv``
(one row per canvas) and ``instances.csv`` (one row per true digit), and the pictures
``confusion_pixels.png``, ``confusion_instances.png``, ``per_class_iou.png`` and
``worst_cases.png``. Loggers get the headline metrics (COCO AP/AR included) and, where they
show pictures, the pictures; W&B also gets the tables and ``<prefix>/worst_predictions``,
the worst canvases with their true and predicted class masks.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger
from PIL import Image

from digitseg.metrics.coco import to_log_dict
from digitseg.reports.evaluation import Evaluation
from digitseg.reports.figures import report_pictures
from digitseg.reports.markdown import BREAKDOWN_TITLES, report_markdown
from digitseg.utils.loggers import close_loggers
from digitseg.viz import log_segmentations

METRICS, REPORT = "metrics.json", "report.md"
CANVASES, INSTANCES = "canvases.csv", "instances.csv"


def write_report(out_dir: str | Path, metrics: dict, evaluation: Evaluation) -> dict:
    """Write the report folder; returns the pictures (name to RGB array) it holds."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / METRICS, "w") as f:
        json.dump(jsonable(metrics), f, indent=1, allow_nan=False)
    (out_dir / REPORT).write_text(report_markdown(metrics))
    write_csv(out_dir / CANVASES, evaluation.canvases)
    write_csv(out_dir / INSTANCES, evaluation.truths)
    pictures = report_pictures(metrics, evaluation.worst_cases())
    for name, picture in pictures.items():
        Image.fromarray(picture).save(out_dir / f"{name}.png")
    return pictures


def jsonable(value):
    """``value`` with numpy scalars as Python numbers and NaN as None, for strict JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_csv(path: Path, records: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        if records:
            writer = csv.DictWriter(f, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)


def log_report(
    loggers: list[Logger], evaluation: Evaluation, metrics: dict, pictures: dict, prefix: str
) -> None:
    """Log the headline metrics to every logger, the pictures and tables where they can be
    shown (W&B: images, the worst canvases with class masks, and tables; TensorBoard:
    images); then close the loggers."""
    headline = evaluation.log_dict(prefix) | to_log_dict(metrics["coco"], prefix)
    try:
        for logger in loggers:
            logger.log_metrics(headline, step=0)
            if isinstance(logger, WandbLogger):
                for name, picture in pictures.items():
                    logger.log_image(key=f"{prefix}/{name}", images=[picture], step=0)
                _log_worst_predictions(logger, evaluation, prefix)
                for name, columns, rows in _tables(metrics):
                    logger.log_table(key=f"{prefix}/{name}", columns=columns, data=rows, step=0)
            elif isinstance(logger, TensorBoardLogger):
                for name, picture in pictures.items():
                    logger.experiment.add_image(f"{prefix}/{name}", picture, 0, dataformats="HWC")
    finally:
        close_loggers(loggers)


def _log_worst_predictions(logger: WandbLogger, evaluation: Evaluation, prefix: str) -> None:
    worst = evaluation.worst_cases()
    log_segmentations(
        logger,
        f"{prefix}/worst_predictions",
        [case.item.image for case in worst],
        [case.item.semantic for case in worst],
        [case.prediction.labels for case in worst],
        [
            f"canvas {case.item.index}: truth {case.true_text}, read {case.prediction.text}"
            for case in worst
        ],
        step=0,
    )


def _tables(metrics: dict):
    """(name, columns, rows) of the per-class table, each breakdown and the worst cases."""
    pixel = metrics["pixel"]
    rows = [[name, pixel["iou"][name], pixel["dice"][name]] for name in pixel["iou"]]
    yield "per_class", ["class", "iou", "dice"], jsonable(rows)
    for key, (_, first, columns) in BREAKDOWN_TITLES.items():
        groups = metrics["breakdowns"][key]
        rows = [[name, *(values[c] for c in columns)] for name, values in groups.items()]
        yield f"by_{key}", [first, *columns], jsonable(rows)
    worst = metrics["worst_cases"]
    if worst:
        yield "worst_cases", list(worst[0]), [list(case.values()) for case in worst]
