"""Canvases with their truth and prediction side by side: titled columns, a caption per row,
the class colour key below, each panel enlarged (nearest neighbour) to be read."""

import math

from matplotlib.figure import Figure

from digitseg.classes import NUM_CLASSES
from digitseg.viz.overlays import MIN_HEIGHT, enlarge, overlay, to_rgb
from digitseg.viz.plots import class_key

COLUMNS = ("image", "truth", "prediction")
DPI = 100
# Figure margins in pixels: between panels, above them (column titles), left of them
# (row captions) and per line of the colour key below them.
GAP, TITLE, CAPTION, KEY_LINE = 8, 30, 160, 24
KEY_ENTRY = 75  # width of one class in the key


def gallery_figure(
    images, truths, predictions, captions=None, min_height: int = MIN_HEIGHT
) -> Figure:
    """One row per canvas: the image, its true classes and the predicted ones over it, each
    panel at least ``min_height`` pixels tall and shown pixel for pixel; ``captions`` (one
    string per canvas, or None) label the rows."""
    rows = [
        [
            enlarge(panel, min_height)
            for panel in (to_rgb(image), overlay(image, truth), overlay(image, pred))
        ]
        for image, truth, pred in zip(images, truths, predictions, strict=True)
    ]
    if not rows:
        raise ValueError("gallery_figure needs at least one canvas")
    if captions is not None and len(captions) != len(rows):
        raise ValueError(f"{len(captions)} captions for {len(rows)} canvases")
    height = max(panel.shape[0] for row in rows for panel in row)
    width = max(panel.shape[1] for row in rows for panel in row)
    left = CAPTION if captions is not None else GAP
    figure_width = left + len(COLUMNS) * (width + GAP)
    key_columns = max(1, min(NUM_CLASSES, figure_width // KEY_ENTRY))
    key_height = KEY_LINE * (math.ceil(NUM_CLASSES / key_columns) + 1) + GAP
    figure_height = TITLE + len(rows) * (height + GAP) + key_height
    figure = Figure(figsize=(figure_width / DPI, figure_height / DPI), dpi=DPI)
    for r, row in enumerate(rows):
        top = TITLE + r * (height + GAP)
        for c, panel in enumerate(row):
            x = left + c * (width + GAP)
            box = [x / figure_width, 1 - (top + height) / figure_height]
            ax = figure.add_axes([*box, width / figure_width, height / figure_height])
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMNS[c], fontsize=12)
            if c == 0 and captions is not None:
                ax.set_ylabel(captions[r], rotation=0, ha="right", va="center", fontsize=9)
    class_key(figure, "colour key (background left as in the image)", key_columns)
    return figure
