"""The classifier's input: a square crop around one digit, its ink and its mask."""

import cv2
import numpy as np

# Side of the classifier's input, px.
CROP_SIDE = 32
# The crop's square is the box's longer side plus this fraction of it on each side, so
# the classifier sees the digit whole and a little of its neighbours.
CONTEXT = 0.15
# The ink is scaled so that this percentile of the digit's pixels becomes full ink.
INK_PERCENTILE = 95


def classifier_input(
    ink: np.ndarray, bbox: tuple[int, int, int, int], mask: np.ndarray
) -> np.ndarray:
    """(2, CROP_SIDE, CROP_SIDE) float32 in [0, 1]: the ink and the digit's mask.

    ``ink`` is the whole image as light ink on dark (:func:`light_ink`), ``bbox`` the
    digit's box (x0, y0, x1, y1, exclusive ends) and ``mask`` its bool mask of the box's
    size. The square is centred on the box; the part outside the image is dark. The ink is
    shifted so that the square's median becomes 0 and scaled so that the digit's strong
    ink becomes 1, whatever the paper's grey and the ink's contrast: the median is the
    paper's grey where paper fills most of the square (near the image's edge the dark part
    outside counts too, in training as at inference).
    """
    x0, y0, x1, y1 = (int(v) for v in bbox)
    side = max(1, round(max(x1 - x0, y1 - y0) * (1 + 2 * CONTEXT)))
    left = round((x0 + x1 - side) / 2)
    top = round((y0 + y1 - side) / 2)
    square = np.zeros((2, side, side), np.float32)
    height, width = ink.shape
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + side, width), min(top + side, height)
    square[0, sy0 - top : sy1 - top, sx0 - left : sx1 - left] = ink[sy0:sy1, sx0:sx1]
    square[1, y0 - top : y1 - top, x0 - left : x1 - left] = mask
    paper = float(np.median(square[0]))
    digit = square[0][square[1] > 0]
    strong = float(np.percentile(digit, INK_PERCENTILE)) if digit.size else paper
    square[0] = np.clip((square[0] - paper) / max(strong - paper, 1.0), 0.0, 1.0)
    size = (CROP_SIDE, CROP_SIDE)
    return np.stack([cv2.resize(plane, size, interpolation=cv2.INTER_AREA) for plane in square])
