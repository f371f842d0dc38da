"""Readings of real scans scored against their boxes, and calibration of scores."""

import math

import numpy as np
import pytest

from digitseg.data.coco_scans import open_coco_scans
from digitseg.evaluation.scans import ScanEvaluation, true_text
from digitseg.inference import Segmentation
from digitseg.metrics.calibration import (
    ScoreCalibration,
    calibration_summary,
    expected_calibration_error,
)
from digitseg.postprocess import Instance, read_text
from tests.helpers.scans import write_coco_set


def _reading(digits) -> Segmentation:
    """A reading of (label, score, box) digits, as the Segmenter returns one."""
    found = [
        Instance(label, score, box, 1, np.ones((box[3] - box[1], box[2] - box[0]), bool))
        for label, score, box in digits
    ]
    return Segmentation(found, read_text(found), np.zeros((50, 100), np.uint8), "auto", 1.0)


def test_a_wrong_and_a_missing_digit_give_exact_counts(tmp_path):
    first, second = open_coco_scans(write_coco_set(tmp_path)).scans()
    evaluation = ScanEvaluation()
    # first.png "173": all found, the 7 read as a 1 (a box shifted by 2 px still matches)
    evaluation.add(
        first,
        _reading(
            [(1, 0.9, (10, 10, 22, 40)), (1, 0.6, (32, 10, 52, 40)), (3, 0.8, (70, 10, 90, 40))]
        ),
    )
    # second.png "40": the 0 missed
    evaluation.add(second, _reading([(4, 0.95, (10, 12, 30, 42))]))
    results = evaluation.results()
    headline = results["instances"]
    assert (headline["tp"], headline["fp"], headline["fn"]) == (3, 1, 2)
    assert headline["precision"] == pytest.approx(3 / 4)
    assert headline["recall"] == pytest.approx(3 / 5)
    assert headline["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert headline["label_accuracy"] == pytest.approx(3 / 4)  # of the 4 detected digits
    assert headline["exact_match"] == 0.0
    assert headline["cer"] == pytest.approx(2 / 5)  # one substitution, one deletion
    assert results["by_true_digit"]["7"]["detection_recall"] == 1.0
    assert results["by_true_digit"]["7"]["label_accuracy"] == 0.0
    assert results["by_true_digit"]["0"]["recall"] == 0.0
    assert set(results["by_digits_per_image"]) == {"2", "3"}
    assert [c.scan.file_name for c in evaluation.worst_cases()] == ["first.png", "second.png"]
    assert results["calibration"]["wrong_scores"]["count"] == 1
    assert results["calibration"]["wrong_scores"]["mean"] == pytest.approx(0.6)


def test_boxes_below_the_iou_threshold_do_not_match(tmp_path):
    _, second = open_coco_scans(write_coco_set(tmp_path)).scans()
    evaluation = ScanEvaluation(iou_threshold=0.5)
    score = evaluation.add(
        second, _reading([(4, 0.9, (10, 12, 30, 42)), (0, 0.9, (44, 12, 64, 42))])
    )
    assert (score.tp, score.fp, score.fn) == (1, 1, 1)


def test_true_text_follows_the_reading_order_of_boxes(tmp_path):
    first, _ = open_coco_scans(write_coco_set(tmp_path)).scans()
    assert true_text(first) == "173"


def test_ece_is_zero_when_scores_match_accuracy_and_large_when_overconfident():
    scores = np.array([0.75] * 4)
    assert expected_calibration_error(scores, np.array([1, 1, 1, 0], bool)) == pytest.approx(0)
    assert expected_calibration_error(np.ones(4), np.array([1, 0, 0, 0], bool)) == 0.75
    assert math.isnan(expected_calibration_error(np.array([]), np.array([], bool)))
    summary = calibration_summary(np.array([0.95, 0.9, 0.2]), np.array([1, 1, 0], bool))
    assert summary["right_scores"]["count"] == 2 and summary["wrong_scores"]["median"] == 0.2
    assert sum(b["count"] for b in summary["bins"]) == 3


def test_platt_scaling_makes_overconfident_scores_calibrated():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 1.0, 4000)
    correct = rng.random(4000) < scores - 0.3  # right less often than the scores say
    fit = ScoreCalibration.fit(scores, correct)
    assert expected_calibration_error(scores, correct) > 0.25
    assert expected_calibration_error(fit(scores), correct) < 0.05
    assert np.all(np.diff(fit(np.sort(scores))) >= 0)  # the order of scores is kept
