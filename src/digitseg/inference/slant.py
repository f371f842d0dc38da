"""Writing that leans more than the training digits do, sheared upright before the net reads it.

A lean is a shear: ink at row ``y`` lies ``lean * (centre - y)`` px to the right of where an
upright writer would put it (positive: leaning right, as italics). It is estimated as the
shear that piles the ink's columns highest (upright strokes fill few columns;
:func:`estimate_lean`). MNIST digits lean too, and the net reads them as they are; on
generated canvases the estimate scatters where a few digits lean apart. So only an image
leaning at least ``MIN_LEAN`` whose ink's columns that lean piles
clearly higher than upright (``MIN_LEAN_GAIN``) is sheared, by its lean less
``TRAINED_LEAN`` (:func:`upright_shear`); the net
and post-processing read the sheared image, whose digits are then sheared back
(:func:`unshear_instance`, :func:`unshear_map`) so that boxes and masks are in the input's
pixels. See docs/log.md, "Leaning handwriting".
"""

import math
from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np

from digitseg.inference.ink import with_paper_edges
from digitseg.postprocess import Instance

# Leans tried by the estimate, px per row (rounded, so that a lean compares alike either way).
LEANS = np.round(np.linspace(-1.0, 1.0, 41), 2)
UPRIGHT = int(np.flatnonzero(LEANS == 0)[0])
# Images leaning less are read as they are; those leaning more are sheared to TRAINED_LEAN
# when their lean piles the ink's columns at least MIN_LEAN_GAIN higher than upright does
# (more than a stray stroke or two would).
MIN_LEAN = 0.55
MIN_LEAN_GAIN = 0.2
TRAINED_LEAN = 0.3
# The estimate reads the ink shrunk to at most this many pixels (a lean is a ratio).
ESTIMATE_PIXELS = 512 * 512
# Forced shears beyond this many px per row are refused.
MAX_SHEAR = 2.0


class Lean(NamedTuple):
    """An image's lean (px per row) and its gain: how much higher its ink's columns pile
    sheared upright than read as they are (0.2: 20 % more peaky; 0 for lean 0)."""

    lean: float
    gain: float


def estimate_lean(ink: np.ndarray) -> Lean:
    """The lean (one of :data:`LEANS`) that, sheared away, makes the column sums of ``ink``
    (bool (H, W): an image's :func:`~digitseg.inference.ink.ink_mask`) peakiest: the largest
    sum of squared column sums. Lean 0 for an image without ink. (Lean 0 reads the ink
    unblurred, the others interpolated, which favours 0 a little.)"""
    ink = np.asarray(ink, np.float32)
    factor = math.sqrt(ESTIMATE_PIXELS / ink.size)
    if factor < 1:
        ink = cv2.resize(ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    if not ink.any():
        return Lean(0.0, 0.0)
    peakiness = [float((shear(ink, lean, 0.0)[0].sum(axis=0) ** 2).sum()) for lean in LEANS]
    upright = peakiness[UPRIGHT]
    best = int(np.argmax(peakiness))
    if peakiness[best] <= upright:  # a tie (a lone pixel) is no lean
        return Lean(0.0, 0.0)
    return Lean(float(LEANS[best]), peakiness[best] / upright - 1)


def upright_shear(ink: np.ndarray) -> float:
    """The shear to read the image of ``ink`` (its ink mask) with: its lean less
    TRAINED_LEAN when it leans at least MIN_LEAN with a gain of at least MIN_LEAN_GAIN, else 0."""
    lean, gain = estimate_lean(ink)
    return lean - TRAINED_LEAN if lean >= MIN_LEAN and gain >= MIN_LEAN_GAIN else 0.0


def shear(image: np.ndarray, amount: float, fill=None) -> tuple[np.ndarray, int]:
    """``image`` (H, W[, C]) sheared by ``amount`` px per row about its middle row, widened
    by ``pad`` px on each side so that nothing leaves it, and ``pad``; the new pixels are
    ``fill`` (None: each row's paper at the image's edge, the median of the edge's pixels a
    quarter of the height up and down, so that paper shaded by uneven light runs on without
    an edge, which would read as a 1, and ink touching the edge does not run on). ``amount``
    0 returns the image as is."""
    if amount == 0:
        return image, 0
    height, width = image.shape[:2]
    centre = (height - 1) / 2
    pad = math.ceil(abs(amount) * centre) + 1
    source, offset, border = image, 0, cv2.BORDER_CONSTANT
    if fill is None:  # each row's paper at the edges, without ink that touches them
        source = with_paper_edges(image, axis=1)
        offset, border, fill = -1, cv2.BORDER_REPLICATE, 0
    matrix = np.float32([[1, amount, pad + offset - amount * centre], [0, 1, 0]])
    sheared = cv2.warpAffine(
        source,
        matrix,
        (width + 2 * pad, height),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=tuple(np.resize(np.atleast_1d(fill).astype(float), 4).tolist()),
    )
    return sheared, pad


def _shifts(rows: np.ndarray, amount: float, pad: int, height: int) -> np.ndarray:
    """How far right of its input column each of ``rows`` lies in the sheared image (px)."""
    return np.round(pad + amount * (rows - (height - 1) / 2)).astype(np.int64)


def unshear_map(array: np.ndarray, amount: float, pad: int, width: int, fill) -> np.ndarray:
    """A (H, W + 2 pad) map of the sheared image (e.g. the class map) back in the input's
    (H, ``width``) pixels, nearest pixel; ``fill`` where it has none."""
    if amount == 0:
        return array
    height = array.shape[0]
    columns = np.arange(width)[None] + _shifts(np.arange(height), amount, pad, height)[:, None]
    inside = (columns >= 0) & (columns < array.shape[1])
    taken = np.take_along_axis(array, np.clip(columns, 0, array.shape[1] - 1), axis=1)
    return np.where(inside, taken, fill).astype(array.dtype)


def unshear_instance(
    instance: Instance, amount: float, pad: int, shape: tuple[int, int]
) -> Instance | None:
    """``instance`` found in the image sheared by ``amount`` (widened by ``pad``), with its
    mask, box and area in the input's pixels (``shape``, (H, W)); None when all of it lies
    in the widening."""
    if amount == 0:
        return instance
    x0, y0 = instance.bbox[:2]
    ys, xs = np.nonzero(instance.mask)
    ys = ys + y0
    xs = xs + x0 - _shifts(ys, amount, pad, shape[0])
    inside = (xs >= 0) & (xs < shape[1])
    if not inside.any():
        return None
    ys, xs = ys[inside], xs[inside]
    left, top = int(xs.min()), int(ys.min())
    mask = np.zeros((int(ys.max()) + 1 - top, int(xs.max()) + 1 - left), bool)
    mask[ys - top, xs - left] = True
    box = (left, top, left + mask.shape[1], top + mask.shape[0])
    return replace(instance, bbox=box, area=int(mask.sum()), mask=mask)
