"""``report.md``: an evaluation's metrics (as ``metrics.json`` holds them) as Markdown tables."""

import math

from digitseg.classes import CLASS_NAMES
from digitseg.metrics.coco import STATS

HEADLINE = (
    ("pixel", "miou_digits", "mean IoU, digits (headline)"),
    ("pixel", "miou", "mean IoU, 11 classes"),
    ("pixel", "pixel_accuracy", "pixel accuracy"),
    ("instance", "precision", "instance precision"),
    ("instance", "recall", "instance recall"),
    ("instance", "f1", "instance F1"),
    ("instance", "detection_recall", "detection recall (label not required)"),
    ("instance", "label_accuracy", "label accuracy of detected digits"),
    ("instance", "exact_match", "text exact match"),
    ("instance", "cer", "character error rate"),
)
CANVAS_COLUMNS = ("images", "precision", "recall", "f1", "detection_recall")
CANVAS_COLUMNS += ("exact_match", "cer", "miou_digits")
TRUTH_COLUMNS = ("instances", "recall", "detection_recall", "label_accuracy")
BREAKDOWN_TITLES = {
    "digits_per_canvas": ("By digits per canvas", "digits", CANVAS_COLUMNS),
    "background": ("By background style", "style", CANVAS_COLUMNS),
    "true_digit": ("By true digit", "digit", TRUTH_COLUMNS),
    "digit_height": ("By digit height (true box, px)", "height", TRUTH_COLUMNS),
    "contact": ("By contact (mask grown by 1 px meets another digit)", "digit", TRUTH_COLUMNS),
}


def table(header, rows) -> str:
    """A Markdown table; floats with 4 decimals, NaN and None (JSON's NaN) as a dash."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("\n", " / ").replace("|", "\\|")


def headline_markdown(metrics: dict) -> str:
    """The headline metrics, one row each."""
    return table(["metric", "value"], [(name, metrics[g][k]) for g, k, name in HEADLINE])


def coco_markdown(metrics: dict) -> str:
    """COCO AP and AR, one row for masks and one for boxes."""
    kinds = (("segm", "masks"), ("bbox", "boxes"))
    rows = [[name, *(metrics["coco"][kind][stat] for stat in STATS)] for kind, name in kinds]
    return table(["", "AP", "AP50", "AP75", "AR@100"], rows)


def breakdowns_markdown(metrics: dict) -> str:
    """One table per breakdown (digits per canvas, background, digit height, contact)."""
    sections = []
    for key, (title, first, columns) in BREAKDOWN_TITLES.items():
        groups = metrics["breakdowns"][key]
        rows = [[name, *(values[c] for c in columns)] for name, values in groups.items()]
        sections.append(f"### {title}\n\n{table([first, *columns], rows)}")
    return "\n\n".join(sections)


def worst_markdown(metrics: dict) -> str:
    """The worst canvases: index, error counts, true and predicted text."""
    columns = ("index", "instance_errors", "edits", "wrong_pixels", "truth", "prediction")
    return table(columns, [[case[c] for c in columns] for case in metrics["worst_cases"]])


def report_markdown(metrics: dict) -> str:
    """The whole ``report.md``, pictures linked by their file names."""
    model, source = metrics["model"], metrics["source"]
    pixel, instance = metrics["pixel"], metrics["instance"]
    where = source.get("folder") or f"preset `{source.get('preset')}`"
    per_class = [[n, pixel["iou"][n], pixel["dice"][n]] for n in CLASS_NAMES]
    return (
        "\n\n".join(
            [
                f"# Evaluation of `{model['checkpoint']}`",
                f"Model trained on `{model.get('trained_on')}` ({model.get('net')}). "
                f"Canvases: {where}, split `{source.get('split')}`, {source['count']} canvases "
                f"({source['kind']}); scale {source.get('scale')}, zooms {source.get('zooms')}, "
                f"classifier {source.get('classifier')}, "
                f"polarity {source.get('polarity')}, IoU threshold {source.get('iou_threshold')}.",
                "## Headline",
                headline_markdown(metrics),
                f"Instances: {instance['true_instances']} true, {instance['predicted_instances']} "
                f"predicted, {instance['tp']} matched with their label, {instance['fp']} false "
                f"positives, {instance['fn']} false negatives.",
                "## COCO AP and AR",
                "pycocotools' COCOeval over all canvases, the predicted digits ranked by score: "
                "AP over IoU 0.50:0.95, at 0.50 and 0.75, and AR with up to 100 digits a "
                "canvas, each the mean over the digits that occur.",
                coco_markdown(metrics),
                "## Pixels per class",
                table(["class", "IoU", "Dice"], per_class),
                "![per-class IoU](per_class_iou.png)\n\n![pixel confusion](confusion_pixels.png)",
                "## Labels of detected digits",
                "Rows: true digit, columns: predicted label, over digits detected at IoU >= the "
                "threshold whatever their label.\n\n![instance confusion](confusion_instances.png)",
                "## Breakdowns",
                breakdowns_markdown(metrics),
                "## Worst cases",
                "Image | truth | prediction, worst first:\n\n![worst cases](worst_cases.png)",
                worst_markdown(metrics),
            ]
        )
        + "\n"
    )
