"""Fake digit sets for tests that need no MNIST."""

import numpy as np

from digitseg.data.digits import DigitSet


def tiny_digits(n: int = 40, seed: int = 0) -> DigitSet:
    """Blocky fake digits: a bright rectangle of random size per image, classes cycling 0-9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for image in images:
        y0, x0 = rng.integers(3, 9, 2)
        y1, x1 = rng.integers(19, 26, 2)
        image[y0:y1, x0:x1] = 255
        image[y0 + 3 : y1 - 3, x0 + 3 : x1 - 3] = 0
    return DigitSet(images, (np.arange(n) % 10).astype(np.uint8))


def tiny_splits(n: int = 40) -> dict[str, DigitSet]:
    """Train, val and test sets of fake digits, each drawn from its own seed."""
    return {split: tiny_digits(n, seed) for seed, split in enumerate(("train", "val", "test"))}
