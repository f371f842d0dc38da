"""Pictures: palette colours, overlays, galleries and confusion-matrix figures."""

import numpy as np

from digitseg.classes import BACKGROUND, CLASS_NAMES, PALETTE
from digitseg.viz import colorize, confusion_matrix_figure, figure_to_array, gallery, overlay


def test_colorize_uses_the_palette():
    labels = np.array([[0, 9], [BACKGROUND, 3]], np.uint8)
    rgb = colorize(labels)
    assert rgb.shape == (2, 2, 3)
    assert np.array_equal(rgb[0, 1], PALETTE[9]) and np.array_equal(rgb[1, 0], [0, 0, 0])


def test_overlay_keeps_background_pixels_and_tints_digits():
    image = np.full((2, 2), 200, np.uint8)
    labels = np.array([[1, BACKGROUND], [BACKGROUND, BACKGROUND]], np.uint8)
    out = overlay(image, labels, alpha=1.0)
    assert np.array_equal(out[0, 0], PALETTE[1])
    assert np.array_equal(out[1, 1], [200, 200, 200])


def test_gallery_has_one_row_per_canvas_and_three_panels():
    images = np.zeros((3, 10, 12), np.uint8)
    labels = np.full((3, 10, 12), BACKGROUND, np.uint8)
    grid = gallery(images, labels, labels, scale=1, gap=2)
    assert grid.shape == (3 * 10 + 2 * 2, 3 * 12 + 2 * 2, 3)


def test_confusion_matrix_figure_renders():
    matrix = np.eye(11) * 5
    picture = figure_to_array(confusion_matrix_figure(matrix, CLASS_NAMES))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.std() > 0
