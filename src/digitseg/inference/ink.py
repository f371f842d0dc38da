"""Where an image's ink is, whatever the paper's shading: what the size and slant estimates
measure."""

import cv2
import numpy as np

# The paper's level around each pixel: its median over a square half the image's shorter
# side (at least MIN_PAPER_KERNEL px), so that a stroke covers less than half of it even in
# an image cropped tight around a bold digit.
MIN_PAPER_KERNEL = 31
# OpenCV's median of 8-bit images fails ("k < 16") on mostly flat paper from squares of about
# 301 px; up to 255 px (under 2**16 pixels) it held in every try. Larger images have their
# paper's level taken on the image shrunk to fit that square (the level is smooth).
MAX_MEDIAN_KERNEL = 255


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
