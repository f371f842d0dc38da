"""The canvas generator: MNIST digits placed on canvases with exact semantic and instance masks.

Canvas ``index`` of ``split`` is a pure function of (spec, digits, seed, split, index): every
random quantity comes from :class:`~digitseg.data.rng.CounterRandom`, so a canvas has the
same bytes whatever batch, worker or process renders it. Batches are rendered together with
vectorised numpy; only per-digit warps and per-canvas marks loop in Python.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import cv2
import numpy as np

from digitseg.classes import BACKGROUND, NUM_DIGITS
from digitseg.data.backgrounds import paint_backgrounds
from digitseg.data.digits import DigitSet
from digitseg.data.distractors import draw_distractors
from digitseg.data.rng import CounterRandom, split_key
from digitseg.data.spec import BACKGROUND_STYLES, CanvasSpec


class Stream(IntEnum):
    """Names of the random streams a canvas draws from (see :class:`CounterRandom`)."""

    COUNT = 1
    CLASS = 2
    REPEAT = 3
    DIGIT = 4
    SCALE = 5
    ROTATION = 6
    SHEAR = 7
    THICKNESS = 8
    GAP = 9
    LINE_START = 10
    LINE_Y = 11
    JITTER = 12
    STYLE = 13
    BACKGROUND = 100
    DISTRACTOR = 200
    PLACE_Y = 1000
    PLACE_X = 2000


@dataclass(frozen=True)
class Canvas:
    """One generated canvas and its labels.

    ``image`` uint8 (H, W) or (H, W, 3); ``semantic`` uint8 (H, W) with digit d as d and
    background as 10; ``instances`` uint16 (H, W) with 0 for none and 1..n; ``labels`` uint8
    (n,) the class of instance i+1; ``boxes`` int32 (n, 4) as x0, y0, x1, y1 with exclusive
    ends, tight around each instance's mask; ``style`` the background style.
    """

    image: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    style: str


@dataclass(frozen=True)
class CanvasBatch:
    """Canvases rendered together: stacked pixel arrays plus per-canvas labels and boxes."""

    images: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    labels: list[np.ndarray]
    boxes: list[np.ndarray]
    styles: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Canvas:
        return Canvas(
            self.images[i],
            self.semantic[i],
            self.instances[i],
            self.labels[i],
            self.boxes[i],
            self.styles[i],
        )


class _ClassPools:
    """A digit set indexed by class, so that a class can be drawn first and a digit second."""

    def __init__(self, digits: DigitSet) -> None:
        self.images = digits.images
        self.order = np.argsort(digits.labels, kind="stable")
        counts = np.bincount(digits.labels, minlength=NUM_DIGITS)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.counts = counts
        self.present = np.flatnonzero(counts)

    def pick(self, classes: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Index of a digit of each class, chosen by the uniforms ``u``."""
        offset = np.floor(u * self.counts[classes]).astype(np.int64)
        return self.order[self.starts[classes] + offset]


class CanvasGenerator:
    """Renders canvases of ``spec`` from per-split digit sets (keys ``train``, ``val``, ``test``)."""

    def __init__(self, spec: CanvasSpec, digits: Mapping[str, DigitSet], seed: int = 0) -> None:
        self.spec = spec
        self.seed = seed
        self._pools = {split: _ClassPools(digit_set) for split, digit_set in digits.items()}

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self._pools)

    def __call__(self, split: str, index: int) -> Canvas:
        """Canvas ``index`` of ``split``."""
        return self.render(split, [index])[0]

    def render(self, split: str, indices) -> CanvasBatch:
        """Canvases ``indices`` of ``split``, rendered together."""
        if split not in self._pools:
            raise KeyError(f"unknown split '{split}'; this generator has {self.splits}")
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and indices.min() < 0:
            raise ValueError("canvas indices must be >= 0")
        rnd = CounterRandom(split_key(self.seed, split), indices)
        return _render(self.spec, self._pools[split], rnd, len(indices))


