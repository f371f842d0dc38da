"""The report folder of a scans evaluation (``digitseg-eval source=coco``).

Files: ``metrics.json`` (everything, NaN as null), ``report.md`` (tables, naming the reading
preset), ``images.csv`` (one row per scan: truth, reading, counts), ``digits.csv`` (one row
per digit read: label, score, right or not), ``worst_cases.png`` (both sets of boxes) and
``calibration.png`` (reliability diagram, scores of right and wrong digits).
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from digitseg.evaluation.scans import ScanEvaluation
from digitseg.reports.markdown import table
from digitseg.reports.writing import METRICS, REPORT, jsonable, write_csv
from digitseg.viz.plots import figure_to_array
from digitseg.viz.scans import calibration_figure, worst_scans_figure

IMAGES, DIGITS = "images.csv", "digits.csv"
HEADLINE = (
    ("exact_match", "exact match (text)"),
    ("cer", "character error rate"),
    ("f1", "instance F1"),
    ("precision", "instance precision"),
    ("recall", "instance recall"),
    ("detection_recall", "detection recall (label not required)"),
    ("label_accuracy", "label accuracy of detected digits"),
)
GROUP_COLUMNS = ("images", "precision", "recall", "f1", "exact_match", "cer")
DIGIT_COLUMNS = ("instances", "recall", "detection_recall", "label_accuracy")


def scans_source(kind: str, scans, part: str, count: int, enlarge: float, rotate: float) -> dict:
    """What the report says it read: ``count`` images of ``scans`` (a
    :class:`~digitseg.data.coco_scans.CocoScans`), its ``part``, and how they were shown
    (``enlarge``, ``rotate``: :func:`~digitseg.evaluation.photo.as_photographed`)."""
    return {
        "kind": kind,
        "folder": str(scans.folder),
        "annotations": str(scans.annotations),
        "part": part,
        "count": count,
        "enlarge": enlarge,
        "rotate": rotate,
    }


def write_scan_report(out_dir: str | Path, metrics: dict, evaluation: ScanEvaluation) -> dict:
    """Write the report folder; returns its pictures (name to RGB array)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / METRICS).write_text(json.dumps(jsonable(metrics), indent=1, allow_nan=False))
    (out_dir / REPORT).write_text(scan_report_markdown(metrics))
    write_csv(out_dir / IMAGES, evaluation.images)
    write_csv(out_dir / DIGITS, evaluation.predictions)
    scores = np.array([p["score"] for p in evaluation.predictions], np.float64)
    correct = np.array([p["correct"] for p in evaluation.predictions], bool)
    pictures = {
        "worst_cases": figure_to_array(worst_scans_figure(evaluation.worst_cases())),
        "calibration": figure_to_array(calibration_figure(metrics["calibration"], scores, correct)),
    }
    for name, picture in pictures.items():
        Image.fromarray(picture).save(out_dir / f"{name}.png")
    return pictures


def scan_report_markdown(metrics: dict) -> str:
    """``report.md``: what was read and how, the headline, breakdowns and calibration."""
    source, instances = metrics["source"], metrics["instances"]
    right, wrong = (metrics["calibration"][k] for k in ("right_scores", "wrong_scores"))
    parts = [
        "# Evaluation on labelled scans",
        f"Model `{metrics['model']['checkpoint']}`, {source['count']} images of "
        f"`{source['annotations']}` (part `{source['part']}`){_as_photographed(source)}, "
        f"read with the `{source['reading']}` reading preset.",
        table(["metric", "value"], [(name, instances[key]) for key, name in HEADLINE]),
        "## By digits per image",
        _group_table(metrics["by_digits_per_image"], "digits", GROUP_COLUMNS),
        "## By true digit",
        _group_table(metrics["by_true_digit"], "digit", DIGIT_COLUMNS),
        "## Calibration",
        table(
            ["", "digits", "mean score", "median score", "first quartile"],
            [
                (name, s.get("count", 0), s.get("mean"), s.get("median"), s.get("q1"))
                for name, s in (("right", right), ("wrong", wrong))
            ],
        ),
        f"Expected calibration error: {metrics['calibration']['ece']:.4f} (see calibration.png).",
    ]
    return "\n\n".join(parts) + "\n"


def _as_photographed(source: dict) -> str:
    """How the images were changed before reading (``enlarge``, ``rotate``), if they were."""
    enlarge, rotate = source.get("enlarge", 1), source.get("rotate", 0)
    changes = []
    if enlarge != 1:
        changes.append(f"{enlarge:g} times {'finer' if enlarge > 1 else 'as fine'}")
    if rotate != 0:
        changes.append(f"tilted {rotate:g} degrees")
    return f" as a photo {' and '.join(changes)} shows them" if changes else ""


def _group_table(groups: dict, key: str, columns) -> str:
    return table([key, *columns], [[name, *(g[c] for c in columns)] for name, g in groups.items()])
