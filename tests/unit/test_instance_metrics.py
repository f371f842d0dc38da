"""Instance matching, text metrics and the evaluation of small label maps, by hand."""

import math

import numpy as np
import pytest

from digitseg.classes import BACKGROUND
from digitseg.inference import Segmentation
from digitseg.metrics.instance import (
    ImageInstances,
    box_iou,
    edit_distance,
    instance_confusion,
    mask_iou,
    match,
    per_digit_accuracy,
    score_image,
    summarize,
)
from digitseg.postprocess import Instance
from digitseg.reports.evaluation import Evaluation, height_bin_names
from digitseg.reports.inputs import EvalItem, instances_from_semantic, one_hot_to_classes

B = BACKGROUND


def masks(*boxes, shape=(6, 8)) -> np.ndarray:
    """Full-image bool masks filling each box (x0, y0, x1, y1)."""
    out = np.zeros((len(boxes), *shape), bool)
    for mask, (x0, y0, x1, y1) in zip(out, boxes, strict=True):
        mask[y0:y1, x0:x1] = True
    return out


def digits(labels, boxes, scores=None, with_masks=True) -> ImageInstances:
    boxes = np.array(boxes, np.int64).reshape(-1, 4)
    return ImageInstances(
        labels=np.array(labels, np.int64),
        boxes=boxes,
        masks=masks(*boxes) if with_masks else None,
        scores=None if scores is None else np.array(scores, float),
    )


# --- IoU ----------------------------------------------------------------------------------------


def test_box_iou_by_hand():
    a = [[0, 0, 2, 2], [0, 0, 4, 4]]
    b = [[1, 1, 3, 3], [2, 0, 4, 2], [0, 0, 2, 2]]
    expected = [[1 / 7, 0, 1], [4 / 16, 4 / 16, 4 / 16]]
    assert box_iou(a, b) == pytest.approx(np.array(expected))
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_mask_iou_by_hand():
    a = masks((0, 0, 2, 2))
    b = masks((1, 0, 3, 2), (4, 4, 6, 6))
    assert mask_iou(a, b) == pytest.approx(np.array([[2 / 6, 0.0]]))


def test_boxes_count_where_a_side_has_no_masks():
    truth = digits([3], [[0, 0, 4, 4]], with_masks=False)
    pred = digits([3], [[0, 0, 4, 2]])
    score = score_image(truth, pred, "3", "3")
    assert score.tp == 1  # box IoU 8/16 = 0.5 reaches the threshold


# --- matching -----------------------------------------------------------------------------------


def test_one_prediction_cannot_match_two_truths():
    # The prediction covers both truths: IoU 0.5 with each, a match for only one.
    truth = digits([1, 1], [[0, 0, 2, 4], [2, 0, 4, 4]])
    pred = digits([1], [[0, 0, 4, 4]])
    score = score_image(truth, pred, "11", "1")
    assert (score.tp, score.fp, score.fn) == (1, 0, 1)
    assert sorted(score.matched.tolist()) == [-1, 0]


def test_one_truth_goes_to_the_most_confident_prediction():
    truth = digits([5], [[0, 0, 4, 4]])
    pred = digits([5, 5], [[0, 0, 4, 4], [0, 0, 4, 3]], scores=[0.6, 0.9])
    score = score_image(truth, pred, "5", "55")
    assert score.matched.tolist() == [1]  # the lower-IoU but more confident one
    assert (score.tp, score.fp, score.fn) == (1, 1, 0)


def test_matching_is_greedy_by_score_not_optimal():
    # Prediction 0 (score 0.9) takes truth 1, its best overlap; prediction 1 then finds
    # nothing free, although the pairs (0, 0) and (1, 1) would match both.
    iou = np.array([[0.6, 0.0], [0.8, 0.9]])
    assert match(iou, np.array([0.9, 0.5])).tolist() == [1, -1]
    assert match(iou, np.array([0.4, 0.5])).tolist() == [0, 1]


def test_threshold_is_inclusive_and_allowed_pairs_restrict():
    iou = np.array([[0.5, 0.49]])
    assert match(iou).tolist() == [0, -1]
    assert match(iou, allowed=np.array([[False, True]])).tolist() == [-1, -1]


