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
the edges (:func:`digitseg.utils.rotation.rotate`); the digits found there are carried back
into the input's pixels (:mod:`~digitseg.inference.page`). See docs/log.md, "Tilted lines".
"""

import math

import numpy as np

from digitseg.inference.settings import DEFAULT_ESTIMATES, Estimates
from digitseg.inference.slant import estimate_lean


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
