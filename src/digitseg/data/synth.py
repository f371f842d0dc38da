"""The canvas generator: MNIST digits placed on canvases with exact semantic and instance masks.

Canvas ``index`` of ``split`` is a pure function of (spec, digits, seed, split, index): every
random quantity comes from :class:`~digitseg.data.rng.CounterRandom`, keyed by the canvas
index, so a canvas has the same bytes whatever batch, worker or process renders it.

Batches are rendered in chunks small enough to stay in the CPU cache. A chunk's digits are
drawn, warped into *glyphs* (a digit's ink pixels in its own frame), placed, and composed on
the canvases, where each pixel's labels go to the brightest digit there. Digits left with too
little visible mask are taken out again; then come non-digit marks and the backgrounds. Until
the backgrounds only ink pixels are touched, and only the per-digit warps loop in Python.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import NamedTuple

import cv2
import numpy as np

from digitseg.classes import BACKGROUND, NUM_DIGITS
from digitseg.data.backgrounds import paint_backgrounds
from digitseg.data.digits import DigitSet
from digitseg.data.distractors import (
    NOWHERE,
    Separators,
    choose_separators,
    draw_distractors,
    draw_separators,
)
from digitseg.data.rng import CounterRandom, split_key, to_integers, to_range
from digitseg.data.spec import BACKGROUND_STYLES, CanvasSpec

# Canvases per chunk hold about this many pixels, so a chunk's scratch arrays stay in cache.
_CHUNK_PIXELS = 1 << 18
_DIGIT_SIDE = 28
# Images whose leans are worked out at once: float64 scratch arrays of about 25 MB.
_LEAN_CHUNK = 4096
_UNLABELLED = np.iinfo(np.uint16).max


class Stream(IntEnum):
    """Names of the random streams a canvas draws from (see :class:`CounterRandom`)."""

    DIGITS = 1
    WARP = 2
    LINE = 3
    SCATTER = 4
    STYLE = 5
    SEPARATOR = 6
    BACKGROUND = 100
    DISTRACTOR = 200


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

    @classmethod
    def stacked(cls, canvases: list[Canvas], color: bool = False) -> "CanvasBatch":
        """``canvases`` as one batch; ``color``: every image as RGB."""
        images = [
            cv2.cvtColor(c.image, cv2.COLOR_GRAY2RGB) if color and c.image.ndim == 2 else c.image
            for c in canvases
        ]
        return cls(
            np.stack(images),
            np.stack([c.semantic for c in canvases]),
            np.stack([c.instances for c in canvases]),
            [c.labels for c in canvases],
            [c.boxes for c in canvases],
            [c.style for c in canvases],
        )

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

    @cached_property
    def ink_boxes(self) -> np.ndarray:
        """Each image's ink box (y0, y1, x0, x1; exclusive ends)."""
        return _dense_boxes(self.images > 0)

    @cached_property
    def leans(self) -> np.ndarray:
        """Each image's lean (:func:`_lean`), worked out a few thousand images at a time."""
        chunks = range(0, len(self.images), _LEAN_CHUNK)
        return np.concatenate([_lean(self.images[i : i + _LEAN_CHUNK]) for i in chunks])

    def pick(self, classes: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Index of a digit of each class, chosen by the uniforms ``u``."""
        offset = np.floor(u * self.counts[classes]).astype(np.int64)
        return self.order[self.starts[classes] + offset]


class CanvasGenerator:
    """Renders canvases of ``spec`` from per-split digit sets (keys ``train``, ``val``, ``test``).

    A split's canvases draw only on that split's digits.
    """

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
    """Render ``n`` canvases chunk by chunk into arrays allocated once."""
    shape = (n, spec.height, spec.width)
    batch = CanvasBatch(
        images=np.empty(shape + (3,) if spec.is_color else shape, np.uint8),
        semantic=np.empty(shape, np.uint8),
        instances=np.empty(shape, np.uint16),
        labels=[],
        boxes=[],
        styles=[],
    )
    step = max(1, _CHUNK_PIXELS // (spec.height * spec.width))
    for start in range(0, n, step):
        part = slice(start, start + step)
        _render_chunk(spec, pool, rnd.subset(part), batch, part)
    return batch


class _Digits(NamedTuple):
    """The digits drawn for a chunk, one row per digit, ordered by (canvas, slot)."""

    canvas: np.ndarray
    slot: np.ndarray
    label: np.ndarray
    source: np.ndarray

    def per_digit(self, draws: np.ndarray) -> np.ndarray:
        """Each digit's value of a per-slot draw of shape (canvases, slots)."""
        return draws[self.canvas, self.slot]


class _Pixels(NamedTuple):
    """Ink pixels (value > 0) of glyphs: owner glyph, row and column in its frame, value.

    Pixels are grouped by owner, in row-major order within a glyph.
    """

    owner: np.ndarray
    y: np.ndarray
    x: np.ndarray
    value: np.ndarray

    def take(self, rows: np.ndarray) -> "_Pixels":
        return _Pixels(*(column[rows] for column in self))


class _Glyphs(NamedTuple):
    """Warped digits: their ink pixels, tight ink and mask boxes (y0, y1, x0, x1), and
    whether their whole mask reaches ``min_visible_area`` (others are never placed)."""

    pixels: _Pixels
    ink_box: np.ndarray
    mask_box: np.ndarray
    large_enough: np.ndarray


class _Layers(NamedTuple):
    """Composed ink with semantic and instance labels, flattened over (canvas, y, x)."""

    ink: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray


def _render_chunk(
    spec: CanvasSpec, pool: _ClassPools, rnd: CounterRandom, batch: CanvasBatch, part: slice
) -> None:
    """Render one chunk of canvases into ``batch[part]`` and append their labels."""
    semantic, instances = batch.semantic[part], batch.instances[part]
    n = len(semantic)
    digits = _draw_digits(spec, pool, rnd)
    glyphs = _make_glyphs(spec, pool, digits, rnd)
    separators = choose_separators(spec, digits.canvas, digits.slot, rnd, Stream.SEPARATOR)
    if spec.layout == "line":
        origin, placed = _place_line(spec, glyphs, digits, n, rnd, separators.space)
    else:
        origin, placed = _place_scatter(spec, glyphs, digits, n, rnd)

    ink = np.zeros(semantic.shape, np.uint8)
    layers = _Layers(ink.reshape(-1), semantic.reshape(-1), instances.reshape(-1))
    kept, boxes = _label(spec, layers, glyphs, digits, origin, placed)
    ends = np.cumsum(np.bincount(digits.canvas[kept], minlength=n)).tolist()
    labels = digits.label[kept]
    starts = [0, *ends[:-1]]
    batch.labels.extend(labels[a:b] for a, b in zip(starts, ends, strict=True))
    batch.boxes.extend(boxes[a:b] for a, b in zip(starts, ends, strict=True))

    digit_boxes = np.full((n, spec.max_digits, 4), NOWHERE, np.int64)
    digit_boxes[digits.canvas[kept], digits.slot[kept]] = boxes
    occupied = _draw_separators(spec, ink, digit_boxes, separators, glyphs, digits, origin, placed)
    draw_distractors(spec, ink, digit_boxes, occupied, rnd, Stream.DISTRACTOR)
    style_ids = _draw_styles(spec, rnd)
    paint_backgrounds(spec, ink, style_ids, rnd, Stream.BACKGROUND, out=batch.images[part])
    batch.styles.extend(BACKGROUND_STYLES[s] for s in style_ids)


def _draw_separators(
    spec, ink, digit_boxes, separators: Separators, glyphs: _Glyphs, digits: _Digits, origin, placed
) -> np.ndarray:
    """Draw the separators of placed digits that follow another on their line; returns their
    boxes (canvases, slots, 4) (see :func:`draw_separators`)."""
    follows = _instance_ids(digits.canvas, placed) > 1
    between = np.flatnonzero(follows & (separators.mark >= 0))
    gap_end = origin[between, 1] + glyphs.mask_box[between, 2]
    where = digits.canvas[between], digits.slot[between]
    return draw_separators(spec, ink, digit_boxes, separators.take(between), where, gap_end)


def _draw_digits(spec: CanvasSpec, pool: _ClassPools, rnd: CounterRandom) -> _Digits:
    """How many digits each canvas gets, their classes and which images of the pool."""
    slots = spec.max_digits
    u = rnd.uniform(Stream.DIGITS, 1 + 3 * slots)
    count = to_integers(u[:, :1], spec.min_digits, spec.max_digits)
    class_u, repeat_u, image_u = u[:, 1:].reshape(-1, 3, slots).transpose(1, 0, 2)
    present = pool.present
    classes = present[np.floor(class_u * len(present)).astype(np.int64)]
    for k in range(1, slots if spec.repeat_prob else 0):
        repeat = repeat_u[:, k] < spec.repeat_prob
        classes[:, k] = np.where(repeat, classes[:, k - 1], classes[:, k])
    source = pool.pick(classes, image_u)
    canvas, slot = np.nonzero(np.arange(slots) < count)
    return _Digits(canvas, slot, classes[canvas, slot].astype(np.uint8), source[canvas, slot])


def _make_glyphs(spec: CanvasSpec, pool: _ClassPools, digits: _Digits, rnd) -> _Glyphs:
    """Warp each digit (when the spec asks) and extract its ink pixels and boxes."""
    sources = pool.images[digits.source]
    if spec.has_geometry:
        frames, heights = _warp(spec, sources, pool, digits, rnd)
    else:
        frames, heights = sources.reshape(-1, _DIGIT_SIDE), np.full(len(sources), _DIGIT_SIDE)
    pixels = _ink_pixels(frames, heights)
    ink_box, _ = _boxes(pixels, len(sources))
    masked = np.flatnonzero(pixels.value >= spec.mask_threshold)
    mask_box, mask_area = _boxes(pixels.take(masked), len(sources))
    return _Glyphs(pixels, ink_box, mask_box, mask_area >= spec.min_visible_area)


def _warp(spec: CanvasSpec, sources: np.ndarray, pool: _ClassPools, digits: _Digits, rnd):
    """Thicken, scale, rotate and shear each digit; frames are stacked in the rows of one array.

    ``sources`` are the digits' images in ``pool``. Each frame is just large enough for its
    warped digit. Returns the frames and each one's height (frames start at the cumulative sum of
    the heights).
    """
    u = rnd.uniform(Stream.WARP, 4 * spec.max_digits).reshape(-1, spec.max_digits, 4)
    if spec.one_writer:  # the first slot's rotation and shear for every digit of a canvas
        u[..., 1:3] = u[:, :1, 1:3]
    u = digits.per_digit(u).T
    scale = to_range(u[0], *spec.scale)
    angle = np.radians(to_range(u[1], -spec.rotation, spec.rotation))
    shear = to_range(u[2], -spec.shear, spec.shear)
    if spec.one_writer:
        shear = shear - pool.leans[digits.source]
    thick = to_integers(u[3], -spec.thickness, spec.thickness)
    sources = _change_thickness(sources, thick, spec.thickness)
    # In the grown frames, a dilated digit's ink stays within its box widened by the margin.
    regions = pool.ink_boxes[digits.source] + np.array([0, 2, 0, 2]) * spec.thickness
    matrices, heights, widths = _warp_matrices(sources.shape[-1], regions, scale, angle, shear)
    frames = np.zeros((heights.sum(), widths.max(initial=1)), np.uint8)
    top = 0
    for source, matrix, h, w in zip(
        sources, matrices, heights.tolist(), widths.tolist(), strict=True
    ):
        cv2.warpAffine(
            source, matrix, (w, h), dst=frames[top : top + h, :w], flags=cv2.INTER_LINEAR
        )
        top += h
    return frames, heights


def _lean(images: np.ndarray) -> np.ndarray:
    """Each (28, 28) image's lean: columns its ink moves per row down (its second moments'
    ``mu11 / mu02``), within [-1, 1]; shearing by minus it makes the digit upright."""
    rows, cols = np.mgrid[: images.shape[1], : images.shape[2]].astype(np.float64)
    weight = images.astype(np.float64)
    mass = np.maximum(weight.sum((1, 2)), 1e-9)
    dy = rows - ((weight * rows).sum((1, 2)) / mass)[:, None, None]
    dx = cols - ((weight * cols).sum((1, 2)) / mass)[:, None, None]
    mu02 = (weight * dy * dy).sum((1, 2))
    mu11 = (weight * dx * dy).sum((1, 2))
    return np.clip(mu11 / np.maximum(mu02, 1e-9), -1.0, 1.0)


def _change_thickness(sources: np.ndarray, pixels: np.ndarray, margin: int) -> np.ndarray:
    """Dilate (``pixels`` > 0) or erode (< 0) each digit's strokes, in frames grown by ``margin``.

    Digits with the same change are processed as one tall image; the margin keeps a dilated
    digit from reaching its neighbour.
    """
    if margin == 0:
        return sources
    side = _DIGIT_SIDE + 2 * margin
    grown = np.zeros((len(sources), side, side), np.uint8)
    grown[:, margin:-margin, margin:-margin] = sources
    for change in np.unique(pixels[pixels != 0]).tolist():
        which = np.flatnonzero(pixels == change)
        kernel = np.ones((abs(change) + 1, abs(change) + 1), np.uint8)
        morph = cv2.dilate if change > 0 else cv2.erode
        grown[which] = morph(grown[which].reshape(-1, side), kernel).reshape(-1, side, side)
    return grown


def _warp_matrices(side: int, ink_boxes: np.ndarray, scale, angle, shear):
    """Affine maps (G, 2, 3) from each source to its own frame, and the frames' sizes.

    A digit is scaled, rotated and sheared about its source's centre (sources are ``side``
    pixels square); its frame is the bounding box of where bilinear sampling can find ink
    (one pixel around the source's ink box), plus one pixel of margin.
    """
    y0, y1, x0, x1 = ink_boxes.T
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.stack([cos, cos * shear - sin, sin, sin * shear + cos], -1).reshape(-1, 2, 2)
    centre = (side - 1) / 2
    corner_x = np.stack([x0 - 1, x1, x0 - 1, x1], -1) - centre
    corner_y = np.stack([y0 - 1, y0 - 1, y1, y1], -1) - centre
    out_x = linear[:, 0, 0, None] * corner_x + linear[:, 0, 1, None] * corner_y
    out_y = linear[:, 1, 0, None] * corner_x + linear[:, 1, 1, None] * corner_y
    origin = np.stack([np.floor(out_x.min(1)), np.floor(out_y.min(1))], -1) - 1
    widths = (np.ceil(out_x.max(1)) + 2 - origin[:, 0]).astype(np.int64)
    heights = (np.ceil(out_y.max(1)) + 2 - origin[:, 1]).astype(np.int64)
    shift = -(linear[:, :, 0] + linear[:, :, 1]) * centre - origin
    return np.concatenate([linear, shift[..., None]], -1), heights, widths


def _dense_boxes(mask: np.ndarray) -> np.ndarray:
    """Tight boxes (y0, y1, x0, x1; exclusive ends) of the last two axes of ``mask``."""
    rows, cols = mask.any(-1), mask.any(-2)
    y0, x0 = rows.argmax(-1), cols.argmax(-1)
    y1 = rows.shape[-1] - rows[..., ::-1].argmax(-1)
    x1 = cols.shape[-1] - cols[..., ::-1].argmax(-1)
    return np.stack([y0, y1, x0, x1], -1)


def _ink_pixels(frames: np.ndarray, heights: np.ndarray) -> _Pixels:
    """The nonzero pixels of frames stacked in rows; frame g has ``heights[g]`` rows."""
    width = frames.shape[1]
    flat = np.flatnonzero(frames != 0)
    value = frames.reshape(-1)[flat]
    row = flat // width
    owner = np.repeat(np.arange(len(heights)), heights)[row]
    first_row = np.cumsum(heights) - heights
    return _Pixels(owner, row - first_row[owner], flat - row * width, value)


def _boxes(pixels: _Pixels, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Tight boxes (y0, y1, x0, x1; exclusive ends) of each glyph's ``pixels``, and counts."""
    sizes = np.bincount(pixels.owner, minlength=count)
    boxes = np.zeros((count, 4), np.int64)
    has = np.flatnonzero(sizes)
    if has.size:
        first = (np.cumsum(sizes) - sizes)[has]
        boxes[has, 0] = pixels.y[first]
        boxes[has, 1] = pixels.y[first + sizes[has] - 1] + 1
        boxes[has, 2] = np.minimum.reduceat(pixels.x, first)
        boxes[has, 3] = np.maximum.reduceat(pixels.x, first) + 1
    return boxes, sizes


def _ink_range(size: np.ndarray, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest start of an ink box of ``size`` on an axis of ``extent`` pixels.

    A box larger than the canvas is cut on either side.
    """
    room = extent - size
    return np.minimum(room, 0), np.maximum(room, 0)


def _place_scatter(spec: CanvasSpec, glyphs: _Glyphs, digits: _Digits, n: int, rnd):
    """Random positions whose mask boxes overlap earlier digits' by at most ``max_overlap``.

    Each digit tries ``placement_tries`` positions of its whole ink on the canvas and takes
    the first that fits; a digit for which none fits is left out. Returns each glyph's frame
    origin (y, x) on its canvas and whether it was placed.
    """
    slots, tries = spec.max_digits, spec.placement_tries
    at = (digits.canvas, digits.slot)
    ink = np.zeros((n, slots, 4), np.int64)
    mask = np.zeros((n, slots, 4), np.int64)
    active = np.zeros((n, slots), bool)
    ink[at], mask[at], active[at] = glyphs.ink_box, glyphs.mask_box, glyphs.large_enough
    u = rnd.uniform(Stream.SCATTER, 2 * slots * tries).reshape(n, 2, slots, tries)
    top = _random_starts(u[:, 0], ink[..., 0:2], spec.height)
    left = _random_starts(u[:, 1], ink[..., 2:4], spec.width)
    # Candidate mask boxes (y0, y1, x0, x1) on the canvas: (n, slots, tries, 4).
    offset = mask - ink[..., [0, 0, 2, 2]]
    candidates = np.stack([top, top, left, left], -1) + offset[:, :, None, :]
    chosen, placed = _first_free(candidates, active, spec.max_overlap)
    pick = (*at, chosen[at])
    origin = np.stack([top[pick] - glyphs.ink_box[:, 0], left[pick] - glyphs.ink_box[:, 2]], -1)
    return origin, placed[at]


def _random_starts(u: np.ndarray, ink: np.ndarray, extent: int) -> np.ndarray:
    """Starts (n, slots, tries) of ink spans ``ink`` (n, slots, 2) on an axis of ``extent``."""
    low, high = _ink_range(ink[..., 1] - ink[..., 0], extent)
    return to_integers(u, low[..., None], high[..., None])


def _first_free(candidates: np.ndarray, active: np.ndarray, max_overlap: float):
    """Slot by slot, the first candidate box overlapping placed ones by at most ``max_overlap``.

    ``candidates`` (n, slots, tries, 4); returns the chosen try and whether one was free.
    """
    n, slots, tries = candidates.shape[:3]
    placed = np.zeros((n, slots), bool)
    chosen = np.zeros((n, slots), np.int64)
    rows = np.arange(n)
    for k in range(slots):
        ok = np.ones((n, tries), bool)
        if k:
            taken = candidates[rows[:, None], np.arange(k), chosen[:, :k]]
            overlap = _overlap_fraction(candidates[:, k, :, None], taken[:, None])
            ok = (~placed[:, None, :k] | (overlap <= max_overlap)).all(-1)
        chosen[:, k] = ok.argmax(1)
        placed[:, k] = active[:, k] & ok[rows, chosen[:, k]]
    return chosen, placed


def _overlap_fraction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection of boxes (y0, y1, x0, x1) over the smaller box's area."""
    inter_h = np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0])
    inter_w = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 2], b[..., 2])
    inter = np.clip(inter_h, 0, None) * np.clip(inter_w, 0, None)
    area_a = (a[..., 1] - a[..., 0]) * (a[..., 3] - a[..., 2])
    area_b = (b[..., 1] - b[..., 0]) * (b[..., 3] - b[..., 2])
    return inter / np.maximum(np.minimum(area_a, area_b), 1)


