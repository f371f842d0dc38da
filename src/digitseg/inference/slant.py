"""Writing that leans more than the training digits do, sheared upright before the net reads it.

A lean is a shear: ink at row ``y`` lies ``lean * (centre - y)`` px to the right of where an
upright writer would put it (positive: leaning right, as italics). It is estimated as the
shear that piles the ink's columns highest (upright strokes fill few columns;
:func:`estimate_lean`). MNIST digits lean too, and the net reads them as they are; on
generated canvases the estimate scatters where a few digits lean apart. So only an image
leaning at least ``min_lean`` whose ink's columns that lean piles
clearly higher than upright (``min_lean_gain``) is sheared, by its lean less
``trained_lean`` (:func:`upright_shear`; the thresholds are the reading's
:class:`~digitseg.inference.settings.Estimates`); the net
and post-processing read the sheared image, whose digits are then carried back into the
input's pixels (:mod:`~digitseg.inference.page`). See docs/log.md, "Leaning handwriting".
"""

import math
from typing import NamedTuple

import cv2
import numpy as np

from digitseg.inference.settings import DEFAULT_ESTIMATES, Estimates
from digitseg.postprocess.warp import IDENTITY
from digitseg.utils.ink import with_paper_edges

# Leans tried by the estimate, px per row (rounded, so that a lean compares alike either way).
LEANS = np.round(np.linspace(-1.0, 1.0, 41), 2)
UPRIGHT = int(np.flatnonzero(LEANS == 0)[0])
# The estimate reads the ink shrunk to at most this many pixels (a lean is a ratio).
ESTIMATE_PIXELS = 512 * 512


class Lean(NamedTuple):
    """An image's lean (px per row) and its gain: how much higher its ink's columns pile
    sheared upright than read as they are (0.2: 20 % more peaky; 0 for lean 0)."""

    lean: float
    gain: float


def estimate_lean(ink: np.ndarray) -> Lean:
    """The lean (one of :data:`LEANS`) that, sheared away, makes the column sums of ``ink``
    (bool (H, W): an image's :func:`~digitseg.utils.ink.ink_mask`) peakiest: the largest
    sum of squared column sums. Lean 0 for an image without ink. (Lean 0 reads the ink
    unblurred, the others interpolated, which favours 0 a little.)"""
    ink = np.asarray(ink, np.float32)
    factor = math.sqrt(ESTIMATE_PIXELS / ink.size)
    if factor < 1:
        ink = cv2.resize(ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    if not ink.any():
        return Lean(0.0, 0.0)
    peakiness = (sheared_column_sums(ink) ** 2).sum(axis=1)
    upright = peakiness[UPRIGHT]
    best = int(np.argmax(peakiness))
    if peakiness[best] <= upright:  # a tie (a lone pixel) is no lean
        return Lean(0.0, 0.0)
    return Lean(float(LEANS[best]), float(peakiness[best] / upright - 1))


def sheared_column_sums(ink: np.ndarray) -> np.ndarray:
    """(len(LEANS), W'): the column sums of ``ink`` (float (H, W)) sheared by each of
    :data:`LEANS` about its middle row, as :func:`shear` would shear it (each row moved
    right by lean * (row - middle) px, linearly interpolated), all leans at once from the
    ink's pixels; the columns are those of a width that holds every lean."""
    height, width = ink.shape
    rows, columns = np.nonzero(ink)
    values = ink[rows, columns].astype(np.float64)
    shifts = LEANS[:, None] * (rows - (height - 1) / 2)
    whole = np.floor(shifts).astype(np.int64)
    part = shifts - whole
    reach = int(np.abs(whole).max()) + 1
    span = width + 2 * reach + 1
    left = columns + whole + reach + span * np.arange(len(LEANS))[:, None]
    size = len(LEANS) * span
    sums = np.bincount(left.ravel(), (values * (1 - part)).ravel(), size)
    sums += np.bincount((left + 1).ravel(), (values * part).ravel(), size)
    return sums.reshape(len(LEANS), span)


def upright_shear(ink: np.ndarray, estimates: Estimates = DEFAULT_ESTIMATES) -> float:
    """The shear to read the image of ``ink`` (its ink mask) with: its lean less
    ``estimates.trained_lean`` when it leans at least ``estimates.min_lean`` with a gain of
    at least ``estimates.min_lean_gain`` (more than a stray stroke or two would give), else 0."""
    lean, gain = estimate_lean(ink)
    if lean >= estimates.min_lean and gain >= estimates.min_lean_gain:
        return lean - estimates.trained_lean
    return 0.0


def shear(image: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W[, C]) sheared by ``amount`` px per row about its middle row and
    widened on each side by ``ceil(|amount| * middle) + 1`` px, so that nothing leaves it,
    and the map from its pixels to the sheared image's; the new pixels are each row's paper at
    the image's edge (the median of the edge's pixels a quarter of the height up and down,
    so that paper shaded by uneven light runs on without an edge, which would read as a 1,
    and ink touching the edge does not run on). ``amount`` 0 returns the image as is."""
    if amount == 0:
        return image, IDENTITY.copy()
    height, width = image.shape[:2]
    centre = (height - 1) / 2
    pad = math.ceil(abs(amount) * centre) + 1
    matrix = np.float64([[1, amount, pad - amount * centre], [0, 1, 0]])
    from_framed = matrix.copy()
    from_framed[0, 2] -= 1  # the framed image's column x + 1 is the input's x
    sheared = cv2.warpAffine(
        with_paper_edges(image, axis=1),
        np.float32(from_framed),
        (width + 2 * pad, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return sheared, matrix
