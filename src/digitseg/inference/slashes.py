"""A date's slashes ("12/05"), which the net reads as 1s, told from 1s by their lean.

One writer leans all the strokes of a line alike, and a slash far more than the digits.
So a 1 with a digit on either side in its line (:func:`~digitseg.postprocess.reading_order`)
whose stroke leans at least ``MIN_SLASH_LEAN`` px per row more than the rest of the line's
writing is taken for a slash and left out (:func:`without_slashes`). The stroke's lean is
the slope of its pixels' columns against their rows, over the rows the other digits span
(a comma run into the 1 below the line does not tilt it); the line's, whose round digits
have no one slope, is the lean estimate (:func:`~digitseg.inference.slant.estimate_lean`)
of the other digits' pixels together.
This takes each line as one writer's. On the generated canvases each digit has its own
MNIST writer, and many 1s lean that much more than their neighbours (numbers val read with
the rule: exact match 0.887 -> 0.798), so ``digitseg-eval`` reads them without it. See
docs/benchmarks.md, "Dates".
"""

import numpy as np

from digitseg.inference.slant import estimate_lean
from digitseg.postprocess import Instance, reading_order

# A 1 leaning at least this many px per row more than its line's writing (about 11 degrees)
# is a slash; the scan check's slashes lean 0.31 more (median), its 1s at most 0.11.
MIN_SLASH_LEAN = 0.2


def without_slashes(instances: list[Instance]) -> list[Instance]:
    """``instances`` (in one image's pixels, digits upright) without the 1s that are a
    date's slashes, in the order they came."""
    slashes = set()
    for line in reading_order(instances):
        for k in range(1, len(line) - 1):
            if line[k].label == 1 and _leans_apart(line[k], line[:k] + line[k + 1 :]):
                slashes.add(id(line[k]))
    return [instance for instance in instances if id(instance) not in slashes]


def _leans_apart(stroke: Instance, others: list[Instance]) -> bool:
    """Whether ``stroke``, over the rows ``others`` span, leans at least MIN_SLASH_LEAN more
    than ``others`` together."""
    top = np.median([other.bbox[1] for other in others])
    bottom = np.median([other.bbox[3] for other in others])
    rows = np.arange(stroke.bbox[1], stroke.bbox[3])
    within = stroke.mask & ((rows >= top) & (rows < bottom))[:, None]
    return stroke_lean(within) - estimate_lean(_union_mask(others)).lean >= MIN_SLASH_LEAN


def stroke_lean(mask: np.ndarray) -> float:
    """The lean (px per row, positive leaning right) of the pixels of ``mask`` (bool): the
    slope of their columns against their rows, top to bottom; 0 for a single row or none."""
    rows, cols = np.nonzero(mask)
    if not rows.size:
        return 0.0
    rows = rows - rows.mean()
    spread = float((rows * rows).sum())
    return float(-(rows * (cols - cols.mean())).sum() / spread) if spread else 0.0


def _union_mask(instances: list[Instance]) -> np.ndarray:
    """Bool mask of all the pixels of ``instances``, over their joint box."""
    left = min(i.bbox[0] for i in instances)
    top = min(i.bbox[1] for i in instances)
    right = max(i.bbox[2] for i in instances)
    bottom = max(i.bbox[3] for i in instances)
    union = np.zeros((bottom - top, right - left), bool)
    for instance in instances:
        x0, y0, x1, y1 = instance.bbox
        union[y0 - top : y1 - top, x0 - left : x1 - left] |= instance.mask
    return union
