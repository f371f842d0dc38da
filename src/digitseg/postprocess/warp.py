"""Digits and class maps found in one image, carried into another by a 2x3 affine map.

The Segmenter reads an image rotated, sheared and resized (:mod:`digitseg.inference.page`)
and carries what it found back into the input's pixels with one map. Maps act on pixel
centres, as OpenCV's: pixel (row r, column c) is the point (x, y) = (c, r).
"""

import math
from dataclasses import replace

import cv2
import numpy as np
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_DIGITS
from digitseg.postprocess.instance import Instance

IDENTITY = np.float64([[1, 0, 0], [0, 1, 0]])


def resize_matrix(shape: tuple[int, int], new_shape: tuple[int, int]) -> np.ndarray:
    """The map from an image of ``shape`` (H, W) to it resized to ``new_shape`` (as
    ``cv2.resize`` places pixel centres)."""
    scale_y, scale_x = new_shape[0] / shape[0], new_shape[1] / shape[1]
    return np.float64([[scale_x, 0, scale_x / 2 - 0.5], [0, scale_y, scale_y / 2 - 0.5]])


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The map that applies ``first``, then ``second``."""
    return np.float64(second) @ np.vstack([first, (0, 0, 1)])


def invert(matrix: np.ndarray) -> np.ndarray:
    """The map that undoes ``matrix``."""
    return cv2.invertAffineTransform(np.float64(matrix))


def is_identity(matrix: np.ndarray) -> bool:
    return bool(np.allclose(matrix, IDENTITY, rtol=0, atol=1e-9))


def warp_instances(
    instances: list[Instance], matrix: np.ndarray, new_shape: tuple[int, int]
) -> list[Instance | None]:
    """``instances`` carried by ``matrix`` into an image of ``new_shape`` (H, W), in order;
    None for one that lands wholly outside it.

    Each mask is resampled linearly (area-averaged first along a side that shrinks). A new
    pixel at least half covered by the instances together joins the one that covers most of
    it, so touching instances neither overlap nor part; each instance keeps at least its
    most covered pixel. The boxes are tight around the new masks. The identity map returns
    the instances as they are.
    """
    if not instances or (is_identity(matrix) and _fits(instances, new_shape)):
        return list(instances)
    covers = [_cover(instance, matrix, new_shape) for instance in instances]
    landed = [k for k, (box, _) in enumerate(covers) if box is not None]
    warped: list[Instance | None] = [None] * len(instances)
    if not landed:
        return warped
    boxes = [covers[k][0] for k in landed]
    # Who covers what, over the part of the new image the instances may cover.
    span_x0, span_y0 = min(box[0] for box in boxes), min(box[1] for box in boxes)
    span = (max(box[3] for box in boxes) - span_y0, max(box[2] for box in boxes) - span_x0)
    total, best = np.zeros(span, np.float32), np.zeros(span, np.float32)
    owner = np.full(span, -1, np.int32)
    regions = {
        k: (slice(y0 - span_y0, y1 - span_y0), slice(x0 - span_x0, x1 - span_x0))
        for k, (x0, y0, x1, y1) in zip(landed, boxes, strict=True)
    }
    for k, region in regions.items():
        cover = covers[k][1]
        total[region] += cover
        wins = cover > best[region]  # ties go to the earlier instance
        best[region][wins] = cover[wins]
        owner[region][wins] = k
    for k, region in regions.items():
        (left, top, _, _), cover = covers[k]
        mask = (owner[region] == k) & (total[region] >= 0.5)
        if not mask.any():
            if cover.max() <= 0:
                continue
            mask = cover == cover.max()
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        x0, y0 = left + int(cols[0]), top + int(rows[0])
        bbox = (x0, y0, x0 + mask.shape[1], y0 + mask.shape[0])
        warped[k] = replace(instances[k], bbox=bbox, area=int(mask.sum()), mask=mask)
    return warped


def _fits(instances: list[Instance], shape: tuple[int, int]) -> bool:
    return all(i.bbox[2] <= shape[1] and i.bbox[3] <= shape[0] for i in instances)


def _cover(instance: Instance, matrix: np.ndarray, new_shape: tuple[int, int]):
    """The box (x0, y0, x1, y1) in the new image that ``instance`` may cover, and how much of
    each of its pixels it covers (float32, the box's size); (None, None) outside it."""
    x0, y0, x1, y1 = instance.bbox
    # The box's outer edges (half a pixel beyond the centres) carried into the new image.
    corners = np.float64([[x0, y0], [x1, y0], [x0, y1], [x1, y1]]) - 0.5
    edges = corners @ matrix[:, :2].T + matrix[:, 2] + 0.5
    left, top = (math.floor(round(v, 6)) for v in edges.min(axis=0))
    right, bottom = (math.ceil(round(v, 6)) for v in edges.max(axis=0))
    height, width = new_shape
    if left >= width or top >= height or right <= 0 or bottom <= 0:
        return None, None
    left, top = max(left, 0), max(top, 0)
    right, bottom = max(left + 1, min(right, width)), max(top + 1, min(bottom, height))
    # Averaged over about as many pixels as shrink into one (an odd count, so the average
    # stays centred); padded so that it spills over the box.
    stretch = np.hypot(matrix[0, :2], matrix[1, :2])  # how long a step along x, along y lands
    across = tuple(int(1 / s) // 2 * 2 + 1 if s < 1 else 1 for s in stretch)
    pad = max(across)
    mask = np.pad(instance.mask.astype(np.float32), pad)
    if across != (1, 1):
        mask = cv2.blur(mask, across, borderType=cv2.BORDER_CONSTANT)
    # Mask pixel (c, r) is the image's (x0 - pad + c, y0 - pad + r), carried by the matrix,
    # less the new box's corner.
    to_box = compose(matrix, np.float64([[1, 0, x0 - pad], [0, 1, y0 - pad]]))
    to_box[:, 2] -= (left, top)
    cover = cv2.warpAffine(
        mask,
        np.float32(to_box),
        (right - left, bottom - top),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return (left, top, right, bottom), cover


def warp_class_map(probs: np.ndarray, matrix: np.ndarray, new_shape: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W) class map of ``probs`` (11, h, w) carried by ``matrix`` into ``new_shape``
    (H, W): ink where the most probable digit beats the background, that margin resampled
    linearly (smooth outlines without resampling all 11 maps), each ink pixel the most
    probable digit of the nearest ink pixel of ``probs``; background outside ``probs``. With
    the identity map, ``probs``' argmax."""
    digits = probs[:NUM_DIGITS]
    margin = probs[BACKGROUND] - digits.max(0)
    best = digits.argmax(0).astype(np.uint8)
    ink = margin <= 0
    if is_identity(matrix) and probs.shape[1:] == tuple(new_shape):
        return np.where(ink, best, BACKGROUND).astype(np.uint8)
    if ink.any():
        # A background pixel's best digit means nothing: take its nearest ink pixel's.
        _, (rows, cols) = ndimage.distance_transform_edt(~ink, return_indices=True)
        best = best[rows, cols]
    size = tuple(new_shape)[::-1]
    margin = cv2.warpAffine(
        margin,
        np.float32(matrix),
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=1.0,
    )
    best = cv2.warpAffine(best, np.float32(matrix), size, flags=cv2.INTER_NEAREST)
    return np.where(margin <= 0, best, BACKGROUND).astype(np.uint8)
