"""Label maps as colours, and label maps over images, with the project's palette."""

import math

import cv2
import numpy as np

from digitseg.classes import BACKGROUND, PALETTE

# Small pictures are enlarged to at least this many pixels tall before they are shown.
MIN_HEIGHT = 256


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) image as (H, W, 3)."""
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def colorize(labels: np.ndarray) -> np.ndarray:
    """Class-id map (H, W) as an RGB picture: one colour per digit, black background."""
    return PALETTE[np.asarray(labels, dtype=np.int64)]


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Digit pixels of ``labels`` blended in their class colour over ``image`` (RGB out)."""
    rgb = to_rgb(image).astype(np.float32)
    digit = (labels != BACKGROUND)[..., None]
    blended = (1 - alpha) * rgb + alpha * colorize(labels).astype(np.float32)
    return np.where(digit, blended, rgb).astype(np.uint8)


def enlarge(image: np.ndarray, min_height: int = MIN_HEIGHT) -> np.ndarray:
    """``image`` (H, W) or (H, W, C) repeated pixel by pixel (nearest neighbour) by the
    smallest whole factor that makes it at least ``min_height`` pixels tall."""
    factor = max(1, math.ceil(min_height / image.shape[0]))
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def annotate(image: np.ndarray, labels: np.ndarray, instances) -> np.ndarray:
    """``labels`` in their class colours over ``image``, with each instance's box and label:
    the overlay picture of ``digitseg-segment --save-masks``."""
    return draw_boxes(overlay(image, labels), instances)


def draw_boxes(image: np.ndarray, instances) -> np.ndarray:
    """RGB copy of ``image`` with each instance's box and label in its class colour."""
    picture = to_rgb(image).copy()
    for instance in instances:
        x0, y0, x1, y1 = (int(v) for v in instance.bbox)
        colour = tuple(int(c) for c in PALETTE[instance.label])
        cv2.rectangle(picture, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        cv2.putText(
            picture,
            str(instance.label),
            (x0, max(y0 - 2, 8)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            colour,
            1,
            cv2.LINE_AA,
        )
    return picture
