"""Class ids, names and colours, defined once for the whole project.

Index ``d`` is digit ``d``; index :data:`BACKGROUND` (10) is background.
"""

import numpy as np

NUM_DIGITS = 10
BACKGROUND = 10
NUM_CLASSES = 11
# The digit classifier's class for a mark the segmenter took for a digit: background's id.
NOT_A_DIGIT = BACKGROUND
CLASS_NAMES: tuple[str, ...] = tuple(str(d) for d in range(NUM_DIGITS)) + ("background",)

# One RGB colour per class (tab10 for the digits, black for background).
PALETTE = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
        [0, 0, 0],
    ],
    dtype=np.uint8,
)
