"""Segmenter pre-processing with a stand-in backend: polarity, scale, zooms, tiling."""

import numpy as np
import pytest
import torch

from digitseg.classes import BACKGROUND, NUM_CLASSES, NUM_DIGITS
from digitseg.classifier import DigitClassifier
from digitseg.inference.page import estimate_scale
from digitseg.inference.segmenter import Segmenter, trained_polarities
from digitseg.inference.settings import ReadSettings
from digitseg.metrics.calibration import ScoreCalibration
from digitseg.models.checkpoint import CheckpointError, save_model
from digitseg.postprocess import PostprocessConfig
from digitseg.utils.ink import detect_polarity, ink_mask
from tests.helpers.backends import CONFIG, BrightIsDigit


class ReadsOtherwiseEnlarged:
    """A view is enlarged when at least ``wide`` px wide. Bright pixels are likely a 7 as is,
    a 2 or a 1 enlarged: the first view says 7, the last 2, their mean 1. Grey pixels are
    likely background as is, but ink enlarged, where they read as bright ones do: their
    mean is a 1. Outputs log-probabilities of the 11 classes and a core logit (ink: 5)."""

    multiple = 16
    AS_IS = {"bright": {7: 0.6, 1: 0.4}, "grey": {BACKGROUND: 0.6, 1: 0.4}}
    ENLARGED = {"bright": {2: 0.5, 1: 0.45, 7: 0.05}, "grey": {2: 0.5, 1: 0.45, 7: 0.05}}

    def __init__(self, wide: int) -> None:
        self.wide = wide

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = batch[:, 0]
        tables = self.ENLARGED if x.shape[2] >= self.wide else self.AS_IS
        kinds = {"bright": x > 0.5, "grey": (x > -0.5) & (x <= 0.5)}
        probs = np.full((x.shape[0], NUM_CLASSES) + x.shape[1:], 1e-6, np.float32)
        probs[:, BACKGROUND] = 1.0
        for kind, pixels in kinds.items():
            for label in range(NUM_CLASSES):
                probs[:, label] = np.where(pixels, tables[kind].get(label, 1e-6), probs[:, label])
        ink = probs[:, BACKGROUND] < 0.5
        cores = np.where(ink, 5.0, -5.0)[:, None]
        return np.concatenate([np.log(probs), cores], axis=1)


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
    forced = segmenter.run(
        _digit_image(), ReadSettings(polarity="dark_on_light")
    )  # the black paper is ink
    boxes = np.array([i.bbox for i in forced.instances])
    assert forced.polarity == "dark_on_light"
    assert (*boxes[:, :2].min(0), *boxes[:, 2:].max(0)) == (0, 0, 96, 64)


