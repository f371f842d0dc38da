"""Where an image's ink is, whatever the paper's shading and ruling: what the size and
slant estimates measure."""

import cv2
import numpy as np

from digitseg.postprocess import typical_height

# The paper's level around each pixel: its median over a square half the image's shorter
# side (at least MIN_PAPER_KERNEL px), so that a stroke covers less than half of it even in
# an image cropped tight around a bold digit.
MIN_PAPER_KERNEL = 31
# OpenCV's median of 8-bit images fails ("k < 16") on mostly flat paper from squares of about
# 301 px; up to 255 px (under 2**16 pixels) it held in every try. Larger images have their
# paper's level taken on the image shrunk to fit that square (the level is smooth).
MAX_MEDIAN_KERNEL = 255
# Ruled lines and underlines: horizontal runs of ink at least MIN_RULE_FRACTION of the
# image's shorter side long, in parts at least MIN_RULE_ASPECT times as wide as high. A
# digit's widest stroke, even a thin pen's bar across a digit filling the image, is not.
MIN_RULE_FRACTION = 1 / 3
MIN_RULE_ASPECT = 16


def ink_mask(light_ink: np.ndarray) -> np.ndarray:
    """Bool (H, W): where ``light_ink`` (uint8, light ink on dark) rises above the paper's
    local level by more than Otsu's threshold on that rise, so that shading under uneven
    light does not count."""
    flat = cv2.subtract(light_ink, paper_level(light_ink))
    _, ink = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return ink > 0


def paper_level(light_ink: np.ndarray) -> np.ndarray:
    """uint8 (H, W): the median of ``light_ink`` over a square around each pixel half the
    image's shorter side (at least MIN_PAPER_KERNEL px)."""
    height, width = light_ink.shape
    kernel = max(MIN_PAPER_KERNEL, min(height, width) // 4 * 2 + 1)
    if kernel <= MAX_MEDIAN_KERNEL:
        return cv2.medianBlur(light_ink, kernel)
    factor = MAX_MEDIAN_KERNEL / kernel
    small = cv2.resize(light_ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    level = cv2.medianBlur(small, MAX_MEDIAN_KERNEL)
    return cv2.resize(level, (width, height), interpolation=cv2.INTER_LINEAR)


def without_rules(ink: np.ndarray) -> np.ndarray:
    """Bool ``ink`` (H, W) without its ruled lines and underlines, but with the stretches of
    them that join a stroke above to a stroke below (a digit the line runs through).

    In a photo close enough to make the paper's lines as thick as strokes, the lines would
    otherwise pass for characters lying flat.
    """
    length = max(3, round(min(ink.shape) * MIN_RULE_FRACTION))
    pixels = np.asarray(ink, bool).view(np.uint8)
    runs = cv2.morphologyEx(pixels, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    _, parts, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    wide = stats[:, cv2.CC_STAT_WIDTH] >= MIN_RULE_ASPECT * stats[:, cv2.CC_STAT_HEIGHT]
    wide[0] = False  # the background
    if not wide.any():
        return np.asarray(ink, bool)
    rules = wide[parts]
    strokes = (pixels > 0) & ~rules
    thickness = round(typical_height(rules)) // 2 * 2 + 3  # odd: the closing stays in place
    bridged = cv2.morphologyEx(
        strokes.view(np.uint8), cv2.MORPH_CLOSE, np.ones((thickness, 1), np.uint8)
    )
    return strokes | (rules & (bridged > 0))
