"""Punctuation the net reads as digits, told from digits by where it sits and how it leans.

Both rules read one line of writing (:func:`~digitseg.postprocess.reading_order`) at a time
and take it for one writer's (:func:`without_marks`):

- **Low marks.** A comma or dot between two digits lies low: shorter than they are, its top
  is below their middle (less ``LOW_TOP`` of their height) and its bottom reaches their feet
  (at most ``FEET_MARGIN`` of their height above them) or hangs below. In a line with at
  least ``MIN_OTHERS`` more instances, such an instance is left out. Digits of one writer's
  line stand as tall as their neighbours, or, written small (old-style 0s and 2s), start
  above their middle. Measured against its two neighbours, not the whole line, a digit at
  the low end of a tilted line is no mark. A comma hanging so far below that it overlaps
  the digits by half its height or less starts a line of its own and is not seen here.
- **Slashes.** One writer leans all the strokes of a line alike, and a date's slash ("12/05")
  far more than the digits. So a 1 with a digit on either side whose stroke leans at least
  ``MIN_SLASH_LEAN`` px per row more than the rest of the line's writing is left out. The
  stroke's lean is the slope of its pixels' columns against their rows, over the rows the
  other digits span (a comma run into the 1 below the line does not tilt it); the line's,
  whose round digits have no one slope, is the lean estimate
  (:func:`~digitseg.inference.slant.estimate_lean`) of the other digits' pixels together.

On the generated canvases each digit has its own MNIST writer, and many 1s lean far more
than their neighbours, so the slash rule would misread them, while scattered digits lie
at any height; so the ``canvas`` reading preset reads them without either rule. See
docs/log.md, "Dates" and "Nine more writers, commas and dots".
"""

import numpy as np

from digitseg.inference.slant import estimate_lean
from digitseg.postprocess import Instance, reading_order

# A low mark has at least this many other instances in its line...
MIN_OTHERS = 3
# ...its top lies below its neighbours' middle less this much of their height...
LOW_TOP = 0.1
# ...its height is at most this much of theirs...
MAX_LOW_HEIGHT = 0.85
# ...and its bottom lies at most this much of their height above their feet.
FEET_MARGIN = 0.15
# A 1 leaning at least this many px per row more than its line's writing (about 11 degrees)
# is a slash: between how far the scan check's slashes and its 1s lean (docs/log.md, "Dates").
MIN_SLASH_LEAN = 0.2


def without_marks(instances: list[Instance]) -> list[Instance]:
    """``instances`` (in one image's pixels, digits upright) without the low marks and the
    slashes of their lines, in the order they came."""
    marks = set()
    for line in reading_order(instances):
        low = {k for k in range(1, len(line) - 1) if _is_low_mark(line, k)}
        digits = [instance for k, instance in enumerate(line) if k not in low]
        slashes = {k for k in range(1, len(digits) - 1) if _is_slash(digits, k)}
        marks |= {id(line[k]) for k in low} | {id(digits[k]) for k in slashes}
    return [instance for instance in instances if id(instance) not in marks]


def _is_low_mark(line: list[Instance], k: int) -> bool:
    """Whether ``line[k]``, shorter than its two neighbours, lies below their middle and
    reaches their feet, in a line of at least MIN_OTHERS more instances."""
    if len(line) <= MIN_OTHERS:
        return False
    neighbours = (line[k - 1], line[k + 1])
    tops = np.array([neighbour.bbox[1] for neighbour in neighbours], float)
    feet = np.array([neighbour.bbox[3] for neighbour in neighbours], float)
    height = float(np.mean(feet - tops))
    middle = float(np.mean(tops + feet) / 2)
    top, bottom = line[k].bbox[1], line[k].bbox[3]
    return (
        top > middle - LOW_TOP * height
        and bottom - top <= MAX_LOW_HEIGHT * height
        and bottom >= float(np.mean(feet)) - FEET_MARGIN * height
    )


def _is_slash(line: list[Instance], k: int) -> bool:
    """Whether ``line[k]`` is a 1 that, over the rows the rest of ``line`` spans, leans at
    least MIN_SLASH_LEAN more than the rest together."""
    stroke, others = line[k], line[:k] + line[k + 1 :]
    if stroke.label != 1:
        return False
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
