"""Reading order: lines by vertical overlap, top to bottom, each left to right."""

import numpy as np

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.postprocess import (
    Instance,
    extract_instances,
    order_instances,
    read_text,
    reading_order,
)


def instance(label: int, x0: int, y0: int, w: int = 12, h: int = 20) -> Instance:
    return Instance(label, 1.0, (x0, y0, x0 + w, y0 + h), w * h, np.ones((h, w), bool))


def two_jittered_lines() -> list[Instance]:
    rng = np.random.default_rng(0)
    top = [instance(d, 10 + 16 * i, 10 + int(rng.integers(-3, 4))) for i, d in enumerate([3, 1, 4])]
    bottom = [instance(d, 6 + 16 * i, 40 + int(rng.integers(-3, 4))) for i, d in enumerate([1, 5])]
    shuffled = top + bottom
    rng.shuffle(shuffled)
    return shuffled


def labels(lines: list[list[Instance]]) -> list[list[int]]:
    return [[i.label for i in line] for line in lines]


def test_lines_top_to_bottom_each_left_to_right():
    assert labels(reading_order(two_jittered_lines())) == [[3, 1, 4], [1, 5]]


def test_read_text_and_order_instances():
    found = two_jittered_lines()
    assert read_text(found) == "314\n15"
    assert [i.label for i in order_instances(found)] == [3, 1, 4, 1, 5]


def test_a_slanted_line_stays_one_line():
    slanted = [instance(i % 10, 10 + 14 * i, 10 + 4 * i) for i in range(8)]  # 28 px of drift
    assert labels(reading_order(slanted[::-1])) == [list(range(8))]


def test_a_short_digit_or_a_low_one_joins_its_line():
    line = [
        instance(1, 10, 10),
        instance(2, 26, 20, h=10),
        instance(3, 42, 14),
        instance(4, 58, 10),
    ]
    assert read_text(line) == "1234"


def test_overlapping_digits_are_ordered_by_their_left_edges():
    assert read_text([instance(7, 20, 10), instance(0, 12, 11)]) == "07"


def test_no_instances():
    assert reading_order([]) == []
    assert order_instances([]) == []
    assert read_text([]) == ""


def test_extracted_instances_read_as_text():
    semantic = np.full((60, 80), BACKGROUND, np.uint8)
    for i, digit in enumerate([2, 0, 2]):
        semantic[5:25, 8 + 16 * i : 20 + 16 * i] = digit
    for i, digit in enumerate([4, 2]):
        semantic[33 + 2 * i : 53 + 2 * i, 4 + 16 * i : 16 + 16 * i] = digit
    probs = np.eye(NUM_CLASSES, dtype=np.float32)[semantic].transpose(2, 0, 1)
    assert read_text(extract_instances(probs)) == "202\n42"
