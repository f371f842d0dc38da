"""Tests for the weighted CE + Dice segmentation loss."""

import pytest
import torch
import torch.nn.functional as F

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.models.losses import SegmentationLoss


def _target() -> torch.Tensor:
    target = torch.full((2, 6, 8), BACKGROUND)
    target[0, 1:4, 2:5] = 3
    target[1, 2:5, 0:3] = 7
    target[1, 0, 7] = 0
    return target


def _perfect_logits(target: torch.Tensor) -> torch.Tensor:
    return 30.0 * F.one_hot(target, NUM_CLASSES).permute(0, 3, 1, 2).float()


def test_perfect_logits_give_near_zero_loss():
    target = _target()
    parts = SegmentationLoss().components(_perfect_logits(target), target)
    assert set(parts) == {"ce", "dice", "loss"}
    assert parts["ce"] < 1e-6
    assert parts["dice"] < 1e-3
    torch.testing.assert_close(parts["loss"], parts["ce"] + parts["dice"])


def test_wrong_logits_give_larger_loss():
    target = _target()
    loss = SegmentationLoss()
    wrong = _perfect_logits(torch.full_like(target, 5))
    assert loss(wrong, target) > 10 * loss(_perfect_logits(target), target) + 1


def test_weights_scale_and_switch_terms():
    torch.manual_seed(0)
    logits, target = torch.randn(2, NUM_CLASSES, 6, 8), _target()
    both = SegmentationLoss().components(logits, target)
    ce_only = SegmentationLoss(dice_weight=0).components(logits, target)
    dice_only = SegmentationLoss(ce_weight=0).components(logits, target)
    assert set(ce_only) == {"ce", "loss"} and set(dice_only) == {"dice", "loss"}
    torch.testing.assert_close(ce_only["loss"], both["ce"])
    torch.testing.assert_close(dice_only["loss"], both["dice"])
    weighted = SegmentationLoss(ce_weight=2.0, dice_weight=0.5)(logits, target)
    torch.testing.assert_close(weighted, 2.0 * both["ce"] + 0.5 * both["dice"])


def test_class_weights_and_ignore_index():
    torch.manual_seed(0)
    logits, target = torch.randn(2, NUM_CLASSES, 6, 8), _target()
    weights = [1.0] * NUM_CLASSES
    weights[BACKGROUND] = 0.0
    ce = SegmentationLoss(dice_weight=0, class_weights=weights)(logits, target)
    digit = target != BACKGROUND
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[digit], target[digit])
    torch.testing.assert_close(ce, expected)
    ignored = SegmentationLoss(dice_weight=0, ignore_index=BACKGROUND)(logits, target)
    torch.testing.assert_close(ignored, expected)


def test_contact_pixels_weigh_contact_weight_more_in_the_cross_entropy():
    torch.manual_seed(0)
    logits, target = torch.randn(2, NUM_CLASSES, 6, 8), _target()
    contacts = torch.zeros_like(target, dtype=torch.bool)
    contacts[0, 1:4, 4] = True
    per_pixel = F.cross_entropy(logits, target, reduction="none")
    weight = 1 + 3.0 * contacts.float()
    expected = (weight * per_pixel).sum() / weight.sum()
    loss = SegmentationLoss(dice_weight=0, contact_weight=3.0)
    torch.testing.assert_close(loss(logits, target, contacts), expected)
    # Without contacts in the image, or with contact_weight 0, it is the plain loss.
    plain = SegmentationLoss(dice_weight=0)(logits, target)
    torch.testing.assert_close(loss(logits, target, torch.zeros_like(contacts)), plain)
    torch.testing.assert_close(SegmentationLoss(dice_weight=0)(logits, target, contacts), plain)


def test_contact_weight_combines_with_class_weights_and_ignore_index():
    torch.manual_seed(0)
    logits, target = torch.randn(2, NUM_CLASSES, 6, 8), _target()
    contacts = target != BACKGROUND
    weights = [2.0] * NUM_CLASSES
    weights[BACKGROUND] = 0.0
    weighted = SegmentationLoss(dice_weight=0, class_weights=weights, contact_weight=1.0)
    ignoring = SegmentationLoss(dice_weight=0, ignore_index=BACKGROUND, contact_weight=1.0)
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[contacts], target[contacts])
    torch.testing.assert_close(weighted(logits, target, contacts), expected)
    torch.testing.assert_close(ignoring(logits, target, contacts), expected)


def test_contact_weight_needs_contacts_and_must_not_be_negative():
    logits, target = torch.randn(2, NUM_CLASSES, 6, 8), _target()
    with pytest.raises(ValueError, match="no 'contacts' map"):
        SegmentationLoss(contact_weight=1.0)(logits, target)
    with pytest.raises(ValueError, match="contact_weight must be a non-negative"):
        SegmentationLoss(contact_weight=-1.0)


def test_gradient_flows():
    logits = torch.randn(2, NUM_CLASSES, 6, 8, requires_grad=True)
    SegmentationLoss()(logits, _target()).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ce_weight": -1.0}, "ce_weight"),
        ({"dice_weight": float("nan")}, "dice_weight"),
        ({"ce_weight": 0, "dice_weight": 0}, "ce_weight and dice_weight"),
        ({"class_weights": [1.0, -2.0]}, "class_weights"),
        ({"class_weights": []}, "class_weights"),
    ],
)
def test_bad_weights_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SegmentationLoss(**kwargs)
