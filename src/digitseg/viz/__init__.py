"""Pictures shared by callbacks, reports and notebooks: colour maps, overlays, galleries,
plots and W&B images."""

from digitseg.viz.gallery import gallery_figure
from digitseg.viz.masks import log_segmentations, segmentation_masks
from digitseg.viz.overlays import annotate, colorize, draw_boxes, enlarge, overlay, to_rgb
from digitseg.viz.plots import class_key, confusion_matrix_figure, figure_to_array, spread_limits

__all__ = [
    "annotate",
    "class_key",
    "colorize",
    "confusion_matrix_figure",
    "draw_boxes",
    "enlarge",
    "figure_to_array",
    "gallery_figure",
    "log_segmentations",
    "overlay",
    "segmentation_masks",
    "spread_limits",
    "to_rgb",
]
