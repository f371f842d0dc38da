"""Matplotlib figures: confusion matrices (and their conversion to image arrays)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


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
    """The rendered figure as an RGB uint8 array; the figure is closed."""
    fig.canvas.draw()
    array = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return array
