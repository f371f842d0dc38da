"""The upright lines of forms and squared paper: found, and painted over before the net reads
an image, without the writing on or across them."""

import cv2
import numpy as np
import pytest

from digitseg.inference.lines import MAX_LINE_PIXELS, box_lines, without_box_lines
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import ReadSettings
from digitseg.utils.ink import ink_rise
from tests.helpers.backends import CONFIG, BrightIsDigit


def _boxed_digits() -> tuple[np.ndarray, np.ndarray]:
    """Dark ink on shaded paper: a row of four boxes, a digit in each, a stroke across one
    box's side; and the writing's mask."""
    page = np.tile(np.linspace(170, 230, 400), (120, 1)).astype(np.uint8)
    writing = np.zeros(page.shape, np.uint8)
    cv2.rectangle(page, (40, 20), (360, 100), 60, 2)
    for side in (120, 200, 280):
        cv2.line(page, (side, 20), (side, 100), 60, 2)
    for centre in (80, 240, 320):
        cv2.ellipse(writing, (centre, 60), (18, 28), 0, 0, 360, 1, 4)  # 0s
    cv2.line(writing, (160, 35), (160, 85), 1, 3)  # a 1
    cv2.line(writing, (262, 60), (300, 60), 1, 4)  # a dash across the fourth side
    page[writing > 0] = 30
    return page, writing > 0


def test_the_sides_of_a_row_of_boxes_are_found_but_not_the_writing():
    page, writing = _boxed_digits()
    lines = box_lines(ink_rise(255 - page))
    for side in (40, 120, 200, 280, 360):
        assert lines[30:90, side : side + 2].mean() > 0.9
    assert not (lines & writing).any()
    assert not lines[:19].any() and not lines[103:].any()  # the boxes' top and bottom


@pytest.mark.parametrize("finer", [1, 8])
def test_box_sides_are_painted_over_with_the_paper_around_them(finer):
    """In a photo 8 times finer too, where the lines are found on the image shrunk."""
    page, writing = (
        cv2.resize(a.view(np.uint8), None, fx=finer, fy=finer, interpolation=cv2.INTER_NEAREST)
        for a in _boxed_digits()
    )
    writing = writing > 0
    assert page.size > MAX_LINE_PIXELS or finer == 1
    clean = without_box_lines(page, 255 - page)
    np.testing.assert_array_equal(clean[writing], page[writing])
    top_line = slice(19 * finer, 22 * finer)  # stays, but for a few pixels where sides meet it
    assert (clean[top_line] == page[top_line]).mean() > 0.995
    paper = np.tile(np.linspace(170, 230, 400 * finer), (120 * finer, 1))
    sides = np.zeros((120, 400), bool)
    sides[25:95, [39, 40, 41, 42, 119, 120, 121, 122, 199, 200, 201, 202]] = True
    sides = np.kron(sides, np.ones((finer, finer), bool)) & ~writing
    painted = np.abs(clean[sides] - paper[sides]) < 12
    assert painted.all() if finer == 1 else painted.mean() > 0.98  # a sliver of an edge stays


def test_faint_squared_paper_goes_but_the_writing_on_its_lines_stays():
    page = np.full((100, 300), 225, np.uint8)
    page[:, 10::20] = page[5::20, :] = 195  # 1 px grid lines, fainter than the ink
    writing = np.zeros(page.shape, np.uint8)
    cv2.line(writing, (110, 30), (110, 70), 1, 3)  # a 1 along a grid line
    cv2.ellipse(writing, (160, 55), (16, 22), 0, 0, 360, 1, 3)  # a 0 across several
    page[writing > 0] = 40
    clean = without_box_lines(page, 255 - page)
    np.testing.assert_array_equal(clean[writing > 0], page[writing > 0])
    np.testing.assert_array_equal(clean[5::20], page[5::20])  # the level lines stay
    uprights = np.zeros(page.shape, bool)
    uprights[:, 10::20] = True
    uprights[5::20] = False
    assert np.abs(clean[uprights & (writing == 0)].astype(int) - 225).max() < 8


def test_ones_reaching_from_one_ruled_line_to_the_next_stay():
    """Two 1s as tall as the ruling's spacing end on two lines like a box's sides, but a row
    of boxes has more sides."""
    page = np.full((120, 300), 220, np.uint8)
    page[30:32] = page[90:92] = 195  # ruled lines
    for x in (100, 220):  # "1 7 1", the 1s from rule to rule
        page[32:90, x : x + 2] = 30
    page[40:42, 150:175] = page[40:85, 165:167] = 30
    assert without_box_lines(page, 255 - page) is page


def test_a_row_of_boxed_digits_reads_as_its_digits():
    """The boxes' sides, which a net never saw, are not read as 1s (the stand-in net also
    reads the boxes' top and bottom, lines that the real one was trained to ignore)."""
    page, writing = _boxed_digits()
    light = 255 - page
    light[light < 100] = 0  # light ink on black, as the stand-in net reads it
    instances = (
        Segmenter(BrightIsDigit(), CONFIG).run(light, ReadSettings(scale=1.0, slant=0)).instances
    )
    tall = [i for i in instances if i.bbox[3] - i.bbox[1] > 40]
    assert sorted((i.bbox[0] + i.bbox[2]) // 2 for i in tall) == [80, 160, 240, 320]
    assert all(i.bbox[3] - i.bbox[1] <= 6 for i in instances if i not in tall)  # flat lines


def test_box_sides_on_grainy_paper_leave_no_stubs():
    page, writing = _boxed_digits()
    grain = np.random.default_rng(0).normal(0, 6, page.shape)
    grainy = np.clip(page + grain, 0, 255).astype(np.uint8)
    clean = without_box_lines(grainy, 255 - grainy)
    sides = np.zeros(page.shape, bool)
    sides[25:95, [40, 41, 120, 121, 200, 201]] = True
    assert (clean[sides & ~writing] > 130).all()  # the sides were 60, the paper 170-230


def test_sides_wider_than_the_paper_window_are_painted_paper_not_black():
    """A close photo of a form: sides 44 px wide, wider than the square the paper's colour
    is taken from."""
    page = np.full((800, 1400), 210, np.uint8)
    page[20:64, 20:1380] = page[736:780, 20:1380] = 40
    for left in (20, 360, 700, 1040, 1336):
        page[20:780, left : left + 44] = 40
    clean = without_box_lines(page, 255 - page)
    assert (clean[100:700, 20:64] > 190).all() and (clean[100:700, 700:744] > 190).all()


def test_a_tight_crop_of_ones_on_one_rule_keeps_its_ones():
    """1s reaching both edges of a crop are lines only where two rules cross them."""
    page = np.full((60, 200), 220, np.uint8)
    page[40:42] = 190  # a ruled line across the 1s
    for x in (40, 90, 140):
        page[:, x : x + 3] = 30
    assert without_box_lines(page, 255 - page) is page
