"""Image | truth | prediction for a fixed set of val canvases, after every validation."""

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from digitseg.callbacks.images import log_image
from digitseg.viz import figure_to_array, gallery_figure, log_segmentations


class PredictionGallery(L.Callback):
    """Logs ``val/gallery``, the first ``count`` val canvases with truth and prediction in
    titled columns over a colour key, and to W&B ``val/predictions``: the same canvases as
    images with their true and predicted class masks."""

    def __init__(self, count: int = 8) -> None:
        self.count = count

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        dataset = trainer.datamodule.dataset("val")
        indices = list(range(min(self.count, len(dataset))))
        canvases = dataset.generator.render("val", indices)
        batch = dataset.__getitems__(indices)
        with torch.no_grad():
            predicted = pl_module(batch["image"].to(pl_module.device)).argmax(1).cpu().numpy()
        truths = batch["mask"].numpy()
        captions = [f"val canvas {i}" for i in indices]
        figure = gallery_figure(canvases.images, truths, predicted, captions)
        log_image(trainer, "val/gallery", figure_to_array(figure))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                log_segmentations(
                    logger,
                    "val/predictions",
                    canvases.images,
                    truths,
                    predicted,
                    captions,
                    trainer.global_step,
                )