def test_label_required_versus_detection_only():
    truth = digits([3, 7], [[0, 0, 3, 4], [4, 0, 7, 4]])
    pred = digits([8, 7], [[0, 0, 3, 4], [4, 0, 7, 4]])
    score = score_image(truth, pred, "37", "87")
    assert score.matched.tolist() == [-1, 1]
    assert score.detected.tolist() == [0, 1]
    assert score.predicted_for_truth.tolist() == [8, 7]
    summary = summarize([score])
    assert summary["precision"] == summary["recall"] == summary["f1"] == pytest.approx(0.5)
    assert summary["detection_recall"] == 1.0
    assert summary["label_accuracy"] == pytest.approx(0.5)
    confusion = instance_confusion([score])
    assert confusion[3, 8] == confusion[7, 7] == 1 and confusion.sum() == 2
    accuracy = per_digit_accuracy(confusion)
    assert accuracy[3] == 0.0 and accuracy[7] == 1.0 and math.isnan(accuracy[0])


def test_empty_predictions_and_empty_images():
    truth = digits([2, 4], [[0, 0, 2, 2], [3, 3, 5, 5]])
    nothing = digits([], [])
    missed = summarize([score_image(truth, nothing, "24", "")])
    assert (missed["tp"], missed["fp"], missed["fn"]) == (0, 0, 2)
    assert math.isnan(missed["precision"])
    assert missed["recall"] == missed["f1"] == missed["detection_recall"] == 0.0
    assert math.isnan(missed["label_accuracy"])
    assert missed["exact_match"] == 0.0 and missed["cer"] == 1.0

    empty = summarize([score_image(nothing, nothing, "", "")])
    assert empty["exact_match"] == 1.0
    for key in ("precision", "recall", "f1", "detection_recall", "cer"):
        assert math.isnan(empty[key])


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis", "distance"),
    [
        ("123", "123", 0),
        ("123", "13", 1),
        ("123", "1234", 1),
        ("123", "124", 1),
        ("123", "", 3),
        ("", "12", 2),
        ("kitten", "sitting", 3),
        ("12\n3", "123", 1),
    ],
)
def test_edit_distance(reference, hypothesis, distance):
    assert edit_distance(reference, hypothesis) == distance
    assert edit_distance(hypothesis, reference) == distance


def test_cer_and_exact_match_over_images():
    one = digits([1], [[0, 0, 2, 2]])
    scores = [score_image(one, one, "123", "124"), score_image(one, one, "45", "45")]
    summary = summarize(scores)
    assert summary["cer"] == pytest.approx(1 / 5)  # edits summed over reference lengths
    assert summary["exact_match"] == 0.5


def test_from_instances_places_box_masks_on_the_image():
    mask = np.array([[True, False], [True, True]])
    instance = Instance(label=4, score=0.8, bbox=(3, 1, 5, 3), area=3, mask=mask)
    arrays = ImageInstances.from_instances([instance], (4, 6))
    assert arrays.labels.tolist() == [4] and arrays.scores.tolist() == [0.8]
    assert arrays.masks[0, 1:3, 3:5].tolist() == mask.tolist() and arrays.masks[0].sum() == 3
    empty = ImageInstances.from_instances([], (4, 6))
    assert empty.masks.shape == (0, 4, 6) and empty.boxes.shape == (0, 4)


# --- evaluation of small label maps -------------------------------------------------------------

# A 6x8 canvas: a 3 and a touching 5 (instances 1, 2), an isolated 1 (instance 3).
SEMANTIC = np.array(
    [
        [3, 3, 5, 5, B, B, B, B],
        [3, 3, 5, 5, B, B, 1, B],
        [3, 3, 5, 5, B, B, 1, B],
        [B, B, B, B, B, B, 1, B],
        [B, B, B, B, B, B, B, B],
        [B, B, B, B, B, B, B, B],
    ],
    np.uint8,
)
INSTANCES = np.zeros((6, 8), np.uint16)
INSTANCES[0:3, 0:2], INSTANCES[0:3, 2:4], INSTANCES[1:4, 6] = 1, 2, 3


def item(index: int = 0, style: str = "black") -> EvalItem:
    return EvalItem(
        index=index,
        image=np.where(SEMANTIC == B, 0, 255).astype(np.uint8),
        semantic=SEMANTIC,
        instances=INSTANCES,
        labels=np.array([3, 5, 1], np.uint8),
        boxes=np.array([[0, 0, 2, 3], [2, 0, 4, 3], [6, 1, 7, 4]], np.int32),
        style=style,
    )


def predicted(labels: np.ndarray) -> Segmentation:
    """What a segmenter would return: one instance per (class, connected part)."""
    ids, classes, boxes = instances_from_semantic(labels, min_area=1)
    instances = [
        Instance(
            int(c), 0.9, tuple(int(v) for v in box), 0, ids[box[1] : box[3], box[0] : box[2]] == i
        )
        for i, (c, box) in enumerate(zip(classes, boxes, strict=True), start=1)
    ]
    text = "".join(str(int(c)) for c in classes)
    return Segmentation(instances, text, labels, "light_on_dark", 1.0, 0.0)


