"""Lines of writing that climb or fall across the image (a tilted photo or sheet), rotated
level before anything else reads the image.

A tilt is found as a lean is (:func:`~digitseg.inference.slant.estimate_lean`), on the
image turned on its side: the climb (px per column) that, sheared away, piles the ink's rows
highest. Digits scattered over a canvas pile their rows a little higher at some climb by
chance, so only a climb of ``min_tilt`` to ``max_tilt`` (by default about 6 to 22 degrees)
that piles them at least ``min_tilt_gain`` higher than level is rotated away
(:func:`level_rotation`; the thresholds are the reading's
:class:`~digitseg.inference.settings.Estimates`);
the net reads smaller tilts as they are, and rotating them would tilt a form's printed lines,
which :mod:`~digitseg.inference.lines` finds only upright and level.
The image is rotated whole, onto a canvas large enough to hold it, its paper continued at
the edges (:func:`rotate`); the digits found there are carried back into the input's pixels
(:mod:`~digitseg.inference.page`). See docs/log.md, "Tilted lines".
"""

import math

import cv2
import numpy as np

from digitseg.inference.settings import DEFAULT_ESTIMATES, Estimates
from digitseg.inference.slant import estimate_lean
from digitseg.utils.ink import with_paper_edges


def level_rotation(ink: np.ndarray, estimates: Estimates = DEFAULT_ESTIMATES) -> float:
    """Degrees (counter-clockwise) to rotate the image of ``ink`` (bool (H, W): its
    :func:`~digitseg.utils.ink.ink_mask`) by so that its lines of writing are level; 0
    unless its climb is within ``estimates.min_tilt..max_tilt`` and piles the rows at least
    ``estimates.min_tilt_gain`` higher than level."""
    climb, gain = estimate_lean(np.ascontiguousarray(ink.T))
    tilted = estimates.min_tilt <= abs(climb) <= estimates.max_tilt
    if not (tilted and gain >= estimates.min_tilt_gain):
        return 0.0
    return -math.degrees(math.atan(climb))


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
