"""Where an image's ink is: the ink over the paper's local level, ruled lines left out."""

import math

import cv2
import numpy as np
import pytest

from digitseg.postprocess import typical_height
from digitseg.utils.ink import ink_mask, ink_rise, rise_thresholds, without_rules


@pytest.mark.parametrize("shape", [(400, 600), (1000, 1400), (3000, 4000)])
def test_the_ink_of_a_ring_on_flat_paper_is_the_ring(shape):
    """Photos of a page too: their paper's level is taken on the image shrunk."""
    page = np.zeros(shape, np.uint8)  # light ink on dark paper
    page[100:300, 100:240] = 255  # a 200 px tall "0" with 20 px strokes
    page[120:280, 120:220] = 0
    np.testing.assert_array_equal(ink_mask(page), page > 0)


def test_rules_are_left_out_but_not_the_digits_they_run_through():
    """A close photo of ruled paper: rules as thick as the digits' strokes, one running
    through three hollow "0"s, one under them, four more below."""
    ink = np.zeros((300, 900), bool)
    for left in (100, 300, 500):  # 0s 150 px tall, sitting on the second rule
        ink[50:200, left : left + 80] = True
        ink[62:188, left + 12 : left + 68] = False
    for top in (120, 200, 215, 235, 255, 275):
        ink[top : top + 12, :] = True  # rules 12 px thick
    assert typical_height(ink, min_height=6) == 12.0  # most ink is the rules'
    kept = without_rules(ink)
    assert not kept[120:132, :100].any() and not kept[120:132, 112:168].any()
    assert kept[120:132, 100:112].all()  # the 0s' sides, where the rule crosses them
    assert not kept[200:212, :100].any() and not kept[212:].any()
    assert 150 <= typical_height(kept, min_height=6) <= 162  # the 0s, on their rule at most


@pytest.mark.parametrize("degrees", [0.0, 1.0, 2.0, 3.0])
def test_tilted_rules_are_left_out_too(degrees):
    """A phone photo is rarely square to the page's lines."""
    page = np.zeros((3000, 4000), np.uint8)
    climb = round(4000 * math.tan(math.radians(degrees)))
    for row in range(100, 5000, 250):  # rules 12 px thick
        cv2.line(page, (0, row), (4000, row - climb), 255, 12)
    for k in range(5):  # 0s 300 px tall in 20 px strokes, across two rules
        cv2.ellipse(page, (800 + 240 * k, 1500), (90, 150), 0, 0, 360, 255, 20)
    assert abs(typical_height(without_rules(page > 0), min_height=6) / 320 - 1) < 0.1


def test_a_short_underline_is_left_out_too():
    """A thin pen's number and its own two underlines, a third of a 12 MP page wide: the
    lines hold more ink than the digits."""
    page = (np.random.default_rng(0).random((3000, 4000)) < 0.002).astype(np.uint8) * 255
    for k in range(5):  # 0s 106 px tall in 6 px strokes
        cv2.ellipse(page, (800 + 90 * k, 1500), (35, 50), 0, 0, 360, 255, 6)
    for row in (1570, 1590):
        cv2.line(page, (700, row), (1700, row), 255, 6)
    assert typical_height(page > 0, min_area=12, min_height=6) < 12
    kept = without_rules(page > 0)
    assert abs(typical_height(kept, min_area=12, min_height=6) / 106 - 1) < 0.1


def test_ink_without_rules_is_the_ink_where_there_are_none():
    ink = np.zeros((100, 200), bool)
    ink[20:80, 30:40] = ink[20:80, 90:100] = True  # two 1s
    np.testing.assert_array_equal(without_rules(ink), ink)


def test_printed_lines_fainter_than_the_writing_are_marks_but_not_ink():
    page = np.full((100, 300), 225, np.uint8)
    page[20::20] = 195  # faint printed lines
    page[30:70, 100:104] = 40  # a 1
    rise = ink_rise(255 - page)
    ink, marks = rise_thresholds(rise)
    assert (rise[20::20] > marks).all() and not (rise[20::20, :90] > ink).any()
    assert (rise[30:70, 100:104] > ink).all() and not (rise[30:40, :90] > marks).any()
