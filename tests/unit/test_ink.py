"""Where an image's ink is: the ink over the paper's local level, ruled lines left out."""

import numpy as np
import pytest

from digitseg.inference.ink import ink_mask, without_rules
from digitseg.postprocess import typical_height


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
    for top in (60, 200, 215, 235, 255, 275):
        ink[top : top + 12, :] = True  # rules 12 px thick
    for left in (100, 300, 500):  # 0s 150 px tall, sitting on the second rule
        ink[50:200, left : left + 80] = True
        ink[62:188, left + 12 : left + 68] = False
    assert typical_height(ink, min_height=6) == 12.0  # most ink is the rules'
    kept = without_rules(ink)
    assert not kept[200:].any()
    assert not kept[60:72, :100].any() and not kept[60:72, 112:168].any()
    assert kept[60:72, 100:112].all()  # the 0s' sides, where the rule crosses them
    assert typical_height(kept, min_height=6) == 150.0


def test_ink_without_rules_is_the_ink_where_there_are_none():
    ink = np.zeros((100, 200), bool)
    ink[20:80, 30:40] = ink[20:80, 90:100] = True  # two 1s
    np.testing.assert_array_equal(without_rules(ink), ink)
