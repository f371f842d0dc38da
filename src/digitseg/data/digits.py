"""The digit set type shared by every digit source (MNIST, image folders)."""

from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DigitSet:
    """MNIST-style digits: ``images`` uint8 (N, 28, 28) white ink on black, ``labels`` uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[1:] != (28, 28):
            raise ValueError(f"DigitSet images must be (N, 28, 28), got {self.images.shape}")
        if self.images.dtype != np.uint8 or self.labels.dtype != np.uint8:
            raise ValueError("DigitSet images and labels must be uint8")
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"DigitSet has {len(self.images)} images but {len(self.labels)} labels"
            )
        if len(self.images) == 0:
            raise ValueError("DigitSet is empty")

    def __len__(self) -> int:
        return len(self.labels)