def _render(spec: CanvasSpec, pool: _ClassPools, rnd: CounterRandom, n: int) -> CanvasBatch:
    slots = spec.max_digits
    count = rnd.integers(Stream.COUNT, spec.min_digits, spec.max_digits)
    active = np.arange(slots) < count
    classes = _draw_classes(spec, pool, rnd, slots)
    chosen = pool.pick(classes, rnd.uniform(Stream.DIGIT, slots))
    patches = _warp_digits(spec, pool.images[chosen], active, rnd)
    patch_boxes, has_ink = _ink_boxes(patches >= spec.mask_threshold)
    active &= has_ink
    place = _place_line if spec.layout == "line" else _place_scatter
    offsets, active = place(spec, patch_boxes, active, rnd)

    pixels = [_SlotPixels(patches[:, k], offsets[:, k], active[:, k], spec.height, spec.width)
              for k in range(slots)]
    layers = _compose(spec, pixels, active, classes)
    boxes, area = _measure(pixels, layers.instances, active)
    dropped = active & (area < spec.min_visible_area)
    if dropped.any():
        active &= ~dropped
        layers = _compose(spec, pixels, active, classes)
        boxes, _ = _measure(pixels, layers.instances, active)
    labels = [classes[b, active[b]].astype(np.uint8) for b in range(n)]
    boxes = [boxes[b, active[b]] for b in range(n)]
    ink, semantic, instances = (a.reshape(n, spec.height, spec.width) for a in layers)
    style_ids = _draw_styles(spec, rnd)
    draw_distractors(spec, ink, boxes, rnd, Stream.DISTRACTOR)
    images = paint_backgrounds(spec, ink, style_ids, rnd, Stream.BACKGROUND)
    styles = [BACKGROUND_STYLES[s] for s in style_ids]
    return CanvasBatch(images, semantic, instances, labels, boxes, styles)


def _draw_classes(spec: CanvasSpec, pool: _ClassPools, rnd: CounterRandom, slots: int):
    """Classes per slot; with ``repeat_prob`` a slot repeats the previous slot's class."""
    present = pool.present
    classes = present[np.floor(rnd.uniform(Stream.CLASS, slots) * len(present)).astype(np.int64)]
    if spec.repeat_prob > 0:
        repeat = rnd.uniform(Stream.REPEAT, slots) < spec.repeat_prob
        for k in range(1, slots):
            classes[:, k] = np.where(repeat[:, k], classes[:, k - 1], classes[:, k])
    return classes


def _warp_digits(spec: CanvasSpec, digits: np.ndarray, active: np.ndarray, rnd: CounterRandom):
    """Scale, rotate, shear and thicken each active digit into a square patch."""
    if not spec.has_geometry:
        return np.where(active[:, :, None, None], digits, 0).astype(np.uint8)
    slots, side = spec.max_digits, spec.patch_size
    scale = rnd.between(Stream.SCALE, *spec.scale, slots)
    angle = np.radians(rnd.between(Stream.ROTATION, -spec.rotation, spec.rotation, slots))
    shear = rnd.between(Stream.SHEAR, -spec.shear, spec.shear, slots)
    thick = rnd.integers(Stream.THICKNESS, -spec.thickness, spec.thickness, slots)
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    # rotation @ [[1, shear], [0, 1]], mapping the digit's centre to the patch's centre
    linear = np.stack([cos, cos * shear - sin, sin, sin * shear + cos], -1).reshape(
        active.shape + (2, 2))
    shift = (side - 1) / 2 - linear @ np.array([13.5, 13.5])
    matrices = np.concatenate([linear, shift[..., None]], -1)
    patches = np.zeros(active.shape + (side, side), dtype=np.uint8)
    for b, k in zip(*np.nonzero(active), strict=True):
        digit = _change_thickness(digits[b, k], thick[b, k])
        patches[b, k] = cv2.warpAffine(digit, matrices[b, k], (side, side),
                                       flags=cv2.INTER_LINEAR)
    return patches


