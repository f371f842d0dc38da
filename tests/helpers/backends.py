"""Stand-ins for a segmenter's net, for tests of what the Segmenter does around it."""

import numpy as np

from digitseg.classes import BACKGROUND, NUM_CLASSES

# The config of a grayscale model trained on light ink on black, digits at MNIST's size.
CONFIG = {
    "model": {"net": {"in_channels": 1}},
    "data": {
        "spec": {"scale": [1.0, 1.0], "backgrounds": {"black": 1.0}, "polarity": "light_on_dark"}
    },
}


class BrightIsDigit:
    """Pointwise backend: bright pixels are ``digit`` (7), the rest background; records inputs."""

    multiple = 16

    def __init__(self, digit: int = 7) -> None:
        self.digit = digit
        self.shapes = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        logits = np.zeros((batch.shape[0], NUM_CLASSES) + batch.shape[2:], np.float32)
        bright = batch[:, 0] > 0
        logits[:, self.digit] = np.where(bright, 10.0, -10.0)
        logits[:, BACKGROUND] = -logits[:, self.digit]
        return logits
