"""Pictures shared by callbacks, reports and notebooks: colour maps, overlays, plots."""

from digitseg.viz.overlays import annotate, colorize, draw_boxes, gallery, overlay, to_rgb
from digitseg.viz.plots import confusion_matrix_figure, figure_to_array

__all__ = [
    "annotate",
    "colorize",
    "draw_boxes",
    "confusion_matrix_figure",
    "figure_to_array",
    "gallery",
    "overlay",
    "to_rgb",
]
