"""The digit classifier: its input crops, its training crops and how its opinion joins the
segmenter's."""

import numpy as np
import pytest
import torch

from digitseg.classes import BACKGROUND, NOT_A_DIGIT, NUM_CLASSES, NUM_DIGITS
from digitseg.classifier import (
    CROP_SIDE,
    DigitClassifier,
    classifier_crops,
    classifier_input,
    classifier_probabilities,
    combine_labels,
)
from digitseg.classifier.data import found_labels, render_crops
from digitseg.classifier.train import init_classifier
from digitseg.data.spec import spec_from_config
from digitseg.data.synth import CanvasGenerator
from digitseg.data.transforms import match_channels
from digitseg.models.checkpoint import CheckpointError, save_model
from digitseg.postprocess import Instance
from digitseg.utils.ink import light_ink
from tests.helpers.digits import tiny_splits


def _digit_image(paper: int, ink: int) -> tuple[np.ndarray, tuple, np.ndarray]:
    """A 40x60 image of ``paper`` grey with a 10x20 ``ink`` ring, its box and mask."""
    image = np.full((40, 60), paper, np.uint8)
    mask = np.zeros((20, 10), bool)
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = True, True, True, True
    image[10:30, 25:35][mask] = ink
    return image, (25, 10, 35, 30), mask


def test_light_ink_inverts_dark_ink_only():
    gray = np.array([[0, 200]], np.uint8)
    assert light_ink(gray, "dark_on_light").tolist() == [[255, 55]]
    assert light_ink(gray, "light_on_dark").tolist() == [[0, 200]]


def test_classifier_input_is_the_same_whatever_the_paper_and_ink_contrast():
    crops = [classifier_input(*_digit_image(paper, ink)) for paper, ink in ((0, 255), (60, 150))]
    assert crops[0].shape == (2, CROP_SIDE, CROP_SIDE) and crops[0].dtype == np.float32
    np.testing.assert_allclose(crops[0], crops[1], atol=1e-6)
    ink, mask = crops[0]
    assert ink.min() == 0.0 and ink.max() == pytest.approx(1.0)
    # The box's longer side (20 px) plus 15 % on each side fills the crop: 26 px -> 32.
    rows = np.nonzero(mask.max(axis=1) > 0)[0]
    assert rows[0] == pytest.approx(3, abs=1) and rows[-1] == pytest.approx(28, abs=1)
    # The mask marks the ring, not its hollow centre.
    assert mask[16, 16] == 0 and mask[rows[0] + 1, 16] > 0.5


def test_classifier_input_pads_a_digit_at_the_image_edge_with_dark():
    image, _, mask = _digit_image(0, 255)
    crop = classifier_input(image[10:30, 25:35].copy(), (0, 0, 10, 20), mask)
    assert crop.shape == (2, CROP_SIDE, CROP_SIDE)
    assert crop[0, :3].max() == 0.0 and crop[0, :, :8].max() == 0.0  # beyond the image
    assert crop[0].max() == pytest.approx(1.0)


def test_net_maps_crops_to_ten_digit_logits():
    net = DigitClassifier(width=4).eval()
    assert net(torch.zeros(3, 2, CROP_SIDE, CROP_SIDE)).shape == (3, NUM_DIGITS)


def _instance(label: int, box=(0, 0, 4, 4)) -> Instance:
    x0, y0, x1, y1 = box
    mask = np.ones((y1 - y0, x1 - x0), bool)
    return Instance(label, 0.5, box, int(mask.sum()), mask)


def _segmenter_probs(first: dict[int, float], second: dict[int, float]) -> np.ndarray:
    """(11, 4, 8) probabilities: the left 4x4 square reads ``first``, the right ``second``."""
    probs = np.zeros((NUM_CLASSES, 4, 8), np.float32)
    for label, p in first.items():
        probs[label, :, :4] = p
    for label, p in second.items():
        probs[label, :, 4:] = p
    return probs


def test_combined_label_is_the_one_both_opinions_agree_on_best():
    probs = _segmenter_probs({7: 0.5, 1: 0.4, BACKGROUND: 0.1}, {3: 0.9, 8: 0.1})
    instances = [_instance(7), _instance(3, (4, 0, 8, 4))]
    theirs = np.zeros((2, NUM_DIGITS), np.float32)
    theirs[0, [1, 7]] = 0.8, 0.2  # the classifier is sure of a 1 where the segmenter hesitates
    theirs[1, [3, 8]] = 0.4, 0.6  # and hesitates where the segmenter is sure of a 3
    combined = combine_labels(instances, probs, theirs)
    assert [i.label for i in combined] == [1, 3]
    assert combined[0].score == pytest.approx(0.32 / (0.32 + 0.10), abs=1e-4)
    assert combined[1].score == pytest.approx(0.36 / (0.36 + 0.06), abs=1e-4)
    assert [i.bbox for i in combined] == [i.bbox for i in instances]
    assert combined[1].mask is instances[1].mask


