"""The classifier net: three stages of two 3x3 convolutions, then a linear layer."""

import torch
from torch import nn

from digitseg.classes import NUM_DIGITS
from digitseg.classifier.crops import CROP_SIDE


class DigitClassifier(nn.Module):
    """(B, 2, 32, 32) crops (ink, mask) to (B, ``classes``) logits: the 10 digits, and with
    ``classes=11`` a last class, :data:`~digitseg.classes.NOT_A_DIGIT`, for marks the
    segmenter took for a digit (commas, dots, dashes, slashes, signs).

    ``width`` channels in the first stage, doubled at each of the three 2x poolings'
    stages; ``dropout`` before the linear layer.
    """

    def __init__(self, width: int = 16, dropout: float = 0.3, classes: int = NUM_DIGITS) -> None:
        if classes not in (NUM_DIGITS, NUM_DIGITS + 1):
            raise ValueError(f"a digit classifier has 10 or 11 classes, got {classes}")
        super().__init__()
        layers, channels = [], 2
        for stage in range(3):
            out = width * 2**stage
            layers += [*_conv(channels, out), *_conv(out, out), nn.MaxPool2d(2)]
            channels = out
        side = CROP_SIDE // 8
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * side * side, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _conv(channels: int, out: int) -> list[nn.Module]:
    return [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