def _place_line(spec: CanvasSpec, glyphs: _Glyphs, digits: _Digits, n: int, rnd, space):
    """Digits side by side on one line, in slot order, ``gap`` apart, or ``space`` apart
    where ``space`` (per digit, 0 for none) asks for room for a separator before a digit.

    Digits that would overflow the width are left out. Returns each glyph's frame origin
    (y, x) on its canvas and whether it was placed.
    """
    slots = spec.max_digits
    u = rnd.uniform(Stream.LINE, 2 * slots + 2)
    placed = glyphs.large_enough.copy()
    idx = np.flatnonzero(placed)
    canvas, slot = digits.canvas[idx], digits.slot[idx]
    mask, ink = glyphs.mask_box[idx], glyphs.ink_box[idx]
    x, fits = _line_x(spec, mask, ink, canvas, u[canvas, slot], u[:, -2], space[idx])
    placed[idx] = fits
    y = _line_y(spec, mask, ink, canvas, fits, u[canvas, slots + slot], u[:, -1])
    origin = np.zeros((len(digits.canvas), 2), np.int64)
    origin[idx] = np.stack([y, x], -1)
    return origin, placed


def _line_x(spec: CanvasSpec, mask, ink, canvas, gap_u, start_u, space):
    """Frame x origins of the digits of lines and whether each fits the width.

    A negative gap makes neighbours touch or overlap, by at most half the narrower one, so
    digits stay in reading order. A digit with ``space`` > 0 gets that gap instead.
    ``gap_u`` and ``space`` are per digit, ``start_u`` per canvas.
    """
    width = mask[:, 3] - mask[:, 2]
    first = np.ones(len(canvas), bool)
    first[1:] = canvas[1:] != canvas[:-1]
    gap = np.rint(to_range(gap_u, *spec.gap)).astype(np.int64)
    gap = np.maximum(gap, -(np.minimum(width, np.r_[0, width[:-1]]) // 2))
    gap = np.where(space > 0, space, gap)
    right = _segment_cumsum(np.where(first, width, width + gap), first)
    left = right - width
    # The extent of each line's ink from its first digit to this one.
    ink_left = _segment_accumulate(np.minimum, left - (mask[:, 2] - ink[:, 2]), canvas)
    ink_right = _segment_accumulate(np.maximum, right + (ink[:, 3] - mask[:, 3]), canvas)
    fits = ink_right - ink_left <= spec.width
    span_left, span_right = np.zeros(len(start_u), np.int64), np.zeros(len(start_u), np.int64)
    np.minimum.at(span_left, canvas[fits], ink_left[fits])
    np.maximum.at(span_right, canvas[fits], ink_right[fits])
    start = to_integers(start_u, -span_left, spec.width - span_right)
    return start[canvas] + left - mask[:, 2], fits


def _line_y(spec: CanvasSpec, mask, ink, canvas, fits, jitter_u, middle_u):
    """Frame y origins: digits centred on a random row, each shifted by up to 2 pixels."""
    height = mask[:, 1] - mask[:, 0]
    tallest = np.zeros(len(middle_u), np.int64)
    np.maximum.at(tallest, canvas[fits], height[fits])
    half = (tallest + 1) // 2
    middle = to_integers(middle_u, half, np.maximum(half, spec.height - half))
    ink_top = middle[canvas] - height // 2 + to_integers(jitter_u, -2, 2)
    ink_top -= mask[:, 0] - ink[:, 0]
    low, high = _ink_range(ink[:, 1] - ink[:, 0], spec.height)
    return np.clip(ink_top, low, high) - ink[:, 0]


def _segment_cumsum(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting wherever ``first`` is set."""
    total = np.cumsum(values)
    segment_start = np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    return total - (total - values)[segment_start]


def _segment_accumulate(ufunc: np.ufunc, values: np.ndarray, canvas: np.ndarray) -> np.ndarray:
    """Running ``np.minimum`` or ``np.maximum`` of ``values``, restarting at each canvas.

    Canvases are sorted; each one's values are shifted past all earlier ones' (down for the
    minimum, up for the maximum) so that a single accumulate never mixes canvases.
    """
    step = 2 * np.abs(values).max(initial=0) + 1
    shift = canvas * (step if ufunc is np.maximum else -step)
    return ufunc.accumulate(values + shift) - shift


def _label(spec, layers: _Layers, glyphs: _Glyphs, digits: _Digits, origin, placed):
    """Compose the placed glyphs, then take out digits whose visible mask is too small.

    Taking a digit out only uncovers others, so one second pass over the canvases concerned
    is enough. Returns the glyphs kept, in instance order, and their boxes (x0, y0, x1, y1).
    """
    n = len(layers.ink) // (spec.height * spec.width)
    layers.semantic.fill(BACKGROUND)
    layers.instances.fill(0)
    pixels, flat = _on_canvas(spec, glyphs, digits, origin, placed)
    boxes, area = _compose(spec, layers, pixels, flat, digits, placed)
    dropped = placed & (area < spec.min_visible_area)
    if dropped.any():
        placed = placed & ~dropped
        redo = np.zeros(n, bool)
        redo[digits.canvas[dropped]] = True
        for layer, empty in zip(layers, (0, BACKGROUND, 0), strict=True):
            layer.reshape(n, -1)[redo] = empty
        keep = np.flatnonzero(redo[digits.canvas[pixels.owner]] & placed[pixels.owner])
        again, _ = _compose(spec, layers, pixels.take(keep), flat[keep], digits, placed)
        glyphs_again = redo[digits.canvas]
        boxes[glyphs_again] = again[glyphs_again]
    boxes += origin[:, [0, 0, 1, 1]]
    kept = np.flatnonzero(placed)
    if spec.layout == "line":
        kept = _left_to_right(layers.instances.reshape(n, -1), digits, boxes, kept)
    return kept, boxes[kept][:, [2, 0, 3, 1]].astype(np.int32)


def _left_to_right(instances: np.ndarray, digits: _Digits, boxes, kept: np.ndarray):
    """Renumber each canvas's instances by the left edge of their boxes (ties: slot order).

    Placement already puts a line's digits in order; only a digit whose left part is hidden
    by its brighter left neighbour can start right of the next one. ``instances`` is
    (canvases, pixels); returns the kept glyphs in their new order.
    """
    order = kept[np.lexsort((boxes[kept, 2], digits.canvas[kept]))]
    if np.array_equal(order, kept):
        return kept
    # Both orders group glyphs by canvas, so position i has the same rank in both.
    rank = _instance_ids(digits.canvas[kept], np.ones(len(kept), bool))
    old = rank[np.searchsorted(kept, order)]
    moved = np.unique(digits.canvas[order[old != rank]])
    renumber = np.zeros((len(instances), int(rank.max()) + 1), np.uint16)
    renumber[digits.canvas[order], old] = rank
    ids = instances[moved].astype(np.intp)
    instances[moved] = np.take_along_axis(renumber[moved], ids, axis=1)
    return order


def _on_canvas(spec: CanvasSpec, glyphs: _Glyphs, digits: _Digits, origin, placed):
    """The placed glyphs' pixels that land on the canvas, and their flat (canvas, y, x) index."""
    pixels = glyphs.pixels
    ink = glyphs.ink_box + origin[:, [0, 0, 1, 1]]
    cut = placed & (
        (ink[:, 0] < 0) | (ink[:, 1] > spec.height) | (ink[:, 2] < 0) | (ink[:, 3] > spec.width)
    )
    if cut.any() or not placed.all():
        keep = placed[pixels.owner]
        if cut.any():
            y = origin[pixels.owner, 0] + pixels.y
            x = origin[pixels.owner, 1] + pixels.x
            keep &= (y >= 0) & (y < spec.height) & (x >= 0) & (x < spec.width)
        pixels = pixels.take(np.flatnonzero(keep))
    base = (digits.canvas * spec.height + origin[:, 0]) * spec.width + origin[:, 1]
    return pixels, base[pixels.owner] + pixels.y * spec.width + pixels.x


def _compose(spec, layers: _Layers, pixels: _Pixels, flat, digits: _Digits, placed):
    """Max-combine the pixels' ink and label each pixel with its brightest digit.

    A pixel is labelled when its brightest digit's ink reaches ``mask_threshold``; ties go to
    the digit placed first. Returns each glyph's visible mask box (in its frame) and area.
    """
    np.maximum.at(layers.ink, flat, pixels.value)
    labelled = pixels.value >= spec.mask_threshold
    brightest = np.flatnonzero(labelled & (pixels.value == layers.ink[flat]))
    where = flat[brightest]
    ids = _instance_ids(digits.canvas, placed)[pixels.owner[brightest]]
    layers.instances[where] = _UNLABELLED
    np.minimum.at(layers.instances, where, ids)
    won = brightest[layers.instances[where] == ids]
    layers.semantic[flat[won]] = digits.label[pixels.owner[won]]
    return _boxes(pixels.take(won), len(digits.canvas))


def _instance_ids(canvas: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """Instance ids 1..n of the placed glyphs of each canvas, in slot order (uint16)."""
    rank = np.cumsum(placed)
    first_of_canvas = np.searchsorted(canvas, canvas)
    before = (rank - placed)[first_of_canvas]
    return np.where(placed, rank - before, 0).astype(np.uint16)


def _draw_styles(spec: CanvasSpec, rnd: CounterRandom) -> np.ndarray:
    """Each canvas's background style, an index into ``BACKGROUND_STYLES``."""
    weights = np.array([spec.backgrounds.get(style, 0.0) for style in BACKGROUND_STYLES])
    edges = np.cumsum(weights) / weights.sum()
    edges[-1] = 1.0
    return np.searchsorted(edges, rnd.uniform(Stream.STYLE)[:, 0], side="right")