def test_images_and_scales_the_segmenter_cannot_read_are_named():
    segmenter = Segmenter(BrightIsDigit(), CONFIG)
    bad_images = {
        "uint8": [_digit_image().astype(np.float32), _digit_image().tolist()],
        "shape": [np.zeros((0, 5), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros(8, np.uint8)],
    }
    for message, images in bad_images.items():
        for image in images:
            with pytest.raises(ValueError, match=message):
                segmenter.run(image)
    for scale in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale must be above 0"):
            segmenter.run(_digit_image(), ReadSettings(scale=scale))


def test_trained_polarities_follow_the_spec():
    assert trained_polarities(CONFIG["data"]["spec"]) == {"light_on_dark"}
    assert trained_polarities({"backgrounds": {"paper": 1.0}}) == {"dark_on_light"}
    assert trained_polarities({}) == {"light_on_dark"}  # the spec's default: black
    assert trained_polarities({"backgrounds": {"black": 1, "paper": 1}, "polarity": "random"}) == {
        "light_on_dark",
        "dark_on_light",
    }


def test_scale_is_estimated_from_ink_height_and_boxes_stay_in_input_pixels():
    big = np.zeros((400, 600), np.uint8)
    big[100:300, 100:240] = 255  # a 200 px tall "0" with 20 px strokes
    big[120:280, 120:220] = 0
    assert _scale(big, 20.0) == pytest.approx(0.1)
    assert _scale(_digit_image(), 20.0) == 1.0
    result = Segmenter(BrightIsDigit(), CONFIG).run(big)
    assert result.scale == pytest.approx(0.1)
    (instance,) = result.instances
    assert np.allclose(instance.bbox, (100, 100, 240, 300), atol=6)


def test_a_finer_photo_is_read_at_the_training_size_and_shown_in_its_own_pixels():
    image = _digit_image()
    fine = np.kron(image, np.ones((10, 10), np.uint8))  # the same digits, 200 px tall
    segmenter = Segmenter(BrightIsDigit(), CONFIG)
    outputs = segmenter.outputs(fine)
    assert outputs.page.scale == pytest.approx(0.1) and outputs.probs.shape == (NUM_CLASSES, 64, 96)
    result = segmenter.read(outputs)
    expected = [tuple(10 * v for v in i.bbox) for i in segmenter.run(image).instances]
    assert [i.bbox for i in result.instances] == expected and len(expected) == 2
    seven, bright = result.labels == 7, fine > 0
    assert result.labels.shape == fine.shape
    assert (seven & bright).sum() / (seven | bright).sum() > 0.99  # all but the corners
    # Read at a size its pixels do not divide, the digits' edges still show the digit read,
    # not the best digit of the background next to them (BrightIsDigit's: a 0).
    odd = segmenter.run(fine, ReadSettings(scale=0.13))
    assert set(np.unique(odd.labels)) == {7, BACKGROUND}


def test_scale_estimate_reaches_digits_filling_a_photo():
    page = np.zeros((3000, 4000), np.uint8)
    for left in (500, 1800):  # two 1,200 px tall "0"s with 120 px strokes
        page[900:2100, left : left + 840] = 255
        page[1020:1980, left + 120 : left + 720] = 0
    assert _scale(page, 20.0) == pytest.approx(1 / 60)


def test_scale_of_a_bold_digit_cropped_tight_is_its_height():
    tight = np.zeros((180, 140), np.uint8)
    tight[10:170, 10:130] = 255  # a 160 px tall "0" with 20 px strokes
    tight[30:150, 30:110] = 0
    assert _scale(tight, 20.0) == pytest.approx(0.125)


def test_scale_is_estimated_under_uneven_light_on_grainy_paper():
    """Paper lit from one side, its grain as strong as faint ink's contrast is weak: a
    threshold on the raw grey levels takes half the paper for ink."""
    rng = np.random.default_rng(0)
    gray = np.linspace(140, 235, 256)[None, :].repeat(64, 0) + rng.normal(0, 10, (64, 256))
    for left in (60, 160):  # two 20 px tall "0"s in faint ink
        gray[22:42, left : left + 14] -= 60
        gray[25:39, left + 3 : left + 11] += 60
    light = 255 - np.clip(gray, 0, 255).astype(np.uint8)
    assert _scale(light, 20.0) == 1.0
    assert _scale(light, 30.0) == pytest.approx(1.5)


def test_zooms_average_the_digit_classes_and_the_first_zoom_finds_the_ink():
    image = _digit_image()  # 96 px wide: as is below ``wide``, doubled above it
    image[50:60, 30:44] = 100  # grey: ink only to the enlarged view
    bright, grey_inside = image == 255, (slice(52, 58), slice(32, 42))
    backend = ReadsOtherwiseEnlarged(wide=150)

    def read(zooms):
        probs, cores, _, _ = Segmenter(backend, CONFIG, settings=ReadSettings(zooms=zooms)).predict(
            image, scale=1.0
        )
        return probs.argmax(0), cores

    as_is, cores_as_is = read([1.0])
    assert (as_is[bright] == 7).all() and (as_is[~bright] == BACKGROUND).all()
    both, cores_both = read([1.0, 2.0])
    assert (both[bright] == 1).all()  # the mean, neither the first view's 7 nor the last's 2
    assert (both[grey_inside] == BACKGROUND).all() and np.array_equal(cores_both, cores_as_is)
    enlarged_only, cores_enlarged = read([2.0])
    assert (enlarged_only[grey_inside] == 2).all() and (cores_enlarged[grey_inside] > 0.5).all()


class UnsureAtTileEdges(BrightIsDigit):
    """Reads as BrightIsDigit but for pixels within ``EDGE`` px of the tile's border, which it
    takes for a 3, as a net without context beyond its input might."""

    EDGE = 4

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        logits = super().__call__(batch)
        inner = np.zeros(batch.shape[2:], bool)
        inner[self.EDGE : -self.EDGE, self.EDGE : -self.EDGE] = True
        logits[:, 3] = np.where(inner, -20.0, 20.0)
        return logits


def test_tiles_cover_large_images_exactly_with_their_edges_left_out():
    backend = UnsureAtTileEdges()
    segmenter = Segmenter(backend, CONFIG, tile_size=64, overlap=16)
    image = np.zeros((150, 230), np.uint8)
    image[::7, ::5] = 255
    probs, _, _, _ = segmenter.predict(image, scale=1.0)
    assert probs.shape == (NUM_CLASSES, 150, 230)
    labels = probs.argmax(0)
    edge = UnsureAtTileEdges.EDGE
    inside = (slice(edge, -edge), slice(edge, -edge))
    assert np.array_equal(labels[inside] == 7, image[inside] > 0)  # no tile's edge inside
    assert (labels[:edge] == 3).all() and (labels[:, -edge:] == 3).all()  # the image's edges
    tiles = sum(shape[0] for shape in backend.shapes)
    assert max(shape[2] for shape in backend.shapes) <= 64 and tiles > 4


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="multiple of 16"):
        Segmenter(BrightIsDigit(), CONFIG, tile_size=100)
    assert Segmenter(BrightIsDigit(), CONFIG, settings=ReadSettings(zooms=[1])).zooms == (1.0,)
    for zooms in ([], [1.0, 0.0]):
        with pytest.raises(ValueError, match="zooms"):
            ReadSettings(zooms=zooms)
    with pytest.raises(ValueError, match="polarity"):
        Segmenter(BrightIsDigit(), CONFIG).run(_digit_image(), ReadSettings(polarity="upside_down"))


