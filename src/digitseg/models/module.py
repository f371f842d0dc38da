"""The LightningModule: a segmentation net trained with a weighted CE + Dice loss.

The net, loss, optimizer and scheduler all come from config (``conf/model``). Metrics use
one :class:`~digitseg.metrics.semantic.SegmentationMetrics` per stage; the last computed
result of each stage stays on the module (``results``) for callbacks that draw it.
"""

import inspect
import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric

from digitseg.classes import NUM_CLASSES
from digitseg.metrics.semantic import SegmentationMetrics, to_log_dict
from digitseg.models.distill import Teacher, distillation_loss, taught_pixels
from digitseg.models.losses import core_loss

STAGES = ("val", "test")
HEADLINE = "miou_digits"
# Scheduler arguments that are filled in from the trainer when the scheduler takes them.
_STEP_ARGS = ("total_steps", "T_max")


class SegmentationModule(L.LightningModule):
    """Per-pixel classification into 10 digits and background.

    A net with one output beyond the 11 classes also learns the core of each digit instance
    (:func:`~digitseg.models.losses.core_loss` against the batch's ``cores``, weighted by
    ``core_weight``), around which post-processing groups digit pixels into instances.

    With a ``teacher`` model file, training also pulls the net's outputs towards the
    teacher's where it reads generated canvases right, weighted by ``distill_weight``
    (:mod:`digitseg.models.distill`), so that a fine-tune keeps what the teacher knew.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        core_weight: float = 1.0,
        channels_last: bool = True,
        compile: bool = False,
        teacher: str | None = None,
        distill_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.core_weight = core_weight
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.channels_last = channels_last
        self.compile_net = compile
        self.teacher = Teacher(teacher) if teacher else None
        self.distill_weight = distill_weight
        self.metrics = nn.ModuleDict({stage: SegmentationMetrics() for stage in STAGES})
        self.best_val = MaxMetric()
        self.results: dict[str, dict[str, torch.Tensor]] = {}
        self.config: dict | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 11, H, W) for images (B, C, H, W)."""
        return self.net(images)[:, :NUM_CLASSES]

    def compute_loss(
        self, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """Total loss, its named parts, and the class logits."""
        images = self._images(batch)
        outputs = self.net(images)
        logits = outputs[:, :NUM_CLASSES]
        parts = self.loss.components(logits, batch["mask"], batch.get("contacts"))
        total = parts.pop("loss")
        if outputs.shape[1] > NUM_CLASSES:
            parts["core"] = core_loss(outputs[:, NUM_CLASSES], batch["cores"])
            total = total + self.core_weight * parts["core"]
        if self.teacher is not None and self.training:
            taught = self.teacher(images)
            keep = taught_pixels(taught, batch["mask"], batch["generated"])
            parts["distill"] = distillation_loss(outputs, taught, keep)
            total = total + self.distill_weight * parts["distill"]
        return total, parts, logits

    def on_fit_start(self) -> None:
        if self.teacher is not None:  # the trainer has put the net on its device by now
            self.teacher.to(self.device)

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        if self.compile_net and stage == "fit":
            self.net = torch.compile(self.net)

    def _images(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        images = batch["image"]
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, parts, _ = self.compute_loss(batch)
        size = len(batch["mask"])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log_dict(
            {f"train/loss_{name}": value for name, value in parts.items()}, batch_size=size
        )
        return loss

    def _eval_step(self, stage: str, batch: dict[str, torch.Tensor]) -> None:
        loss, parts, logits = self.compute_loss(batch)
        size = len(batch["mask"])
        self.log(f"{stage}/loss", loss, sync_dist=True, batch_size=size)
        if "core" in parts:
            self.log(f"{stage}/loss_core", parts["core"], sync_dist=True, batch_size=size)
        self.metrics[stage].update(logits.argmax(1), batch["mask"])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _eval_epoch_end(self, stage: str) -> None:
        result = self.metrics[stage].compute()
        self.metrics[stage].reset()
        self.results[stage] = result
        logs = to_log_dict(result, stage)
        self.log_dict({k: v for k, v in logs.items() if not k.endswith(HEADLINE)})
        self.log(f"{stage}/{HEADLINE}", logs[f"{stage}/{HEADLINE}"], prog_bar=True)
        if stage == "val":
            self.best_val.update(result[HEADLINE])
            self.log(f"val/{HEADLINE}_best", self.best_val.compute(), prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._eval_epoch_end("val")
        else:
            self.metrics["val"].reset()

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        params = inspect.signature(self.scheduler_factory).parameters
        given = getattr(self.scheduler_factory, "keywords", {})
        steps = {
            arg: int(self.trainer.estimated_stepping_batches)
            for arg in _STEP_ARGS
            if arg in params and arg not in given
        }
        scheduler = self.scheduler_factory(optimizer=optimizer, **steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["digitseg_config"] = self.config
        # MaxMetric's state is not in the state dict: keep the best value for resumed runs.
        checkpoint["best_val"] = float(self.best_val.max_value)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if math.isfinite(checkpoint.get("best_val", -math.inf)):
            self.best_val.update(checkpoint["best_val"])