def test_a_mark_the_classifier_finds_more_likely_than_a_digit_is_left_out():
    probs = _segmenter_probs({1: 0.9, BACKGROUND: 0.1}, {3: 0.9, 8: 0.1})
    instances = [_instance(1), _instance(3, (4, 0, 8, 4))]
    theirs = np.zeros((2, NUM_DIGITS + 1), np.float32)
    theirs[0, [1, NOT_A_DIGIT]] = 0.3, 0.7  # a comma the segmenter read as a 1
    theirs[1, [3, NOT_A_DIGIT]] = 0.8, 0.2  # a 3, a little doubted
    (kept,) = combine_labels(instances, probs, theirs)
    assert kept.label == 3 and kept.bbox == (4, 0, 8, 4)
    assert kept.score == pytest.approx(0.8, abs=1e-4)  # sure of the 3, times 0.8 a digit


def test_net_takes_ten_or_eleven_classes():
    net = DigitClassifier(width=4, classes=NUM_DIGITS + 1).eval()
    assert net(torch.zeros(2, 2, CROP_SIDE, CROP_SIDE)).shape == (2, NUM_DIGITS + 1)
    with pytest.raises(ValueError, match="10 or 11"):
        DigitClassifier(classes=12)


def test_an_eleven_class_net_starts_from_a_ten_class_file(tmp_path):
    ten = DigitClassifier(width=4).eval()
    path = save_model(tmp_path / "ten.ckpt", ten, {"model": {"net": TEN_CLASSES}})
    eleven = DigitClassifier(width=4, classes=NUM_DIGITS + 1).eval()
    new_row = eleven.head[-1].weight[NOT_A_DIGIT].detach().clone()
    init_classifier(eleven, path)
    crops = torch.rand(3, 2, CROP_SIDE, CROP_SIDE)
    with torch.no_grad():
        torch.testing.assert_close(eleven(crops)[:, :NUM_DIGITS], ten(crops))
    torch.testing.assert_close(eleven.head[-1].weight[NOT_A_DIGIT], new_row)
    with pytest.raises(CheckpointError, match="11 classes"):
        init_classifier(DigitClassifier(width=4), save_model(tmp_path / "e.ckpt", eleven, ELEVEN))


TEN_CLASSES = {"_target_": "digitseg.classifier.DigitClassifier", "width": 4}
ELEVEN = {"model": {"net": TEN_CLASSES | {"classes": NUM_DIGITS + 1}}}


def test_classifier_probabilities_sum_to_one_per_instance():
    ink = np.zeros((4, 8), np.uint8)
    ink[:, :4] = 255
    net = DigitClassifier(width=4).eval()
    crops = classifier_crops(ink, [_instance(7), _instance(3, (4, 0, 8, 4))])
    probs = classifier_probabilities(net, crops)
    assert probs.shape == (2, NUM_DIGITS)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier_probabilities(net, classifier_crops(ink, [])).shape == (0, NUM_DIGITS)


SPEC = {"height": 48, "width": 96, "min_digits": 2, "max_digits": 4, "layout": "line"}


def test_render_crops_cuts_every_visible_digit_and_repeats_itself():
    generator = CanvasGenerator(spec_from_config(SPEC), tiny_splits(), seed=3)
    crops, digits = render_crops(generator, "train", range(5, 12))
    truth = generator.render("train", list(range(5, 12)))
    visible = [
        label
        for k in range(len(truth))
        for number, label in enumerate(truth.labels[k], start=1)
        if (truth.instances[k] == number).sum() >= 16
    ]
    assert crops.shape == (len(digits), 2, CROP_SIDE, CROP_SIDE) and crops.dtype == np.uint8
    assert digits.tolist() == visible
    assert all(crop[1].max() > 128 and crop[0].max() > 200 for crop in crops)
    again, _ = render_crops(generator, "train", range(5, 12))
    np.testing.assert_array_equal(crops, again)
    shifted, _ = render_crops(generator, "train", range(6, 12))
    np.testing.assert_array_equal(shifted, crops[len(crops) - len(shifted) :])


