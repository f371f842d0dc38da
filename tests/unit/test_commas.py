"""Commas, read as digits by the net, are told from digits by hanging below their line."""

import numpy as np

from digitseg.inference.commas import MAX_HEIGHT, MIN_DROP, without_commas
from digitseg.inference.segmenter import Segmenter
from digitseg.postprocess import Instance
from tests.helpers.backends import CONFIG, BrightIsDigit

HEIGHT = 28


def _instance(label: int, left: int, top: int, height: int = HEIGHT, width: int = 14):
    """A solid instance ``height`` px tall, its box at (``left``, ``top``)."""
    mask = np.ones((height, width), bool)
    box = (left, top, left + width, top + height)
    return Instance(label, 0.9, box, int(mask.sum()), mask)


def _number(labels: str, comma_after: int, top: int, height: int) -> list[Instance]:
    """Digits 28 px tall at rows 10-37, 20 px apart, and a mark read as a 1 after the
    ``comma_after``-th digit, at ``top`` and ``height`` px tall."""
    digits = [_instance(int(label), 20 * k, 10) for k, label in enumerate(labels)]
    mark = _instance(1, 20 * comma_after - 6, top, height, width=4)
    return digits[:comma_after] + [mark] + digits[comma_after:]


def _labels(instances: list[Instance]) -> str:
    return "".join(str(i.label) for i in instances)


def test_a_mark_hanging_below_the_line_is_a_comma():
    amount = _number("1250", comma_after=1, top=30, height=15)  # rows 30-44, digits end at 37
    assert _labels(without_commas(amount)) == "1250"
    assert _labels(without_commas(_number("125000", comma_after=3, top=27, height=20))) == "125000"


def test_marks_on_the_baseline_and_digits_written_low_are_kept():
    dot = _number("1250", comma_after=2, top=32, height=6)  # rows 32-37: on the baseline
    assert without_commas(dot) == dot
    digits = [_instance(int(label), 20 * k, 10) for k, label in enumerate("3872")]
    low = digits + [_instance(9, 80, 24)]  # a full-height 9 written half a digit low
    assert without_commas(low) == low


def test_the_comma_must_be_short_start_low_and_hang_far_enough():
    feet, height = 38, HEIGHT
    drop = round(MIN_DROP * height)
    tall = round(MAX_HEIGHT * height) + 2
    for top, size in [
        (feet + drop - 14, 14),  # hangs just far enough: a comma
        (feet + drop - 15, 14),  # a pixel short of it
        (feet + drop + 4 - tall, tall),  # hangs far, but as tall as a digit
        (18, 26),  # starts above the digits' middle (row 24)
    ]:
        marked = _number("1250", comma_after=1, top=top, height=size)
        dropped = len(marked) - len(without_commas(marked))
        assert dropped == (top == feet + drop - 14), (top, size)


def test_lines_of_fewer_than_three_digits_and_a_mark_are_left_alone():
    # As are digits scattered over a canvas at different heights, two or three to a line.
    short = _number("12", comma_after=1, top=30, height=15)
    assert without_commas(short) == short
    assert _labels(without_commas(_number("125", comma_after=1, top=30, height=15))) == "125"


def test_each_line_is_judged_alone_and_the_order_kept():
    first = _number("1250", comma_after=1, top=30, height=15)
    second = [_instance(int(d), 20 * k, 100) for k, d in enumerate("7788")]
    kept = without_commas(second + first)
    assert kept == second + [first[0], *first[2:]]


def _amount_image() -> np.ndarray:
    """Light "1,250" on dark: four 28 px bars and a short one hanging below them."""
    image = np.zeros((64, 120), np.uint8)
    for left in (10, 40, 60, 80):
        image[10:38, left : left + 6] = 255
    image[30:45, 27:31] = 255
    return image


def test_the_segmenter_leaves_commas_out_unless_asked_to_keep_them():
    segmenter = Segmenter(BrightIsDigit(digit=1), CONFIG, zooms=1.0)
    image = _amount_image()
    dropped = segmenter.run(image, scale=1.0, slant=0.0, rotation=0.0)
    kept = segmenter.run(image, scale=1.0, slant=0.0, rotation=0.0, drop_marks=False)
    assert (dropped.text, kept.text) == ("1111", "11111")
    assert (dropped.labels == kept.labels).all()  # the class map is the net's
