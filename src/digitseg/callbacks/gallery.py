"""Input | truth | prediction for a fixed set of val canvases, after every validation."""

import lightning as L
import torch

from digitseg.callbacks.images import log_image
from digitseg.viz import gallery


class PredictionGallery(L.Callback):
    """Logs ``val/gallery``: the first ``count`` val canvases with truth and prediction."""

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
        picture = gallery(canvases.images, batch["mask"].numpy(), predicted)
        log_image(trainer, "val/gallery", picture)