def test_truth_of_an_item():
    truth = item().truth()
    assert [t.label for t in truth] == [3, 5, 1]
    assert [t.area for t in truth] == [6, 6, 3]
    assert item().truth_text() == "351"  # one line: the 1 overlaps the others by 2 of 3 rows


def test_evaluation_of_a_perfect_and_an_empty_prediction():
    evaluation = Evaluation(worst_k=1, height_bins=(3,))
    evaluation.add(item(0), predicted(SEMANTIC))
    evaluation.add(item(1, style="paper"), predicted(np.full_like(SEMANTIC, B)))
    results = evaluation.results()

    pixel = results["pixel"]
    # Digits: every true pixel of 3, 5 and 1 found on canvas 0, none on canvas 1.
    assert pixel["iou"]["3"] == pixel["iou"]["5"] == pixel["iou"]["1"] == pytest.approx(0.5)
    assert math.isnan(pixel["iou"]["0"])  # a class in neither truth nor prediction
    assert pixel["miou_digits"] == pytest.approx(0.5)
    assert pixel["iou"]["background"] == pytest.approx(66 / 81)  # 33 + 33 of 33 + 33 + 15
    assert pixel["pixel_accuracy"] == pytest.approx(81 / 96)

    instance = results["instance"]
    assert (instance["tp"], instance["fp"], instance["fn"]) == (3, 0, 3)
    assert instance["precision"] == 1.0 and instance["recall"] == 0.5
    assert instance["f1"] == pytest.approx(2 / 3)
    assert instance["exact_match"] == 0.5 and instance["cer"] == pytest.approx(3 / 6)

    by_style = results["breakdowns"]["background"]
    assert by_style["black"]["f1"] == 1.0 and by_style["black"]["miou_digits"] == 1.0
    assert by_style["paper"]["recall"] == 0.0 and by_style["paper"]["miou_digits"] == 0.0
    assert results["breakdowns"]["digits_per_canvas"]["3"]["images"] == 2
    heights = results["breakdowns"]["digit_height"]
    assert heights[">=3"]["instances"] == 6 and heights[">=3"]["recall"] == 0.5
    contact = results["breakdowns"]["contact"]
    assert contact["touching"]["instances"] == 4 and contact["apart"]["instances"] == 2
    assert results["breakdowns"]["true_digit"]["5"]["detection_recall"] == 0.5

    assert [case["index"] for case in results["worst_cases"]] == [1]
    assert results["worst_cases"][0]["instance_errors"] == 3
    assert [r["touching"] for r in evaluation.truths[:3]] == [True, True, False]


def test_evaluation_of_a_wrong_label():
    wrong = SEMANTIC.copy()
    wrong[wrong == 5] = 6
    evaluation = Evaluation()
    evaluation.add(item(), predicted(wrong))
    results = evaluation.results()
    assert results["instance"]["confusion_matrix"][5][6] == 1
    assert results["instance"]["label_accuracy_per_digit"]["5"] == 0.0
    assert results["pixel"]["iou"]["5"] == results["pixel"]["iou"]["6"] == 0.0
    assert evaluation.canvases[0]["prediction"] == "361"
    assert evaluation.truths[1]["predicted"] == 6 and not evaluation.truths[1]["matched"]


def test_height_bin_names():
    assert height_bin_names([16, 20, 24]) == ["<16", "16-19", "20-23", ">=24"]


# --- M2NIST truth ---------------------------------------------------------------------------------


def test_m2nist_instances_are_parts_of_each_class():
    onehot = np.eye(11, dtype=np.uint8)[SEMANTIC]
    semantic = one_hot_to_classes(onehot)
    assert np.array_equal(semantic, SEMANTIC)
    ids, labels, boxes = instances_from_semantic(semantic, min_area=1)
    assert labels.tolist() == [3, 5, 1]  # left to right
    assert boxes.tolist() == [[0, 0, 2, 3], [2, 0, 4, 3], [6, 1, 7, 4]]
    assert np.array_equal(ids, INSTANCES)
    # Parts under min_area pixels are no instance.
    assert instances_from_semantic(semantic, min_area=4)[1].tolist() == [3, 5]
    # A pixel with no channel set is background.
    assert one_hot_to_classes(np.zeros((1, 1, 11)))[0, 0] == B
