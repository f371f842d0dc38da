"""Rotating an image whole onto a canvas that holds all of it, its paper run on into the
corners: how the reading levels a tilted line (:mod:`digitseg.inference.rotation`), how a
scan is shown tilted to the eval (:mod:`digitseg.evaluation.photo`) and to training
(:mod:`digitseg.data.scan_canvases`)."""

import math

import cv2
import numpy as np

from digitseg.utils.ink import with_paper_edges


def rotation_matrix(shape: tuple[int, int], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map (2, 3) from the pixels of an image of ``shape`` (H, W) to those of it
    rotated by ``degrees`` about its centre, and the (H, W) that holds all of it rotated."""
    height, width = shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    # Rounded first: a quarter turn's cosine is 6e-17, not 0.
    size = (
        math.ceil(round(height * cos + width * sin, 6)),
        math.ceil(round(height * sin + width * cos, 6)),
    )
    matrix[:, 2] += ((size[1] - width) / 2, (size[0] - height) / 2)
    return matrix, size


def rotate(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W[, C]) rotated by ``degrees`` (counter-clockwise) onto a canvas that
    holds all of it, and the map from its pixels to the rotated image's; the corners are
    each edge's paper run on (the edge's pixels with the ink crossing it evened out, so that
    neither ink nor grain is smeared into streaks that would read as strokes). ``degrees`` 0
    returns the image as is."""
    matrix, size = rotation_matrix(image.shape[:2], degrees)
    if degrees == 0:
        return image, matrix
    framed = with_paper_edges(with_paper_edges(image, axis=0), axis=1)
    # The framed image's pixel (x + 1, y + 1) is the input's (x, y).
    from_framed = matrix.copy()
    from_framed[:, 2] -= matrix[:, :2].sum(axis=1)
    rotated = cv2.warpAffine(
        framed, from_framed, size[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return rotated, matrix