def test_found_labels_keep_a_digit_s_only_reading_and_drop_its_stray_pieces():
    # Two touching 9s, 10x10 px each; the first is found whole, the second only as a mask
    # with 40 of its pixels and 10 of its neighbour's (IoU 40/110, below the match).
    truth = np.zeros((2, 12, 24), bool)
    truth[0, 1:11, 1:11], truth[1, 1:11, 11:21] = True, True
    whole_first = truth[0].copy()
    short_second = np.zeros_like(whole_first)
    short_second[1:5, 11:21] = True
    short_second[1:2, 1:11] = True
    other_piece_of_second = np.zeros_like(whole_first)
    other_piece_of_second[9:11, 11:21] = True  # 20 px: smaller than the reading above
    piece_of_first = np.zeros_like(whole_first)
    piece_of_first[8:11, 1:4] = True  # the first 9 is found whole too
    comma = np.zeros_like(whole_first)
    comma[9:12, 22:24] = True  # outside both digits
    found = np.stack([piece_of_first, whole_first, comma, short_second, other_piece_of_second])

    labels = found_labels(truth, found, [9, 9])

    assert labels == [NOT_A_DIGIT, 9, NOT_A_DIGIT, 9, NOT_A_DIGIT]
    # A mask with most of its pixels outside every digit reads no digit, even the only one.
    astride = np.zeros((1, 12, 24), bool)
    astride[0, :, 18:24] = True  # 30 px of the second 9, 42 outside it
    assert found_labels(truth[1:], astride, [9]) == [NOT_A_DIGIT]
    assert found_labels(truth, np.zeros((0, 12, 24), bool), [9, 9]) == []


class FindsTheTruth:
    """A segmenter stand-in for known canvases. It finds each true digit with three stray
    background pixels (mask IoU above 0.5), a third of the first digit (IoU 1/3) and the
    background, and reads every one as a 7."""

    def __init__(self, canvases) -> None:
        self.ids = {match_channels(c.image, 1).tobytes(): c.instances for c in canvases}

    def segment(self, image: np.ndarray) -> list[Instance]:
        ids = self.ids[image.tobytes()]
        stray = np.zeros(ids.shape, bool)
        stray.flat[np.flatnonzero(ids == 0)[:3]] = True
        digits = [(ids == number) | stray for number in range(1, ids.max() + 1)]
        third = np.zeros(ids.shape, bool)
        first = np.flatnonzero(ids == 1)
        third.flat[first[: len(first) // 3]] = True
        return [_as_instance(mask) for mask in [*digits, third, ids == 0]]


def _as_instance(mask: np.ndarray) -> Instance:
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return Instance(7, 1.0, (x0, y0, x1, y1), int(mask.sum()), mask[y0:y1, x0:x1])


def test_render_crops_adds_the_digits_a_segmenter_finds_with_their_true_labels():
    generator = CanvasGenerator(spec_from_config(SPEC), tiny_splits(), seed=3)
    indices = range(5, 9)
    truth = generator.render("train", list(indices))
    segmenter = FindsTheTruth(truth[k] for k in range(len(truth)))
    crops, digits = render_crops(generator, "train", indices, segmenter=segmenter)
    alone_crops, alone_digits = render_crops(generator, "train", indices)
    # Per canvas: its true digits' crops as without a segmenter, then one crop per digit
    # found at mask IoU >= 0.5, labelled with the true digit it matches (not the segmenter's
    # 7); the third of a digit and the background match none.
    from_truth, expected_digits, start = [], [], 0
    for k, labels in enumerate(truth.labels):
        visible = sum((truth.instances[k] == n).sum() >= 16 for n in range(1, len(labels) + 1))
        from_truth += range(len(expected_digits), len(expected_digits) + visible)
        expected_digits += alone_digits[start : start + visible].tolist() + list(labels)
        start += visible
    assert digits.tolist() == expected_digits and set(expected_digits) != {7}
    np.testing.assert_array_equal(crops[from_truth], alone_crops)


def test_render_crops_labels_what_matches_no_digit_as_not_a_digit():
    generator = CanvasGenerator(spec_from_config(SPEC), tiny_splits(), seed=3)
    indices = range(5, 7)
    truth = generator.render("train", list(indices))
    segmenter = FindsTheTruth(truth[k] for k in range(len(truth)))
    _, with_marks = render_crops(generator, "train", indices, segmenter=segmenter, not_digits=True)
    _, digits_only = render_crops(generator, "train", indices, segmenter=segmenter)
    # Per canvas, the third of the first digit and the background match no true digit.
    assert (with_marks == NOT_A_DIGIT).sum() == 2 * len(indices)
    assert with_marks[with_marks != NOT_A_DIGIT].tolist() == digits_only.tolist()
