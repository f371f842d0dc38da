"""Pictures of readings scored against boxes: worst scans with both sets of boxes, and how
well scores match accuracy (reliability diagram, score distributions)."""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from digitseg.viz.overlays import enlarge, to_rgb

TRUE_COLOUR, PREDICTED_COLOUR = "#2ca02c", "#d62728"


def worst_scans_figure(cases) -> Figure:
    """One row per case (:class:`~digitseg.evaluation.scans.ScanCase`): the scan with its
    true boxes (green, digit above) and the reading's boxes (red, digit and score below),
    titled with the file and both texts."""
    rows = max(1, len(cases))
    fig = Figure(figsize=(8, 2.2 * rows), dpi=100)
    for k, case in enumerate(cases):
        ax = fig.add_subplot(rows, 1, k + 1)
        image = enlarge(to_rgb(case.scan.image))
        factor = image.shape[0] / case.scan.image.shape[0]
        ax.imshow(image)
        for label, box in zip(case.scan.labels, case.scan.boxes, strict=True):
            _box(ax, np.asarray(box) * factor, TRUE_COLOUR, f"{label}", "bottom")
        for digit in case.prediction.instances:
            text = f"{digit.label} {digit.score:.2f}"
            _box(ax, np.asarray(digit.bbox) * factor, PREDICTED_COLOUR, text, "top")
        ax.set_title(
            f"{case.scan.file_name}: true {case.true_text!r}, read "
            f"{case.prediction.text!r} ({case.instance_errors} digit errors)",
            fontsize=9,
        )
        ax.axis("off")
    fig.legend(
        handles=[
            Rectangle((0, 0), 1, 1, fill=False, edgecolor=TRUE_COLOUR, label="true box"),
            Rectangle((0, 0), 1, 1, fill=False, edgecolor=PREDICTED_COLOUR, label="read"),
        ],
        loc="lower center",
        ncol=2,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _box(ax, box, colour: str, text: str, side: str) -> None:
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, lw=1.5))
    y = y0 - 2 if side == "bottom" else y1 + 2
    ax.text(x0, y, text, color=colour, fontsize=8, va=side, clip_on=True)


def calibration_figure(calibration: dict, scores: np.ndarray, correct: np.ndarray) -> Figure:
    """Left: share right against mean score per score bin (the diagonal is calibrated),
    with the ECE; right: the score histograms of right and wrong digits."""
    fig = Figure(figsize=(10, 4), dpi=100)
    reliability, spread = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    bins = [b for b in calibration["bins"] if b["count"]]
    reliability.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    reliability.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=0.09,
        alpha=0.7,
        label="share right",
    )
    reliability.plot(
        [b["mean_score"] for b in bins], [b["accuracy"] for b in bins], "o-", label="per bin"
    )
    reliability.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="score",
        ylabel="share of digits right",
        title=f"Reliability (ECE {calibration['ece']:.3f})",
    )
    reliability.legend(loc="upper left")
    edges = np.linspace(0, 1, 21)
    scores, correct = np.asarray(scores), np.asarray(correct, bool)
    spread.hist(scores[correct], edges, alpha=0.6, label=f"right ({correct.sum()})")
    spread.hist(scores[~correct], edges, alpha=0.6, label=f"wrong ({(~correct).sum()})")
    spread.set(xlabel="score", ylabel="digits", title="Scores of right and wrong digits")
    spread.set_yscale("log")
    spread.legend(loc="upper left")
    fig.tight_layout()
    return fig
