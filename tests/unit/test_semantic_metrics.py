"""Tests for the confusion-matrix based segmentation metrics, against hand-computed values."""

import math

import pytest
import torch
import torch.nn.functional as F

from digitseg.classes import BACKGROUND, CLASS_NAMES, NUM_CLASSES
from digitseg.metrics.semantic import SegmentationMetrics, to_log_dict

B = BACKGROUND

# truth          prediction
# 3 3 3          3 3 B
# B 5 B          5 5 B
TRUTH = torch.tensor([[[3, 3, 3], [B, 5, B]]])
PRED = torch.tensor([[[3, 3, B], [5, 5, B]]])


def _expected_confmat() -> torch.Tensor:
    cm = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long)
    cm[3, 3], cm[3, B], cm[5, 5], cm[B, 5], cm[B, B] = 2, 1, 1, 1, 1
    return cm


def test_hand_computed_values():
    metric = SegmentationMetrics()
    metric.update(PRED, TRUTH)
    result = metric.compute()
    assert torch.equal(result["confusion_matrix"], _expected_confmat())
    # class 3: tp 2, fp 0, fn 1; class 5: tp 1, fp 1, fn 0; background: tp 1, fp 1, fn 1
    iou, dice = result["iou_per_class"], result["dice_per_class"]
    assert iou[3].item() == pytest.approx(2 / 3)
    assert iou[5].item() == pytest.approx(1 / 2)
    assert iou[B].item() == pytest.approx(1 / 3)
    assert dice[3].item() == pytest.approx(4 / 5)
    assert dice[5].item() == pytest.approx(2 / 3)
    assert dice[B].item() == pytest.approx(1 / 2)
    absent = [c for c in range(NUM_CLASSES) if c not in (3, 5, B)]
    assert torch.isnan(iou[absent]).all() and torch.isnan(dice[absent]).all()
    assert result["miou_digits"].item() == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert result["miou"].item() == pytest.approx((2 / 3 + 1 / 2 + 1 / 3) / 3)
    assert result["pixel_accuracy"].item() == pytest.approx(4 / 6)


def test_logits_equal_class_ids():
    logits = F.one_hot(PRED, NUM_CLASSES).permute(0, 3, 1, 2).float()
    from_logits, from_ids = SegmentationMetrics(), SegmentationMetrics()
    from_logits.update(logits, TRUTH)
    from_ids.update(PRED, TRUTH)
    assert torch.equal(from_logits.compute()["confusion_matrix"], _expected_confmat())
    assert torch.equal(from_ids.compute()["confusion_matrix"], _expected_confmat())


def test_class_only_predicted_has_zero_iou_not_nan():
    metric = SegmentationMetrics()
    metric.update(torch.tensor([[[1, B], [B, B]]]), torch.tensor([[[B, B], [B, B]]]))
    result = metric.compute()
    assert result["iou_per_class"][1].item() == 0.0
    assert result["miou_digits"].item() == 0.0  # only digit seen is 1, with IoU 0
    assert result["iou_per_class"][B].item() == pytest.approx(3 / 4)


def test_empty_prediction():
    metric = SegmentationMetrics()
    metric.update(torch.full_like(TRUTH, B), TRUTH)
    result = metric.compute()
    iou = result["iou_per_class"]
    assert iou[3].item() == 0.0 and iou[5].item() == 0.0
    assert iou[B].item() == pytest.approx(2 / 6)
    assert result["miou_digits"].item() == 0.0
    assert result["miou"].item() == pytest.approx(2 / 18)
    assert result["pixel_accuracy"].item() == pytest.approx(2 / 6)


def test_two_updates_equal_one_concatenated_update():
    gen = torch.Generator().manual_seed(0)
    preds = torch.randint(0, NUM_CLASSES, (4, 9, 11), generator=gen)
    target = torch.randint(0, NUM_CLASSES, (4, 9, 11), generator=gen)
    split, whole = SegmentationMetrics(), SegmentationMetrics()
    split.update(preds[:1], target[:1])
    split.update(preds[1:], target[1:])
    whole.update(preds, target)
    a, b = split.compute(), whole.compute()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], equal_nan=True)
    assert a["confusion_matrix"].sum() == preds.numel()


def test_merged_states_match_single_process():
    gen = torch.Generator().manual_seed(1)
    preds = torch.randint(0, NUM_CLASSES, (2, 5, 5), generator=gen)
    target = torch.randint(0, NUM_CLASSES, (2, 5, 5), generator=gen)
    rank0, rank1, whole = SegmentationMetrics(), SegmentationMetrics(), SegmentationMetrics()
    rank0.update(preds[:1], target[:1])
    rank1.update(preds[1:], target[1:])
    rank0.merge_state(rank1)
    whole.update(preds, target)
    assert torch.equal(rank0.compute()["confusion_matrix"], whole.compute()["confusion_matrix"])


def test_reset_and_ignore_index():
    metric = SegmentationMetrics(ignore_index=255)
    target = TRUTH.clone()
    target[0, 0, 2] = 255  # the 3 predicted as background is ignored
    metric.update(PRED, target)
    cm = metric.compute()["confusion_matrix"]
    expected = _expected_confmat()
    expected[3, B] = 0
    assert torch.equal(cm, expected)
    metric.reset()
    assert metric.confmat.sum() == 0


def test_bad_inputs_raise():
    metric = SegmentationMetrics()
    with pytest.raises(ValueError, match="do not match"):
        metric.update(PRED[..., :2], TRUTH)
    with pytest.raises(ValueError, match="channels"):
        metric.update(torch.randn(1, NUM_CLASSES + 1, 2, 3), TRUTH)
    with pytest.raises(ValueError, match="target"):
        metric.update(PRED, torch.full_like(TRUTH, NUM_CLASSES))


def test_to_log_dict():
    metric = SegmentationMetrics()
    metric.update(PRED, TRUTH)
    logs = to_log_dict(metric.compute(), "val")
    assert logs["val/miou_digits"] == pytest.approx(7 / 12)
    assert logs["val/miou"] == pytest.approx(0.5)
    assert logs["val/pixel_accuracy"] == pytest.approx(2 / 3)
    assert logs["val/iou/3"] == pytest.approx(2 / 3)
    assert logs["val/dice/background"] == pytest.approx(1 / 2)
    assert math.isnan(logs["val/iou/0"])
    assert len(logs) == 3 + 2 * len(CLASS_NAMES)
    assert all(type(v) is float for v in logs.values())
