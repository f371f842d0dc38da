"""Matplotlib figures: confusion matrices, the class colour key, axis limits that show a
spread, and figures as image arrays."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from digitseg.classes import CLASS_NAMES, PALETTE  # noqa: E402


def confusion_matrix_figure(
    matrix: np.ndarray, names, normalize: bool = True, title: str = "Confusion matrix"
) -> Figure:
    """Rows are truth, columns prediction; ``normalize`` divides each row by its total."""
    matrix = np.asarray(matrix, dtype=np.float64)
    shown = matrix / np.maximum(matrix.sum(1, keepdims=True), 1) if normalize else matrix
    size = 0.55 * len(names) + 2
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(
        xticks=range(len(names)),
        yticks=range(len(names)),
        xticklabels=names,
        yticklabels=names,
        xlabel="predicted",
        ylabel="true",
        title=title,
    )
    ax.tick_params(axis="x", rotation=45)
    for (i, j), value in np.ndenumerate(shown):
        if value >= 0.005:
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > 0.5 * shown.max() else "black",
            )
    fig.tight_layout()
    return fig


def figure_to_array(fig: Figure) -> np.ndarray:
    """The rendered figure (pyplot's or a bare :class:`Figure`) as an RGB uint8 array; the
    figure is closed."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    array = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return array


def class_key(figure: Figure, title: str = "classes", ncol: int | None = None) -> Legend:
    """A legend at the foot of ``figure``: each class's palette colour and name."""
    handles = [
        Patch(facecolor=colour / 255, edgecolor="0.5", label=name)
        for colour, name in zip(PALETTE, CLASS_NAMES, strict=True)
    ]
    return figure.legend(
        handles=handles,
        loc="lower center",
        ncol=ncol or len(handles),
        title=title,
        fontsize=9,
        title_fontsize=9,
        frameon=False,
    )


def spread_limits(values, margin: float = 0.15, bounds=(0.0, 1.0)) -> tuple[float, float]:
    """Axis limits around the finite ``values`` with ``margin`` times their range (at least
    0.01) on each side, kept within ``bounds``; ``bounds`` when no value is finite."""
    finite = np.asarray([v for v in values if v is not None], np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return bounds
    low, high = finite.min(), finite.max()
    pad = max(margin * (high - low), 0.01)
    return max(bounds[0], low - pad), min(bounds[1], high + pad)