def _change_thickness(digit: np.ndarray, pixels: int) -> np.ndarray:
    if pixels == 0:
        return digit
    kernel = np.ones((abs(pixels) + 1, abs(pixels) + 1), np.uint8)
    return cv2.dilate(digit, kernel) if pixels > 0 else cv2.erode(digit, kernel)


def _ink_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tight boxes (y0, y1, x0, x1; exclusive ends) of the last two axes of ``mask``."""
    rows, cols = mask.any(-1), mask.any(-2)
    y0, x0 = rows.argmax(-1), cols.argmax(-1)
    y1 = rows.shape[-1] - rows[..., ::-1].argmax(-1)
    x1 = cols.shape[-1] - cols[..., ::-1].argmax(-1)
    return np.stack([y0, y1, x0, x1], -1), rows.any(-1)


def _place_scatter(spec: CanvasSpec, patch_boxes, active, rnd: CounterRandom):
    """Random positions whose ink boxes overlap earlier digits by at most ``max_overlap``."""
    n, slots = active.shape
    tries = spec.placement_tries
    heights = patch_boxes[..., 1] - patch_boxes[..., 0]
    widths = patch_boxes[..., 3] - patch_boxes[..., 2]
    placed = np.zeros_like(active)
    boxes = np.zeros((n, slots, 4), dtype=np.int64)
    rows = np.arange(n)
    for k in range(slots):
        h, w = heights[:, k, None], widths[:, k, None]
        y = rnd.integers(Stream.PLACE_Y + k, 0, spec.height - h, tries)
        x = rnd.integers(Stream.PLACE_X + k, 0, spec.width - w, tries)
        candidates = np.stack([y, y + h, x, x + w], -1)
        ok = np.ones((n, tries), dtype=bool)
        for j in range(k):
            overlap = _overlap_fraction(candidates, boxes[:, j, None])
            ok &= ~placed[:, j, None] | (overlap <= spec.max_overlap)
        first = ok.argmax(1)
        placed[:, k] = active[:, k] & ok[rows, first]
        boxes[:, k] = candidates[rows, first]
    offsets = boxes[..., [0, 2]] - patch_boxes[..., [0, 2]]
    return offsets, placed


def _overlap_fraction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection of boxes (y0, y1, x0, x1) over the smaller box's area."""
    inter_h = np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0])
    inter_w = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 2], b[..., 2])
    inter = np.clip(inter_h, 0, None) * np.clip(inter_w, 0, None)
    area_a = (a[..., 1] - a[..., 0]) * (a[..., 3] - a[..., 2])
    area_b = (b[..., 1] - b[..., 0]) * (b[..., 3] - b[..., 2])
    return inter / np.maximum(np.minimum(area_a, area_b), 1)


