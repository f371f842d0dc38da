"""Image crops of instances: the ink around a digit, and the digit alone in MNIST style."""

import cv2
import numpy as np

from digitseg.data.image_folder import normalize_digit
from digitseg.postprocess.instance import Instance

# Pixels around the box whose median gives the paper's grey level.
PAPER_MARGIN = 2
# Black frame around the masked ink, so that normalize_digit sees black paper all around.
FRAME = 2


def ink_crop(image: np.ndarray, instance: Instance, margin: int = 2) -> np.ndarray:
    """A copy of ``image`` (H, W) or (H, W, 3) inside the instance's box grown by ``margin``.

    The box is clipped to the image; the box is tight around the digit's mask, so this is
    the digit's ink and ``margin`` pixels around it (other digits there included).
    """
    x0, y0, x1, y1 = _grow(instance.bbox, margin, image.shape)
    return image[y0:y1, x0:x1].copy()


def mnist_crop(image: np.ndarray, instance: Instance) -> np.ndarray:
    """The instance's pixels alone, normalised to MNIST style: (28, 28) uint8.

    Ink becomes white on black whatever the polarity, everything outside the mask (other
    digits, paper) black; :func:`~digitseg.data.image_folder.normalize_digit` then fits it
    into 20x20 and centres its mass in 28x28.
    """
    return normalize_digit(np.pad(masked_ink(image, instance), FRAME))


def masked_ink(image: np.ndarray, instance: Instance) -> np.ndarray:
    """The instance's box as ink (white, 0-255 above the paper) on black, zero off the mask.

    The paper level is the median of the pixels around the box (``PAPER_MARGIN``) that are
    off the mask; ink darker than it is inverted. Where the masked pixels do not differ from
    the paper at all, the mask itself is the ink.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"image must be (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}"
        )
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    x0, y0, x1, y1 = instance.bbox
    gx0, gy0, gx1, gy1 = _grow(instance.bbox, PAPER_MARGIN, gray.shape)
    around = np.ones((gy1 - gy0, gx1 - gx0), bool)
    around[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0] = ~instance.mask
    values = gray[y0:y1, x0:x1][instance.mask].astype(np.int16)
    ink_median = float(np.median(values))
    if around.any():
        paper = float(np.median(gray[gy0:gy1, gx0:gx1][around]))
    else:
        paper = 0.0 if ink_median >= 128 else 255.0
    contrast = values - paper if ink_median >= paper else paper - values
    contrast = np.clip(contrast, 0, 255)
    if contrast.max() == 0:
        contrast[:] = 255
    ink = np.zeros(instance.mask.shape, np.uint8)
    ink[instance.mask] = contrast
    return ink


def _grow(bbox, margin: int, shape) -> tuple[int, int, int, int]:
    """Box (x0, y0, x1, y1) grown by ``margin`` on each side, clipped to an image of ``shape``."""
    x0, y0, x1, y1 = bbox
    h, w = shape[:2]
    return max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
