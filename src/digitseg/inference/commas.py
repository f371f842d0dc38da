"""Commas, which the net reads as digits (mostly as 1s), told from digits by where they sit.

A comma in a number ("1,250") hangs from the baseline between two digits: shorter than
they are, it starts below their middle and ends well below their feet. So in a line
(:func:`~digitseg.postprocess.reading_order`) with at least ``MIN_OTHERS`` more instances,
one between two others whose top lies below their middle (less ``TOP_ABOVE_MIDDLE`` of their
height), whose height is at most ``MAX_HEIGHT`` of theirs and whose bottom lies at least
``MIN_DROP`` of their height below theirs is taken for a comma and left out
(:func:`without_commas`). Measured against its two neighbours, not the whole line, a digit
at the low end of a tilted line is no comma. A dot, or a digit written small, sits on the
baseline and is kept; digits scattered over a canvas at different heights make lines of two
or three, where nothing is left out. See docs/benchmarks.md, "Commas".
"""

import numpy as np

from digitseg.postprocess import Instance, reading_order

# A comma has at least this many other instances in its line...
MIN_OTHERS = 3
# ...its top lies below its neighbours' middle less this much of their height...
TOP_ABOVE_MIDDLE = 0.1
# ...its height is at most this much of theirs...
MAX_HEIGHT = 0.85
# ...and its bottom lies at least this much of their height below their feet.
MIN_DROP = 0.2


def without_commas(instances: list[Instance]) -> list[Instance]:
    """``instances`` (one image's) without the ones that hang below their line as commas
    do, in the order they came."""
    commas = set()
    for line in reading_order(instances):
        if len(line) > MIN_OTHERS:
            for k in range(1, len(line) - 1):
                if _hangs_below(line[k], (line[k - 1], line[k + 1])):
                    commas.add(id(line[k]))
    return [instance for instance in instances if id(instance) not in commas]


def _hangs_below(mark: Instance, neighbours: tuple[Instance, Instance]) -> bool:
    """Whether ``mark``, shorter than its ``neighbours``, starts below their middle and ends
    well below them."""
    tops = np.array([neighbour.bbox[1] for neighbour in neighbours], float)
    bottoms = np.array([neighbour.bbox[3] for neighbour in neighbours], float)
    height = float(np.mean(bottoms - tops))
    middle = float(np.mean((tops + bottoms) / 2))
    feet = float(np.mean(bottoms))
    top, bottom = mark.bbox[1], mark.bbox[3]
    return (
        top > middle - TOP_ABOVE_MIDDLE * height
        and bottom - top <= MAX_HEIGHT * height
        and bottom >= feet + MIN_DROP * height
    )
