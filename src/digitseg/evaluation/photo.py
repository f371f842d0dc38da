"""Labelled scans as a photo of them would show them: finer (more pixels per digit) and
tilted, the boxes moved with the image; how ``digitseg-eval source=coco enlarge=.. rotate=..``
and ``scripts/scan_check.py evaluate`` check that a reading holds beyond the scans' own
resolution and angle."""

from dataclasses import replace

import cv2
import numpy as np

from digitseg.data.coco_scans import LabelledScan
from digitseg.utils.rotation import rotate as rotated


def as_photographed(scan: LabelledScan, enlarge: float = 1.0, rotate: float = 0.0) -> LabelledScan:
    """``scan`` as a photo ``enlarge`` times finer (bicubic; under 1, coarser, area-averaged)
    and tilted ``rotate`` degrees (counter-clockwise, as
    :func:`digitseg.utils.rotation.rotate` turns it) shows it: its boxes are scaled and
    rotated with the image, each the upright box around its rotated corners."""
    if not enlarge > 0:
        raise ValueError(f"enlarge must be > 0 (1: the scan as it is), got {enlarge}")
    image, boxes = scan.image, scan.boxes.astype(np.float64).reshape(-1, 4)
    if enlarge != 1:
        interpolation = cv2.INTER_CUBIC if enlarge > 1 else cv2.INTER_AREA
        image = cv2.resize(image, None, fx=enlarge, fy=enlarge, interpolation=interpolation)
        boxes = boxes * enlarge
    if rotate != 0:
        image, matrix = rotated(image, rotate)
        # The corners of the boxes' pixels: the matrix maps pixel centres, half a pixel in.
        corners = boxes[:, [[0, 1], [2, 1], [0, 3], [2, 3]]] - 0.5
        turned = corners @ matrix[:, :2].T + matrix[:, 2] + 0.5
        boxes = np.concatenate([turned.min(axis=1), turned.max(axis=1)], axis=1)
    height, width = image.shape[:2]
    limits = (width, height, width, height)
    boxes = np.concatenate([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])], axis=1)
    boxes = np.clip(boxes, 0, limits).astype(np.int64)
    return replace(scan, image=image, boxes=boxes)
