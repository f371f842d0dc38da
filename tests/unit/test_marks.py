"""Punctuation the net reads as digits: low marks (commas, dots) told by where they sit, a
date's slashes by how far they lean."""

import math

import cv2
import numpy as np
import pytest

from digitseg.inference.marks import (
    FEET_MARGIN,
    LOW_TOP,
    MAX_LOW_HEIGHT,
    MIN_SLASH_LEAN,
    stroke_lean,
    without_marks,
)
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import ReadSettings
from digitseg.postprocess import Instance
from tests.helpers.backends import CONFIG, BrightIsDigit

HEIGHT = 28


def _ring(lean: float = 0.0) -> np.ndarray:
    """A 0, 28 px tall, sheared by ``lean`` px per row (leaning right)."""
    mask = np.zeros((HEIGHT, 40), np.uint8)
    cv2.ellipse(mask, (20, 14), (7, 12), 0, 0, 360, 1, 3)
    return _sheared(mask, lean)


def _bar(lean: float) -> np.ndarray:
    """A stroke 28 px tall leaning ``lean`` px per row."""
    mask = np.zeros((HEIGHT, 40), np.uint8)
    mask[:, 18:22] = 1
    return _sheared(mask, lean)


def _sheared(mask: np.ndarray, lean: float) -> np.ndarray:
    """``mask`` with row y moved ``lean * (centre - y)`` px right (the top to the right)."""
    matrix = np.float32([[1, -lean, lean * (HEIGHT - 1) / 2], [0, 1, 0]])
    return cv2.warpAffine(mask, matrix, mask.shape[::-1], flags=cv2.INTER_NEAREST) > 0


def _line(*strokes: tuple[int, np.ndarray], top: int = 0) -> list[Instance]:
    """Instances side by side, 30 px apart, from (label, mask) pairs."""
    found = []
    for k, (label, mask) in enumerate(strokes):
        ys, xs = np.nonzero(mask)
        tight = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        x0, y0 = 30 * k + xs.min(), top + ys.min()
        box = (int(x0), int(y0), int(x0 + tight.shape[1]), int(y0 + tight.shape[0]))
        found.append(Instance(label, 0.9, box, int(tight.sum()), tight))
    return found


def _labels(instances: list[Instance]) -> list[int]:
    return [i.label for i in instances]


@pytest.mark.parametrize("lean", [-0.3, 0.0, 0.25, 0.6])
def test_a_stroke_lean_is_its_shear(lean):
    assert stroke_lean(_bar(lean)) == pytest.approx(lean, abs=0.05)


def test_a_single_row_does_not_lean():
    assert stroke_lean(np.ones((1, 5), bool)) == 0.0


def test_a_1_leaning_far_more_than_its_line_is_a_slash():
    date = _line((2, _ring()), (6, _ring()), (1, _bar(0.5)), (2, _ring()), (5, _ring()))
    assert _labels(without_marks(date)) == [2, 6, 2, 5]


def test_upright_1s_and_a_line_leaning_alike_keep_their_1s():
    upright = _line((2, _ring()), (1, _bar(0.0)), (1, _bar(0.05)), (5, _ring()))
    assert without_marks(upright) == upright
    italic = _line((2, _ring(0.5)), (1, _bar(0.5)), (5, _ring(0.5)), (3, _ring(0.5)))
    assert without_marks(italic) == italic


def test_only_1s_between_digits_can_be_slashes():
    ends = _line((1, _bar(0.6)), (2, _ring()), (5, _ring()), (1, _bar(0.6)))
    assert without_marks(ends) == ends
    seven = _line((2, _ring()), (7, _bar(0.6)), (5, _ring()))
    assert without_marks(seven) == seven


def test_the_threshold_is_the_lean_beyond_the_line():
    below = _line((2, _ring()), (1, _bar(MIN_SLASH_LEAN - 0.05)), (5, _ring()))
    beyond = _line((2, _ring()), (1, _bar(MIN_SLASH_LEAN + 0.05)), (5, _ring()))
    assert len(without_marks(below)) == 3 and _labels(without_marks(beyond)) == [2, 5]


def test_both_slashes_of_a_date_go():
    date = [(1, _ring()), (2, _ring()), (1, _bar(0.5)), (0, _ring()), (5, _ring())]
    date += [(1, _bar(0.5)), (2, _ring()), (4, _ring())]
    assert _labels(without_marks(_line(*date))) == [1, 2, 0, 5, 2, 4]


def test_a_comma_run_into_a_1_below_the_line_does_not_tilt_it():
    one_and_comma = np.zeros((HEIGHT + 8, 40), bool)
    one_and_comma[:HEIGHT] = _bar(0.0)
    one_and_comma[HEIGHT - 2 : HEIGHT + 8, 10:19] = True  # hanging down to the left
    assert stroke_lean(one_and_comma) >= MIN_SLASH_LEAN  # the whole would pass for a slash
    amount = _line((2, _ring()), (1, one_and_comma), (8, _ring()), (1, _bar(0.0)))
    assert without_marks(amount) == amount


def test_each_line_is_judged_by_its_own_writing():
    first = _line((2, _ring()), (1, _bar(0.5)), (5, _ring()))
    second = _line((3, _ring(0.5)), (1, _bar(0.5)), (4, _ring(0.5)), top=60)
    kept = without_marks(second + first)  # the order they came in is kept
    assert kept == [*second, first[0], first[2]]


