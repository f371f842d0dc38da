"""Predictions as W&B images: the canvas with its true and predicted classes as masks that
the W&B page toggles and names by class."""

import numpy as np

from digitseg.classes import CLASS_NAMES
from digitseg.viz.overlays import enlarge, to_rgb

CLASS_LABELS: dict[int, str] = dict(enumerate(CLASS_NAMES))


def segmentation_masks(truth: np.ndarray, prediction: np.ndarray) -> dict:
    """``wandb.Image``'s ``masks`` argument for one canvas: class-id maps (H, W) of the
    prediction and the truth, with the class names."""
    return {
        name: {"mask_data": np.asarray(labels, np.uint8), "class_labels": CLASS_LABELS}
        for name, labels in (("prediction", prediction), ("ground_truth", truth))
    }


def log_segmentations(logger, key: str, images, truths, predictions, captions, step: int) -> None:
    """Log each canvas under ``key`` to a :class:`~lightning.pytorch.loggers.WandbLogger` as a
    ``wandb.Image`` with :func:`segmentation_masks`, all enlarged alike (nearest neighbour)."""
    pictures, masks = [], []
    for image, truth, prediction in zip(images, truths, predictions, strict=True):
        pictures.append(enlarge(to_rgb(image)))
        masks.append(segmentation_masks(enlarge(truth), enlarge(prediction)))
    logger.log_image(key=key, images=pictures, step=step, masks=masks, caption=list(captions))
