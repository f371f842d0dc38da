"""The pictures of an evaluation report, as RGB arrays (``digitseg.viz`` draws them)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from digitseg.classes import CLASS_NAMES, NUM_DIGITS
from digitseg.reports.evaluation import WorstCase
from digitseg.viz import confusion_matrix_figure, figure_to_array, gallery_figure, spread_limits


def per_class_figure(iou: dict, dice: dict, headline: float | None = None) -> Figure:
    """Bars of IoU and Dice per class (absent classes left empty), the headline as a line;
    the score axis spans the values with a margin, the legend sits right of the bars."""
    figure, ax = plt.subplots(figsize=(9, 3.5), dpi=100)
    x = np.arange(len(CLASS_NAMES))
    shown = []
    for offset, (name, values) in zip((-0.2, 0.2), (("IoU", iou), ("Dice", dice)), strict=True):
        heights = [np.nan if values[c] is None else values[c] for c in CLASS_NAMES]
        ax.bar(x + offset, heights, width=0.4, label=name)
        shown += heights
    if headline is not None and not np.isnan(headline):
        ax.axhline(headline, color="black", linestyle="--", linewidth=1, label="mean IoU, digits")
        shown.append(headline)
    low, high = spread_limits(shown)
    ax.set(xticks=x, xticklabels=CLASS_NAMES, ylim=(low, high), xlabel="class", ylabel="score")
    ax.set_title(f"IoU and Dice per class (score axis from {low:.2f})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    return figure


def worst_cases_figure(worst: list[WorstCase]) -> Figure:
    """The worst canvases, worst first: image | truth | prediction, each row captioned with
    the canvas index, its errors and both texts."""
    captions = [
        f"canvas {case.item.index}\n{case.instance_errors} instance errors\n"
        f"truth {case.true_text or '-'}\nread {case.prediction.text or '-'}"
        for case in worst
    ]
    return gallery_figure(
        [case.item.image for case in worst],
        [case.item.semantic for case in worst],
        [case.prediction.labels for case in worst],
        captions,
    )


def report_pictures(metrics: dict, worst: list[WorstCase]) -> dict[str, np.ndarray]:
    """``confusion_pixels``, ``confusion_instances``, ``per_class_iou`` and ``worst_cases``."""
    pixel, instance = metrics["pixel"], metrics["instance"]
    figures = {
        "confusion_pixels": confusion_matrix_figure(
            np.array(pixel["confusion_matrix"]), CLASS_NAMES, title="Pixels (row-normalised)"
        ),
        "confusion_instances": confusion_matrix_figure(
            np.array(instance["confusion_matrix"]),
            CLASS_NAMES[:NUM_DIGITS],
            title="Detected digits' labels (row-normalised)",
        ),
        "per_class_iou": per_class_figure(pixel["iou"], pixel["dice"], pixel["miou_digits"]),
        "worst_cases": worst_cases_figure(worst),
    }
    return {name: figure_to_array(figure) for name, figure in figures.items()}
