"""Image augmentation (albumentations, kept behind this module) and conversion to tensors.

Photometric transforms change the image only; geometric ones (elastic, grid distortion)
move image and masks together, masks with nearest-neighbour interpolation. Every canvas is
augmented from its own seed, so augmentation too is a pure function of the canvas index.
"""

import os
import random
from collections.abc import Mapping

# albumentations looks for a newer release over the network at import unless told not to.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_PROBABILITIES = {
    "brightness_contrast": 0.5,
    "gamma": 0.3,
    "blur": 0.2,
    "noise": 0.2,
    "jpeg": 0.2,
    "distortion": 0.3,
}


class Augment:
    """Seeded albumentations pipeline over an image and its masks."""

    def __init__(self, probabilities: Mapping[str, float]) -> None:
        unknown = set(probabilities) - set(DEFAULT_PROBABILITIES)
        if unknown:
            raise ValueError(
                f"unknown augmentation(s) {sorted(unknown)}; known: {sorted(DEFAULT_PROBABILITIES)}"
            )
        p = {**DEFAULT_PROBABILITIES, **probabilities}
        self.pipeline = A.Compose(
            [
                A.RandomBrightnessContrast(0.25, 0.25, p=p["brightness_contrast"]),
                A.RandomGamma((70, 150), p=p["gamma"]),
                A.OneOf(
                    [A.GaussianBlur((3, 5), sigma_limit=(0.3, 1.2)), A.MotionBlur((3, 5))],
                    p=p["blur"],
                ),
                A.GaussNoise(std_range=(0.02, 0.08), p=p["noise"]),
                A.ImageCompression(quality_range=(30, 90), p=p["jpeg"]),
                A.OneOf(
                    [
                        A.ElasticTransform(alpha=8, sigma=4, border_mode=cv2.BORDER_REPLICATE),
                        A.GridDistortion(distort_limit=0.15, border_mode=cv2.BORDER_REPLICATE),
                    ],
                    p=p["distortion"],
                ),
            ]
        )

    def __call__(self, seed: int, image: np.ndarray, masks: list[np.ndarray]):
        """Augmented (image, masks), a pure function of ``seed`` and the inputs."""
        self.pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
        out = self.pipeline(image=image, masks=masks)
        return out["image"], out["masks"]


def build_augment(cfg: Mapping | None) -> Augment | None:
    """An :class:`Augment` from ``data.augment`` (``enabled`` plus per-transform probabilities)."""
    if not cfg or not cfg.get("enabled", True):
        return None
    return Augment({key: value for key, value in cfg.items() if key != "enabled"})


def match_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Grayscale (H, W) or RGB (H, W, 3) uint8 image with ``channels`` channels (1 or 3)."""
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if channels == 3:
        return image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    raise ValueError(f"model in_channels must be 1 or 3, got {channels}")


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) or (H, W, C) image to a float (C, H, W) tensor in [-1, 1]."""
    array = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)).float().div_(127.5).sub_(1.0)