def _place_line(spec: CanvasSpec, patch_boxes, active, rnd: CounterRandom):
    """Digits side by side on one line, ``gap`` apart; digits that overflow the width are left out."""
    slots = active.shape[1]
    heights = patch_boxes[..., 1] - patch_boxes[..., 0]
    widths = patch_boxes[..., 3] - patch_boxes[..., 2]
    gaps = np.round(rnd.between(Stream.GAP, *spec.gap, slots)).astype(np.int64)
    is_first = active & (np.cumsum(active, axis=1) == 1)
    advance = np.where(active, widths + np.where(is_first, 0, gaps), 0)
    right = np.cumsum(advance, axis=1)
    active = active & (right <= spec.width)
    span = np.where(active, right, 0).max(1, keepdims=True)
    start = rnd.integers(Stream.LINE_START, 0, spec.width - span)
    left = start + right - widths

    tallest = np.where(active, heights, 0).max(1, keepdims=True)
    centre = rnd.integers(Stream.LINE_Y, (tallest + 1) // 2, spec.height - (tallest + 1) // 2)
    jitter = rnd.integers(Stream.JITTER, -2, 2, slots)
    top = np.clip(centre - heights // 2 + jitter, 0, spec.height - heights)
    offsets = np.stack([top - patch_boxes[..., 0], left - patch_boxes[..., 2]], -1)
    return offsets, active


class _SlotPixels:
    """The ink pixels (value > 0) of one slot's patches, located on the canvases.

    Only ink is stored, so composing and measuring cost the ink's size, not the patches'.
    Pixels that fall outside the canvas are left out.
    """

    def __init__(self, patches, offsets, active, height: int, width: int) -> None:
        sel = np.flatnonzero(active)
        row, py, px = np.nonzero(patches[sel])
        value = patches[sel][row, py, px]
        y = offsets[sel[row], 0] + py
        x = offsets[sel[row], 1] + px
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        self.canvas = sel[row[inside]]
        self.y, self.x, self.value = y[inside], x[inside], value[inside]
        self.flat = (self.canvas * height + self.y) * width + self.x


class _Layers(NamedTuple):
    """Composed ink with semantic and instance labels, flattened over (B, H, W)."""

    ink: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray


def _instance_ids(active: np.ndarray) -> np.ndarray:
    """Instance ids 1..n in slot order; 0 for inactive slots."""
    return np.cumsum(active, axis=1) * active


def _compose(spec: CanvasSpec, pixels: list[_SlotPixels], active, classes) -> _Layers:
    """Max-combine digits; each pixel's labels go to its brightest digit (ties: placed first).

    A digit labels only pixels where its own ink reaches ``mask_threshold``; a brighter digit
    always reaches it where a labelled one did, so no second pass over the canvas is needed.
    """
    size = len(active) * spec.height * spec.width
    ink = np.zeros(size, dtype=np.uint8)
    semantic = np.full(size, BACKGROUND, dtype=np.uint8)
    instances = np.zeros(size, dtype=np.uint16)
    ids = _instance_ids(active)
    for k, slot in enumerate(pixels):
        wins = (slot.value > ink[slot.flat]) & active[slot.canvas, k]
        ink[slot.flat[wins]] = slot.value[wins]
        labelled = wins & (slot.value >= spec.mask_threshold)
        where, owner = slot.flat[labelled], slot.canvas[labelled]
        semantic[where] = classes[owner, k]
        instances[where] = ids[owner, k]
    return _Layers(ink, semantic, instances)


def _measure(pixels: list[_SlotPixels], instances: np.ndarray, active):
    """Tight boxes (x0, y0, x1, y1; exclusive ends) and visible areas of every slot."""
    n, slots = active.shape
    boxes = np.zeros((n, slots, 4), dtype=np.int32)
    areas = np.zeros((n, slots), dtype=np.int64)
    ids = _instance_ids(active)
    for k, slot in enumerate(pixels):
        own = (instances[slot.flat] == ids[slot.canvas, k]) & active[slot.canvas, k]
        canvas = slot.canvas[own]
        if canvas.size == 0:
            continue
        # Pixels are grouped by canvas, so each canvas's extremes are one reduceat away.
        starts = np.flatnonzero(np.r_[True, canvas[1:] != canvas[:-1]])
        first = canvas[starts]
        areas[first, k] = np.diff(np.r_[starts, canvas.size])
        for axis, coord in enumerate((slot.x[own], slot.y[own])):
            boxes[first, k, axis] = np.minimum.reduceat(coord, starts)
            boxes[first, k, axis + 2] = np.maximum.reduceat(coord, starts) + 1
    return boxes, areas


def _draw_styles(spec: CanvasSpec, rnd: CounterRandom) -> np.ndarray:
    weights = np.array([spec.backgrounds.get(style, 0.0) for style in BACKGROUND_STYLES])
    edges = np.cumsum(weights) / weights.sum()
    edges[-1] = 1.0
    return np.searchsorted(edges, rnd.uniform(Stream.STYLE)[:, 0], side="right")