def _date_image() -> np.ndarray:
    """Light "0 0 / 0 0" on dark: four upright rings and a stroke leaning 0.5 px per row."""
    image = np.zeros((48, 180), np.uint8)
    for k, mask in enumerate([_ring(), _ring(), _bar(0.5), _ring(), _ring()]):
        image[10 : 10 + HEIGHT, 5 + 32 * k : 45 + 32 * k] |= mask.astype(np.uint8) * 255
    return image


@pytest.mark.parametrize("slant", [0.0, 0.3])  # read upright, or sheared and sheared back
def test_the_segmenter_leaves_slashes_out_unless_asked_to_keep_them(slant):
    segmenter = Segmenter(BrightIsDigit(digit=1), CONFIG)
    image = _date_image()
    dropped = segmenter.run(image, ReadSettings(zooms=[1.0], scale=1.0, slant=slant, rotation=0.0))
    kept = segmenter.run(
        image, ReadSettings(zooms=[1.0], scale=1.0, slant=slant, rotation=0.0, drop_marks=False)
    )
    assert (dropped.text, kept.text) == ("1111", "11111")
    assert [i.bbox for i in dropped.instances] == [kept.instances[k].bbox for k in (0, 1, 3, 4)]
    assert (dropped.labels == kept.labels).all()  # the class map is the net's


# Low marks: digits 28 px tall at rows 10-37 (middle 24, feet at 38), 20 px apart.
FEET, MIDDLE = 38, 24


def _instance(label: int, left: int, top: int, height: int = HEIGHT, width: int = 14):
    """A solid instance ``height`` px tall, its box at (``left``, ``top``)."""
    mask = np.ones((height, width), bool)
    box = (left, top, left + width, top + height)
    return Instance(label, 0.9, box, int(mask.sum()), mask)


def _number(labels: str, mark_after: int, top: int, height: int) -> list[Instance]:
    """The digits of ``labels`` and, after the ``mark_after``-th, a narrow instance read as
    a 1 at ``top``, ``height`` px tall."""
    digits = [_instance(int(label), 20 * k, 10) for k, label in enumerate(labels)]
    mark = _instance(1, 20 * mark_after - 6, top, height, width=4)
    return digits[:mark_after] + [mark] + digits[mark_after:]


def test_commas_hanging_below_and_dots_on_the_baseline_are_left_out():
    comma = _number("1250", mark_after=1, top=30, height=15)  # rows 30-44
    assert _labels(without_marks(comma)) == [1, 2, 5, 0]
    dot = _number("1250", mark_after=3, top=32, height=6)  # rows 32-37
    assert _labels(without_marks(dot)) == [1, 2, 5, 0]


def test_each_limit_of_a_low_mark():
    top = math.floor(MIDDLE - LOW_TOP * HEIGHT) + 1  # the highest top of a low mark
    bottom = math.ceil(FEET - FEET_MARGIN * HEIGHT)  # the highest bottom
    tallest = math.floor(MAX_LOW_HEIGHT * HEIGHT)
    cases = {
        (top, bottom - top): True,
        (top - 1, bottom - top + 1): False,  # starts too high (an old-style 0 or 2)
        (top, bottom - top - 1): False,  # ends above the feet (a raised mark)
        (top, tallest): True,
        (top, tallest + 1): False,  # as tall as a digit (one written low)
    }
    for (mark_top, height), dropped in cases.items():
        line = _number("1250", mark_after=2, top=mark_top, height=height)
        assert (len(without_marks(line)) == 4) is dropped, (mark_top, height)


def test_lines_of_fewer_than_three_digits_and_a_mark_are_left_alone():
    # As are many digits scattered over a canvas at different heights, two or three to a line.
    short = _number("12", mark_after=1, top=30, height=15)
    assert without_marks(short) == short
    assert _labels(without_marks(_number("125", mark_after=1, top=30, height=15))) == [1, 2, 5]


def test_low_marks_are_judged_by_their_neighbours_in_a_tilted_line():
    # Each digit 8 px lower than the one before, the 4 a little shorter: against the whole
    # line it would lie low, against its neighbours it does not.
    falling = [_instance(int(label), 20 * k, 10 + 8 * k) for k, label in enumerate("12345")]
    falling[3] = _instance(4, 60, 40, height=22)  # on its baseline, row 62
    assert without_marks(falling) == falling


def test_a_line_with_a_dot_and_a_slash_loses_both():
    date = _line((2, _ring()), (6, _ring()), (1, _bar(0.5)), (2, _ring()), (5, _ring()))
    x0, feet = date[3].bbox[2] + 1, date[3].bbox[3]
    dot = _instance(1, x0, feet - 6, height=6, width=4)
    assert _labels(without_marks(date[:4] + [dot] + date[4:])) == [2, 6, 2, 5]


def _amount_image() -> np.ndarray:
    """Light "1,250" on dark: four 28 px bars and a short one hanging below them."""
    image = np.zeros((64, 120), np.uint8)
    for left in (10, 40, 60, 80):
        image[10:38, left : left + 6] = 255
    image[30:45, 27:31] = 255
    return image


def test_the_segmenter_leaves_commas_out_unless_asked_to_keep_them():
    segmenter = Segmenter(BrightIsDigit(digit=1), CONFIG)
    image = _amount_image()
    dropped = segmenter.run(image, ReadSettings(zooms=[1.0], scale=1.0, slant=0.0, rotation=0.0))
    kept = segmenter.run(
        image, ReadSettings(zooms=[1.0], scale=1.0, slant=0.0, rotation=0.0, drop_marks=False)
    )
    assert (dropped.text, kept.text) == ("1111", "11111")
    assert (dropped.labels == kept.labels).all()  # the class map is the net's
