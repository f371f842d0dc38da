"""Losses: weighted cross-entropy + Dice for the classes, BCE + Dice for the digit cores."""

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn


class SegmentationLoss(nn.Module):
    """``ce_weight * CrossEntropy + dice_weight * Dice``; a term with weight 0 is skipped.

    ``class_weights`` weight the cross-entropy term only, and so does ``contact_weight``: a
    pixel where two digits meet (the batch's ``contacts``) counts ``1 + contact_weight``
    times, so that the few visible pixels of a digit mostly hidden by its neighbour weigh
    more. Pixels whose target is ``ignore_index`` count in neither term. Both terms are
    computed in float32.
    """

    def __init__(
        self,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        class_weights: list[float] | None = None,
        ignore_index: int | None = None,
        contact_weight: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("ce_weight", ce_weight),
            ("dice_weight", dice_weight),
            ("contact_weight", contact_weight),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value}")
        if ce_weight == 0 and dice_weight == 0:
            raise ValueError("ce_weight and dice_weight are both 0: enable at least one loss")
        if class_weights is not None and (
            len(class_weights) == 0 or not all(w >= 0 for w in class_weights)
        ):
            raise ValueError(f"class_weights must be non-negative numbers, got {class_weights}")
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.ignore_index = ignore_index
        self.contact_weight = float(contact_weight)
        self.register_buffer(
            "class_weights",
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32),
        )
        self.dice = (
            smp.losses.DiceLoss(mode="multiclass", ignore_index=ignore_index)
            if dice_weight > 0
            else None
        )

    def components(
        self, logits: torch.Tensor, target: torch.Tensor, contacts: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Unweighted active terms (``"ce"``, ``"dice"``) and their weighted sum ``"loss"``.

        ``contacts`` (B, H, W), true where two digits meet, is needed when ``contact_weight``
        is set.
        """
        logits = logits.float()
        parts = {}
        if self.ce_weight > 0:
            parts["ce"] = self._cross_entropy(logits, target, contacts)
        if self.dice is not None:
            parts["dice"] = self.dice(logits, target)
        weights = {"ce": self.ce_weight, "dice": self.dice_weight}
        parts["loss"] = sum(weights[name] * value for name, value in parts.items())
        return parts

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, contacts: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar loss for logits (B, C, H, W) and long class ids (B, H, W)."""
        return self.components(logits, target, contacts)["loss"]

    def _cross_entropy(
        self, logits: torch.Tensor, target: torch.Tensor, contacts: torch.Tensor | None
    ) -> torch.Tensor:
        """Cross-entropy averaged over the pixels, each weighted by its class and contact."""
        ignore_index = -100 if self.ignore_index is None else self.ignore_index
        if self.contact_weight == 0:
            return F.cross_entropy(
                logits, target, weight=self.class_weights, ignore_index=ignore_index
            )
        if contacts is None:
            raise ValueError("contact_weight is set but the batch has no 'contacts' map")
        per_pixel = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
        weight = 1 + self.contact_weight * contacts.float()
        weight = weight * (target != ignore_index)
        if self.class_weights is not None:  # (clamped: an ignored target may be out of range)
            weight = weight * self.class_weights[target.clamp(0, len(self.class_weights) - 1)]
        return (weight * per_pixel).sum() / weight.sum()


def core_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Loss of the digit-core channel: binary cross-entropy plus soft Dice (cores cover a few
    percent of the pixels, and Dice keeps their small blobs from fading), in float32.

    ``logits`` and ``target`` are (B, H, W); ``target`` is 1 on core pixels, else 0.
    """
    logits, target = logits.float(), target.float()
    probs = torch.sigmoid(logits)
    dice = 1 - (2 * (probs * target).sum() + 1) / (probs.sum() + target.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + dice
