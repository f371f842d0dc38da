"""Semantic segmentation metrics derived from one accumulated confusion matrix."""

import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import multiclass_confusion_matrix

from digitseg.classes import BACKGROUND, CLASS_NAMES, NUM_CLASSES


class SegmentationMetrics(Metric):
    """IoU, Dice and pixel accuracy over the :data:`~digitseg.classes.NUM_CLASSES` classes.

    The only state is the confusion matrix (rows = truth, columns = prediction), summed
    across processes, so the metric is DDP-correct; everything else is derived in
    :meth:`compute`. A class absent from both truth and prediction has NaN IoU and Dice and
    is left out of the means (nanmean). Target pixels equal to ``ignore_index`` are skipped.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, ignore_index: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ignore_index = ignore_index
        self.add_state(
            "confmat",
            default=torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long),
            dist_reduce_fx="sum",
        )

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add class ids (B, H, W) or logits (B, C, H, W) against target ids (B, H, W)."""
        if preds.ndim == target.ndim + 1:
            if preds.shape[1] != NUM_CLASSES:
                raise ValueError(
                    f"logits must have {NUM_CLASSES} channels, got shape {tuple(preds.shape)}"
                )
            preds = preds.argmax(dim=1)
        if preds.shape != target.shape:
            raise ValueError(
                f"preds {tuple(preds.shape)} and target {tuple(target.shape)} do not match"
            )
        valid = target if self.ignore_index is None else target[target != self.ignore_index]
        for name, ids in (("preds", preds), ("target", valid)):
            if ids.numel() and (ids.min() < 0 or ids.max() >= NUM_CLASSES):
                raise ValueError(f"{name} must hold class ids in [0, {NUM_CLASSES})")
        self.confmat += multiclass_confusion_matrix(
            preds, target, NUM_CLASSES, ignore_index=self.ignore_index, validate_args=False
        )

    def compute(self) -> dict[str, torch.Tensor]:
        """Per-class IoU/Dice, mean IoU over digits and over all classes, pixel accuracy."""
        cm = self.confmat.double()
        tp = cm.diagonal()
        fp = cm.sum(dim=0) - tp
        fn = cm.sum(dim=1) - tp
        iou = tp / (tp + fp + fn)
        digits = torch.arange(NUM_CLASSES, device=cm.device) != BACKGROUND
        return {
            "iou_per_class": iou,
            "dice_per_class": 2 * tp / (2 * tp + fp + fn),
            "miou_digits": iou[digits].nanmean(),
            "miou": iou.nanmean(),
            "pixel_accuracy": tp.sum() / cm.sum(),
            "confusion_matrix": self.confmat.clone(),
        }


def to_log_dict(result: dict[str, torch.Tensor], prefix: str) -> dict[str, float]:
    """Flatten a :meth:`SegmentationMetrics.compute` result into ``{"prefix/name": float}``.

    Per-class values are keyed by class name, e.g. ``val/iou/3`` or ``val/dice/background``;
    absent classes stay NaN.
    """
    logs = {
        f"{prefix}/{key}": float(result[key]) for key in ("miou_digits", "miou", "pixel_accuracy")
    }
    for kind in ("iou", "dice"):
        values = result[f"{kind}_per_class"].tolist()
        for name, value in zip(CLASS_NAMES, values, strict=True):
            logs[f"{prefix}/{kind}/{name}"] = value
    return logs
