"""Send a picture to every logger that takes pictures, and keep a PNG in the run folder."""

from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image


def log_image(trainer: L.Trainer, key: str, image: np.ndarray) -> Path:
    """Log ``image`` (H, W, 3 uint8) under ``key``; returns the PNG written to the run folder."""
    step = trainer.global_step
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[image], step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, step, dataformats="HWC")
    path = Path(trainer.default_root_dir, "images", f"{key.replace('/', '_')}_{step:07d}.png")
    if trainer.is_global_zero:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    return path
