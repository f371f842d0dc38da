"""Leaning writing: its lean estimated, the image sheared upright and the digits sheared back."""

import cv2
import numpy as np
import pytest

from digitseg.classes import BACKGROUND
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import Estimates, ReadSettings
from digitseg.inference.slant import (
    LEANS,
    UPRIGHT,
    estimate_lean,
    shear,
    sheared_column_sums,
    upright_shear,
)
from digitseg.postprocess import Instance
from digitseg.postprocess.warp import invert, warp_instances
from tests.helpers.backends import CONFIG, BrightIsDigit


def _strokes(lean: float, height: int = 61, width: int = 200) -> np.ndarray:
    """Light strokes on dark, 40 px tall, leaning ``lean`` px per row (positive: right)."""
    image = np.zeros((height, width), np.uint8)
    for bottom_x in range(30, width - 50, 24):
        top_x = round(bottom_x + lean * 40)
        cv2.line(image, (bottom_x, 50), (top_x, 10), 255, 3)
    return image


@pytest.mark.parametrize("lean", [0.0, 0.3, 0.6, -0.4])
def test_the_lean_of_strokes_is_estimated(lean):
    assert estimate_lean(_strokes(lean) > 0).lean == pytest.approx(lean, abs=0.06)


def test_only_writing_leaning_far_more_than_mnist_is_sheared():
    assert estimate_lean(np.zeros((40, 60), bool)) == (0.0, 0.0)
    for lean in (0.4, 0.0, -0.5):
        assert upright_shear(_strokes(lean) > 0) == 0.0
    assert upright_shear(_strokes(0.8) > 0) == pytest.approx(0.5, abs=0.06)  # to MNIST's 0.3


def test_a_stray_leaning_stroke_among_upright_digits_is_no_lean():
    rings = np.zeros((61, 200), np.uint8)
    for k in range(5):  # five upright 0s and a stroke leaning 0.8
        cv2.ellipse(rings, (30 + 30 * k, 30), (10, 18), 0, 0, 360, 255, 3)
    cv2.line(rings, (170, 50), (202, 10), 255, 3)
    lean, gain = estimate_lean(rings > 0)
    assert lean >= Estimates().min_lean and gain < Estimates().min_lean_gain
    assert upright_shear(rings > 0) == 0.0


@pytest.mark.parametrize("amount", [1.0, -1.0])
def test_a_sheared_map_shears_back_exactly(amount):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (21, 30), dtype=np.uint8)  # whole-pixel shifts on every row
    image[:, [0, -1]] = 0  # paper at the edges: the widening is paper too
    sheared, matrix = shear(image, amount)
    pad = (sheared.shape[1] - 30) // 2
    assert sheared.shape == (21, 30 + 2 * pad) and pad >= 10
    assert sheared.sum() == image.astype(np.int64).sum()  # nothing left the widened image
    back = cv2.warpAffine(sheared, invert(matrix), (30, 21), flags=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(back, image)
    unsheared, identity = shear(image, 0.0)
    assert unsheared is image and np.array_equal(identity, [[1, 0, 0], [0, 1, 0]])


def test_the_widening_continues_each_rows_paper():
    """Paper in a shadow: a widening of one grey would meet it in a slanted edge. A stroke
    that reaches the edge does not run on into it."""
    paper = np.tile(np.linspace(60, 220, 50).astype(np.uint8), (30, 1))
    paper[10:14, -6:] = 0
    sheared, _ = shear(paper, 0.5)
    assert sheared.shape[1] > 60
    assert sheared[:, 0].max() <= 61 and sheared[:, -1].min() >= 219  # as at the edges


def test_an_instance_found_sheared_is_put_back_on_its_pixels():
    blob = np.zeros((21, 30), bool)
    blob[4:12, 8:11] = True
    sheared, matrix = shear(blob.astype(np.uint8), 1.0)
    ys, xs = np.nonzero(sheared)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    found = Instance(3, 0.9, box, len(xs), sheared[box[1] : box[3], box[0] : box[2]] > 0)
    (back,) = warp_instances([found], invert(matrix), blob.shape)
    assert (back.label, back.score, back.bbox, back.area) == (3, 0.9, (8, 4, 11, 12), 24)
    assert back.mask.all()
    in_widening = Instance(3, 0.9, (0, 19, 2, 21), 4, np.ones((2, 2), bool))  # bottom left
    assert warp_instances([in_widening], invert(matrix), blob.shape) == [None]


def test_leaning_writing_is_read_upright_with_boxes_in_input_pixels():
    image = _strokes(0.8)
    segmenter = Segmenter(BrightIsDigit(), CONFIG)
    result = segmenter.run(image, ReadSettings(scale=1.0))
    assert result.slant == pytest.approx(0.5, abs=0.06)
    assert len(result.instances) == 5 and result.labels.shape == image.shape
    for instance in result.instances:
        x0, y0, x1, y1 = instance.bbox
        assert image[y0:y1, x0:x1][instance.mask].mean() > 200  # on its stroke's ink
    assert (result.labels != BACKGROUND).sum() == pytest.approx((image > 127).sum(), rel=0.1)
    as_is = segmenter.run(image, ReadSettings(scale=1.0, slant=0))
    assert as_is.slant == 0.0 and len(as_is.instances) == 5


def test_the_lean_of_a_long_short_line_survives_the_estimates_shrinking():
    line = np.zeros((60, 6000), np.uint8)
    for bottom_x in range(30, 5950, 24):
        cv2.line(line, (bottom_x, 50), (round(bottom_x + 0.6 * 40), 10), 255, 3)
    assert estimate_lean(line > 0).lean == pytest.approx(0.6, abs=0.1)


@pytest.mark.parametrize("slant", [float("nan"), 2.5, -3.0])
def test_a_forced_shear_out_of_range_is_refused(slant):
    with pytest.raises(ValueError, match="slant must be within"):
        Segmenter(BrightIsDigit(), CONFIG).run(_strokes(0.0), ReadSettings(slant=slant))


def test_a_bad_polarity_is_refused_before_any_work():
    with pytest.raises(ValueError, match="polarity must be one of"):
        Segmenter(BrightIsDigit(), CONFIG).run(_strokes(0.0), ReadSettings(polarity="sideways"))


def test_column_sums_of_every_lean_at_once_equal_those_of_each_sheared_image():
    rng = np.random.default_rng(5)
    ink = (rng.random((31, 40)) > 0.8).astype(np.float32)
    ink[:, [0, -1]] = 0  # paper at the edges, so that the widening adds nothing
    sums = sheared_column_sums(ink)
    for k in (0, 7, UPRIGHT, 33, len(LEANS) - 1):
        sheared, _ = shear(ink, float(LEANS[k]))
        np.testing.assert_allclose(_trimmed(sums[k]), _trimmed(sheared.sum(axis=0)), atol=1e-5)


def _trimmed(sums: np.ndarray) -> np.ndarray:
    """``sums`` without the empty columns at either end."""
    filled = np.flatnonzero(np.abs(sums) > 1e-6)
    return sums[filled[0] : filled[-1] + 1]
