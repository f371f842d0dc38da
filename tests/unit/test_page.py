"""The Page: its steps' maps accumulate into one, which carries the digits found back; the
batched Segmenter reads as the one-at-a-time one does."""

import cv2
import numpy as np
import pytest

from digitseg.classifier import DigitClassifier
from digitseg.inference import segmenter as segmenter_module
from digitseg.inference.page import Page, normalise_size, paint_over_box_lines, prepare
from digitseg.inference.segmenter import Segmenter
from digitseg.inference.settings import ReadSettings
from digitseg.postprocess import Instance, warp_instances
from tests.helpers.backends import CONFIG, BrightIsDigit

DIGIT_BOX = (70, 40, 84, 68)  # x0, y0, x1, y1 of the drawn digit


def _drawn_digit() -> np.ndarray:
    """A 120 x 160 black image with one bright block, a digit 28 px tall."""
    image = np.zeros((120, 160), np.uint8)
    x0, y0, x1, y1 = DIGIT_BOX
    image[y0:y1, x0:x1] = 255
    return image


@pytest.mark.parametrize(
    ("rotation", "slant", "scale"),
    [(0.0, 0.0, 1.0), (12.0, 0.0, 1.0), (0.0, 0.6, 1.0), (0.0, 0.0, 0.5), (-15.0, 0.4, 1.7)],
)
def test_the_inverse_map_puts_a_drawn_digit_back_within_a_pixel(rotation, slant, scale):
    settings = ReadSettings(rotation=rotation, slant=slant, scale=scale)
    (page,) = prepare(_drawn_digit(), settings, digit_height=28.0)
    assert (page.rotation, page.slant, page.scale) == (rotation, slant, scale)
    read = cv2.resize(page.gray, page.read_shape[::-1], interpolation=cv2.INTER_AREA) > 127
    ys, xs = np.nonzero(read)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    found = Instance(4, 0.9, box, len(xs), read[box[1] : box[3], box[0] : box[2]])
    (back,) = warp_instances([found], page.to_input(), page.input_shape)
    assert np.abs(np.subtract(back.bbox, DIGIT_BOX)).max() <= 1
    assert (back.label, back.score) == (4, 0.9) and back.area == back.mask.sum()


def test_a_digit_carried_outside_the_input_is_dropped():
    (page,) = prepare(_drawn_digit(), ReadSettings(rotation=30.0, slant=0.0, scale=1.0), 28.0)
    height, width = page.read_shape
    corners = [(0, 0, 3, 3), (width - 3, height - 3, width, height)]
    digits = [Instance(1, 0.9, box, 9, np.ones((3, 3), bool)) for box in corners]
    assert warp_instances(digits, page.to_input(), page.input_shape) == [None, None]


def test_the_ink_is_found_once_per_page_and_steps_that_change_nothing_keep_it():
    page = Page.of(_drawn_digit(), "auto", digit_height=28.0)
    assert page.polarity == "light_on_dark" and page.ink is page.ink
    assert paint_over_box_lines(page, ReadSettings()) is page
    sized = normalise_size(page, ReadSettings())
    assert sized.scale == 1.0 and sized.read_shape == (120, 160)


def test_the_scale_must_be_set_before_the_read_shape_is_asked_for():
    with pytest.raises(ValueError, match="normalise_size"):
        _ = Page.of(_drawn_digit(), "auto", digit_height=28.0).read_shape


def _images() -> list[np.ndarray]:
    """Images of three sizes, one of them tiled, one read rotated and one sheared."""
    rng = np.random.default_rng(3)
    images = []
    for shape in [(64, 84), (48, 192), (64, 84), (300, 700), (48, 192)]:
        image = np.zeros(shape, np.uint8)
        for _ in range(3):
            y, x = rng.integers(4, shape[0] - 28), rng.integers(4, shape[1] - 16)
            image[y : y + 22, x : x + 4] = 255
        images.append(image)
    return images


@pytest.mark.parametrize(
    "settings",
    [ReadSettings(), ReadSettings(rotation=10.0, slant=0.5, zooms=(1.0, 1.3))],
    ids=["document", "turned"],
)
def test_run_batch_equals_run_image_by_image_on_mixed_sizes(settings):
    segmenter = Segmenter(BrightIsDigit(), CONFIG, tile_size=256, overlap=32)
    images = _images()
    batched = segmenter.run_batch(images, settings)
    for image, together in zip(images, batched, strict=True):
        alone = segmenter.run(image, settings)
        assert together.text == alone.text and len(alone.instances) >= 1
        assert [d.bbox for d in together.instances] == [d.bbox for d in alone.instances]
        assert all(
            np.array_equal(a.mask, b.mask)
            for a, b in zip(together.instances, alone.instances, strict=True)
        )
        np.testing.assert_array_equal(together.labels, alone.labels)


def test_run_batch_runs_views_of_one_size_together():
    backend = BrightIsDigit()
    cheapest = ReadSettings(zooms=(1.0,), scale=1.0, slant=0.0, rotation=0.0)
    Segmenter(backend, CONFIG).run_batch(_images()[:3], cheapest)
    assert sorted(shape[0] for shape in backend.shapes) == [1, 2]  # 64x84 twice, 48x192 once


def test_run_batch_reads_large_groups_in_parts_with_the_same_results(monkeypatch):
    settings = ReadSettings(zooms=(1.0,), scale=1.0, slant=0.0, rotation=0.0)
    images = _images()
    together = Segmenter(BrightIsDigit(), CONFIG).run_batch(images, settings)
    monkeypatch.setattr(segmenter_module, "MAX_GROUP_PIXELS", 10_000)  # about two canvases
    backend = BrightIsDigit()
    in_parts = Segmenter(backend, CONFIG).run_batch(images, settings)
    assert [r.text for r in in_parts] == [r.text for r in together]
    assert len(backend.shapes) > 3  # the net ran part by part


def test_an_empty_batch_reads_nothing():
    classifier = DigitClassifier(width=4)
    assert Segmenter(BrightIsDigit(), CONFIG, classifier=classifier).run_batch([]) == []
