"""One digit found in an image: what post-processing, reading order and crops pass around."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Instance:
    """One digit found in an image.

    ``label`` is the digit (0-9); ``score`` the mean, over the instance's pixels, of the
    predicted (softmax) probability of that digit: a calibrated confidence when the net's
    probabilities are (a digit classifier's second reading replaces both: see
    :func:`digitseg.classifier.combine_labels`). ``bbox`` is (x0, y0, x1, y1) with exclusive
    ends, tight around the mask; ``area`` the number of pixels; ``mask`` a bool array of the
    box's size.
    """

    label: int
    score: float
    bbox: tuple[int, int, int, int]
    area: int
    mask: np.ndarray
