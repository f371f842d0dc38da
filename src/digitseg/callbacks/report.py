"""Per-class IoU/Dice tables and the confusion matrix, after every validation and test."""

import lightning as L
import numpy as np
from lightning.pytorch.loggers import WandbLogger
from rich.console import Console
from rich.table import Table

from digitseg.callbacks.images import log_image
from digitseg.classes import CLASS_NAMES
from digitseg.viz import confusion_matrix_figure, figure_to_array


def per_class_rows(result) -> list[list]:
    """[class, IoU, Dice] per class from a SegmentationMetrics result."""
    iou, dice = result["iou_per_class"].tolist(), result["dice_per_class"].tolist()
    return [[name, i, d] for name, i, d in zip(CLASS_NAMES, iou, dice, strict=True)]


def metrics_table(result, title: str) -> Table:
    """A rich table of per-class IoU and Dice with the headline means."""
    table = Table(title=title)
    for column in ("class", "IoU", "Dice"):
        table.add_column(column, justify="right")
    for name, iou, dice in per_class_rows(result):
        table.add_row(name, f"{iou:.4f}", f"{dice:.4f}")
    table.add_section()
    table.add_row("mean (digits)", f"{float(result['miou_digits']):.4f}", "")
    table.add_row("mean (11 classes)", f"{float(result['miou']):.4f}", "")
    table.add_row("pixel accuracy", f"{float(result['pixel_accuracy']):.4f}", "")
    return table


class MetricsReport(L.Callback):
    """Logs ``<stage>/confusion_matrix`` and ``<stage>/per_class``; prints the table at the end."""

    def _report(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        result = pl_module.results.get(stage)
        if result is None or not trainer.is_global_zero:
            return
        matrix = result["confusion_matrix"].cpu().numpy()
        figure = confusion_matrix_figure(matrix, CLASS_NAMES, title=f"{stage} pixels")
        log_image(trainer, f"{stage}/confusion_matrix", figure_to_array(figure))
        rows = per_class_rows(result)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(
                    f"{stage}/per_class",
                    columns=["class", "iou", "dice"],
                    data=[[n, _finite(i), _finite(d)] for n, i, d in rows],
                )

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._report(trainer, pl_module, "val")

    def on_test_end(self, trainer, pl_module) -> None:
        self._report(trainer, pl_module, "test")
        if trainer.is_global_zero and "test" in pl_module.results:
            Console().print(metrics_table(pl_module.results["test"], "test: per-class metrics"))

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and "val" in pl_module.results:
            Console().print(metrics_table(pl_module.results["val"], "val: per-class metrics"))


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else value
