"""COCO AP and AR (digitseg.metrics.coco) on a hand-made set of two images."""

import math

import numpy as np
import pytest

from digitseg.metrics.coco import CocoEvaluation, to_log_dict
from digitseg.metrics.instance import ImageInstances

SHAPE = (20, 30)
# Image 1: a 1 and a 7; image 2: a 1 and a 3 (boxes x0, y0, x1, y1, exclusive ends).
TRUTH = {
    1: [(1, (2, 2, 8, 12)), (7, (12, 3, 18, 15))],
    2: [(1, (4, 5, 9, 16)), (3, (20, 2, 27, 14))],
}


def instances(digits, scores=None) -> ImageInstances:
    masks = np.zeros((len(digits), *SHAPE), bool)
    for mask, (_, (x0, y0, x1, y1)) in zip(masks, digits, strict=True):
        mask[y0:y1, x0:x1] = True
    return ImageInstances(
        labels=np.array([label for label, _ in digits], np.int64),
        boxes=np.array([box for _, box in digits], np.int64).reshape(-1, 4),
        masks=masks,
        scores=None if scores is None else np.asarray(scores, np.float64),
    )


def evaluate(predicted: dict) -> dict:
    coco = CocoEvaluation()
    for image_id, digits in TRUTH.items():
        found = predicted[image_id]
        coco.add(image_id, instances(digits), instances(found, [0.9] * len(found)))
    return coco.results()


def test_perfect_predictions_score_one():
    results = evaluate(TRUTH)
    for iou_type in ("segm", "bbox"):
        assert results[iou_type] == pytest.approx({"AP": 1, "AP50": 1, "AP75": 1, "AR100": 1})


def test_a_missed_digit_lowers_its_class_only():
    # The 1 of image 2 is missed: digit 1 has recall 1/2 at precision 1, so its AP is the
    # share of COCO's 101 recall points up to 0.5 (51 of them); digits 3 and 7 stay at 1.
    results = evaluate({1: TRUTH[1], 2: TRUTH[2][1:]})
    for iou_type in ("segm", "bbox"):
        assert results[iou_type]["AP"] == pytest.approx((2 + 51 / 101) / 3)
        assert results[iou_type]["AP50"] == pytest.approx((2 + 51 / 101) / 3)
        assert results[iou_type]["AR100"] == pytest.approx((2 + 0.5) / 3)


def test_a_false_positive_ranked_first_costs_precision():
    # A confident 7 where nothing is, before the true 7: at recall 1 precision is 1/2.
    extra = (7, (0, 16, 6, 20))
    coco = CocoEvaluation()
    coco.add(1, instances(TRUTH[1]), instances([*TRUTH[1], extra], [0.5, 0.5, 0.9]))
    segm = coco.results()["segm"]
    assert segm["AP"] == pytest.approx((1 + 0.5) / 2)  # digit 1: 1, digit 7: 1/2
    assert segm["AR100"] == pytest.approx(1.0)


def test_no_predictions_score_zero_and_no_truth_is_nan():
    results = evaluate({1: [], 2: []})
    assert results["segm"]["AP"] == 0.0 and results["bbox"]["AR100"] == 0.0
    empty = CocoEvaluation()
    empty.add(1, instances([]), instances([], []))
    assert all(math.isnan(v) for v in empty.results()["bbox"].values())


def test_masks_are_measured_not_boxes():
    # The predicted 1 fills the true box but covers only a third of the true mask's pixels.
    truth = instances([TRUTH[1][0]])
    thin = truth.masks.copy()
    thin[0, :, 4:] = False
    pred = ImageInstances(truth.labels, truth.boxes, thin, np.array([0.9]))
    coco = CocoEvaluation()
    coco.add(1, truth, pred)
    results = coco.results()
    assert results["bbox"]["AP"] == pytest.approx(1.0)
    assert results["segm"]["AP"] == 0.0


def test_predictions_without_scores_are_refused():
    with pytest.raises(ValueError, match="scores"):
        CocoEvaluation().add(1, instances(TRUTH[1]), instances(TRUTH[1]))


def test_log_names():
    logs = to_log_dict({"segm": {"AP": 0.5}, "bbox": {"AR100": 0.25}}, "test")
    assert logs == {"test/coco_segm_ap": 0.5, "test/coco_bbox_ar100": 0.25}
