"""Where an image's ink is, whatever the paper's shading: what the size and slant estimates
measure."""

import cv2
import numpy as np

# The paper's level around each pixel: its median over a square half the image's shorter
# side (at least MIN_PAPER_KERNEL px), so that a stroke covers less than half of it even in
# an image cropped tight around a bold digit.
MIN_PAPER_KERNEL = 31


def ink_mask(light_ink: np.ndarray) -> np.ndarray:
    """Bool (H, W): where ``light_ink`` (uint8, light ink on dark) rises above the paper's
    local level by more than Otsu's threshold on that rise, so that shading under uneven
    light does not count."""
    kernel = max(MIN_PAPER_KERNEL, min(light_ink.shape) // 4 * 2 + 1)
    flat = cv2.subtract(light_ink, cv2.medianBlur(light_ink, kernel))
    _, ink = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return ink > 0
