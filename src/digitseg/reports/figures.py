"""The pictures of an evaluation report, as RGB arrays (``digitseg.viz`` draws them)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from digitseg.classes import CLASS_NAMES, NUM_DIGITS
from digitseg.reports.evaluation import WorstCase
from digitseg.viz import confusion_matrix_figure, figure_to_array, gallery


def per_class_figure(iou: dict, dice: dict, headline: float | None = None) -> Figure:
    """Bars of IoU and Dice per class (absent classes left empty), the headline as a line."""
    figure, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    x = np.arange(len(CLASS_NAMES))
    for offset, (name, values) in zip((-0.2, 0.2), (("IoU", iou), ("Dice", dice)), strict=True):
        heights = [np.nan if values[c] is None else values[c] for c in CLASS_NAMES]
        ax.bar(x + offset, heights, width=0.4, label=name)
    if headline is not None and not np.isnan(headline):
        ax.axhline(headline, color="black", linestyle="--", linewidth=1, label="mean IoU, digits")
    ax.set(xticks=x, xticklabels=CLASS_NAMES, ylim=(0, 1), ylabel="score", title="Per class")
    ax.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure


def report_pictures(metrics: dict, worst: list[WorstCase]) -> dict[str, np.ndarray]:
    """``confusion_pixels``, ``confusion_instances``, ``per_class_iou`` and ``worst_cases``."""
    pixel, instance = metrics["pixel"], metrics["instance"]
    pictures = {
        "confusion_pixels": confusion_matrix_figure(
            np.array(pixel["confusion_matrix"]), CLASS_NAMES, title="Pixels (row-normalised)"
        ),
        "confusion_instances": confusion_matrix_figure(
            np.array(instance["confusion_matrix"]),
            CLASS_NAMES[:NUM_DIGITS],
            title="Detected digits' labels (row-normalised)",
        ),
        "per_class_iou": per_class_figure(pixel["iou"], pixel["dice"], pixel["miou_digits"]),
    }
    pictures = {name: figure_to_array(figure) for name, figure in pictures.items()}
    pictures["worst_cases"] = gallery(
        [case.item.image for case in worst],
        [case.item.semantic for case in worst],
        [case.prediction.labels for case in worst],
    )
    return pictures
