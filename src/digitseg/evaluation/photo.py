"""Labelled scans as a photo of them would show them: finer (more pixels per digit) or
coarser, and tilted, the boxes moved with the image; how ``digitseg-eval source=coco
enlarge=.. rotate=..`` and ``scripts/scan_check.py evaluate`` check that a reading holds
beyond the scans' own resolution and angle."""

from dataclasses import replace

import cv2
import numpy as np

from digitseg.data.coco_scans import LabelledScan
from digitseg.data.export import rgb_to_gray
from digitseg.utils.ink import detect_polarity, ink_mask, light_ink
from digitseg.utils.rotation import rotate as rotated


def as_photographed(scan: LabelledScan, enlarge: float = 1.0, rotate: float = 0.0) -> LabelledScan:
    """``scan`` as a photo ``enlarge`` times finer (bicubic; under 1, coarser, area-averaged)
    and tilted ``rotate`` degrees (counter-clockwise, as
    :func:`digitseg.utils.rotation.rotate` turns it) shows it. Its boxes are scaled with it;
    tilted, each becomes the box around the turned ink it held (the box around its turned
    corners where it held no ink), as a box drawn on the photo would be."""
    if not enlarge > 0:
        raise ValueError(f"enlarge must be > 0 (1: the scan as it is), got {enlarge}")
    image, boxes = scan.image, scan.boxes.astype(np.float64).reshape(-1, 4)
    if enlarge != 1:
        interpolation = cv2.INTER_CUBIC if enlarge > 1 else cv2.INTER_AREA
        image = cv2.resize(image, None, fx=enlarge, fy=enlarge, interpolation=interpolation)
        boxes = boxes * enlarge
    boxes = _whole_pixels(boxes, image.shape)
    if rotate != 0:
        turned, matrix = rotated(image, rotate)
        boxes = _turned_boxes(image, boxes, matrix, turned.shape)
        image = turned
    return replace(scan, image=image, boxes=boxes)


def _whole_pixels(boxes: np.ndarray, shape) -> np.ndarray:
    """``boxes`` (float x0, y0, x1, y1) grown to whole pixels inside an image of ``shape``."""
    height, width = shape[:2]
    boxes = np.concatenate([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])], axis=1)
    return np.clip(boxes, 0, (width, height, width, height)).astype(np.int64)


def _turned_boxes(image: np.ndarray, boxes: np.ndarray, matrix: np.ndarray, shape) -> np.ndarray:
    """The boxes of ``image`` after ``matrix`` turns it into an image of ``shape``: around
    the ink each held, turned; around its turned corners where it held none."""
    gray = rgb_to_gray(image) if image.ndim == 3 else image
    ink = ink_mask(light_ink(gray, detect_polarity(gray))).astype(np.uint8)
    size = shape[1], shape[0]
    # The corners of the boxes' pixels: the matrix maps pixel centres, half a pixel in.
    corners = boxes[:, [[0, 1], [2, 1], [0, 3], [2, 3]]] - 0.5
    turned = corners @ matrix[:, :2].T + matrix[:, 2] + 0.5
    result = np.concatenate([turned.min(axis=1), turned.max(axis=1)], axis=1)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        held = np.zeros_like(ink)
        held[y0:y1, x0:x1] = ink[y0:y1, x0:x1]
        ys, xs = np.nonzero(cv2.warpAffine(held, matrix, size, flags=cv2.INTER_NEAREST))
        if len(xs):
            result[k] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return _whole_pixels(result, shape)