class SaysThree(torch.nn.Module):
    """Stand-in classifier: every crop is surely a 3; keeps the crops it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(NUM_DIGITS))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        self.crops = crops
        logits = torch.full((len(crops), NUM_DIGITS), -20.0)
        logits[:, 3] = 20.0
        return logits + self.bias


def test_a_classifier_relabels_the_digits_and_reads_dark_ink_as_light():
    classifier = SaysThree()
    result = Segmenter(BrightIsDigit(), CONFIG, classifier=classifier).run(
        _digit_image(light_on_dark=False)
    )
    assert result.text == "33" and all(i.score > 0.9 for i in result.instances)
    assert set(np.unique(result.labels)) == {7, BACKGROUND}  # the class map is the segmenter's
    ink, mask = classifier.crops[0].numpy()
    assert ink.max() == pytest.approx(1.0) and ink[mask == 0].max() == 0.0
    alone = Segmenter(BrightIsDigit(), CONFIG).run(_digit_image(light_on_dark=False))
    assert alone.text == "77"


def test_a_calibration_maps_every_final_score(tmp_path):
    image = _digit_image(light_on_dark=False)
    raw = Segmenter(BrightIsDigit(), CONFIG, classifier=SaysThree()).run(image)
    shy = ScoreCalibration(slope=0.1, intercept=-2.0)
    calibrated = Segmenter(BrightIsDigit(), CONFIG, classifier=SaysThree(), calibration=shy).run(
        image
    )
    assert calibrated.text == raw.text
    expected = shy([i.score for i in raw.instances])
    np.testing.assert_allclose([i.score for i in calibrated.instances], expected, rtol=1e-6)
    assert all(i.score < 0.5 for i in calibrated.instances)


def test_a_classifier_file_brings_its_calibration(tmp_path):
    net = DigitClassifier(width=4)
    config = {"model": {"net": {"_target_": "digitseg.classifier.DigitClassifier", "width": 4}}}
    plain = save_model(tmp_path / "plain.ckpt", net, config)
    fitted = config | {"calibration": {"slope": 0.7, "intercept": 0.2}}
    calibrated = save_model(tmp_path / "calibrated.ckpt", net, fitted)
    shipped = "models/digit_segmenter.ckpt"
    assert Segmenter.from_checkpoint(shipped, classifier=plain).calibration is None
    loaded = Segmenter.from_checkpoint(shipped, classifier=calibrated).calibration
    assert loaded == ScoreCalibration(0.7, 0.2)


def test_outputs_without_ink_are_refused_by_a_segmenter_with_a_classifier():
    outputs = Segmenter(BrightIsDigit(), CONFIG).outputs(_digit_image(), ReadSettings(scale=1.0))
    with pytest.raises(ValueError, match="no ink for the classifier"):
        Segmenter(BrightIsDigit(), CONFIG, classifier=SaysThree()).read(outputs)


def test_a_missing_classifier_file_is_named(tmp_path):
    missing = tmp_path / "classifier.ckpt"
    with pytest.raises(CheckpointError, match=f"no classifier model file at {missing}"):
        Segmenter.from_checkpoint(tmp_path / "segmenter.ckpt", classifier=missing)


def test_stored_outputs_are_read_again_with_other_thresholds():
    segmenter = Segmenter(BrightIsDigit(), CONFIG)
    image = _digit_image()
    outputs = segmenter.outputs(image, ReadSettings(scale=1.0))
    digits = segmenter.read(outputs).instances
    assert [(d.label, d.bbox) for d in digits] == [(7, (10, 20, 24, 40)), (7, (50, 20, 64, 40))]
    assert [d.bbox for d in segmenter.run(image, ReadSettings(scale=1.0)).instances] == [
        d.bbox for d in digits
    ]
    never = PostprocessConfig(min_area=10**6, min_cored_area=10**6)
    assert segmenter.read(outputs, never).instances == []
    strict = ReadSettings(scale=1.0, postprocess=never)  # the settings' own thresholds
    assert segmenter.run(image, strict).instances == []
    assert Segmenter(BrightIsDigit(), CONFIG, settings=strict).read(outputs).instances == []


def _scale(light: np.ndarray, digit_height: float) -> float:
    """The scale estimate of an image given as light ink on dark."""
    return estimate_scale(ink_mask(light), digit_height)
