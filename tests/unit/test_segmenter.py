"""Segmenter pre-processing with a stand-in backend: polarity, scale, tiling."""

import numpy as np
import pytest

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.inference.segmenter import (
    Segmenter,
    detect_polarity,
    estimate_scale,
    trained_polarities,
)

CONFIG = {
    "model": {"net": {"in_channels": 1}},
    "data": {
        "spec": {"scale": [1.0, 1.0], "backgrounds": {"black": 1.0}, "polarity": "light_on_dark"}
    },
}


class BrightIsDigit:
    """Pointwise backend: bright pixels are digit 7, the rest background; records inputs."""

    multiple = 16

    def __init__(self) -> None:
        self.shapes = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        logits = np.zeros((batch.shape[0], NUM_CLASSES) + batch.shape[2:], np.float32)
        bright = batch[:, 0] > 0
        logits[:, 7] = np.where(bright, 10.0, -10.0)
        logits[:, BACKGROUND] = -logits[:, 7]
        return logits


def _digit_image(height=64, width=96, light_on_dark=True) -> np.ndarray:
    image = np.zeros((height, width), np.uint8)
    image[20:40, 10:24] = 255
    image[20:40, 50:64] = 255
    return image if light_on_dark else 255 - image


def test_polarity_is_detected_and_matched_to_training():
    assert detect_polarity(_digit_image()) == "light_on_dark"
    assert detect_polarity(_digit_image(light_on_dark=False)) == "dark_on_light"
    segmenter = Segmenter(BrightIsDigit(), CONFIG)
    dark_ink = segmenter.run(_digit_image(light_on_dark=False))
    assert dark_ink.polarity == "dark_on_light" and len(dark_ink.instances) == 2
    forced = segmenter.run(_digit_image(), polarity="dark_on_light")
    assert [i.bbox for i in forced.instances] != [i.bbox for i in dark_ink.instances]


def test_trained_polarities_follow_the_spec():
    assert trained_polarities(CONFIG["data"]["spec"]) == {"light_on_dark"}
    assert trained_polarities({"backgrounds": {"paper": 1.0}}) == {"dark_on_light"}
    assert trained_polarities({"backgrounds": {"black": 1, "paper": 1}, "polarity": "random"}) == {
        "light_on_dark",
        "dark_on_light",
    }


def test_scale_is_estimated_from_ink_height_and_boxes_stay_in_input_pixels():
    big = np.zeros((400, 600), np.uint8)
    big[100:300, 100:240] = 255  # a 200 px tall "digit"
    assert estimate_scale(big, 20.0) == pytest.approx(0.1)
    assert estimate_scale(_digit_image(), 20.0) == 1.0
    result = Segmenter(BrightIsDigit(), CONFIG).run(big)
    assert result.scale == pytest.approx(0.1)
    (instance,) = result.instances
    assert np.allclose(instance.bbox, (100, 100, 240, 300), atol=6)


def test_tiles_cover_large_images_exactly():
    backend = BrightIsDigit()
    segmenter = Segmenter(backend, CONFIG, tile_size=64, overlap=16)
    image = np.zeros((150, 230), np.uint8)
    image[::7, ::5] = 255
    probs, _, _, _ = segmenter.predict(image, scale=1.0)
    assert probs.shape == (NUM_CLASSES, 150, 230)
    assert np.array_equal(probs.argmax(0) == 7, image > 0)
    assert max(shape[2] for shape in backend.shapes) <= 64 and len(backend.shapes) > 4


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="multiple of 16"):
        Segmenter(BrightIsDigit(), CONFIG, tile_size=100)
    with pytest.raises(ValueError, match="polarity"):
        Segmenter(BrightIsDigit(), CONFIG).run(_digit_image(), polarity="upside_down")
