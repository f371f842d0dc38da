"""Non-digit marks (dots, commas, dashes, underlines, specks, slashes, signs) drawn into the
ink layer.

Marks keep clear of every digit's box, so they never change a digit's mask: they are
background in the labels, which is what the model must learn of punctuation on real scans.
On ``line`` layouts dots and commas sit on the line's baseline, as in "1,000.50", and
slashes straddle the line, as in "19/19": a little taller than the digits (``slash``; nearer
upright: ``steep_slash``) or shorter and flatter (``flat_slash``). So do the signs that stand
beside numbers, drawn as pen strokes: "+", "#", "%", "$" and a parenthesis, "(" or ")" by
size.

*Separators* are such marks written between two digits of a line: the line layout widens the
gap before a digit to hold one (:func:`choose_separators`), and :func:`draw_separators`
draws it there, on the baseline (dots, commas) or across the middle (slashes, dashes).

Marks come in ``SIZES`` sizes per kind, drawn once per digit height; placing them is
vectorised over the canvases of a chunk, one mark at a time.
"""

from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from digitseg.data.rng import CounterRandom, to_integers
from digitseg.data.spec import MNIST_INK_SIDE, SIGN_KINDS, CanvasSpec

SIZES = 8
_TRIES = 8
_ON_BASELINE = ("dot", "comma")
_ACROSS_LINE = ("slash", "steep_slash", "flat_slash", *SIGN_KINDS)
# Free pixels kept on each side of a separator, so that it never touches a digit's box.
_CLEARANCE = 2
# A box (x0, y0, x1, y1) that touches nothing on a canvas.
NOWHERE = (-8, -8, -8, -8)


class _MarkBank(NamedTuple):
    """Every (kind, size) mark as ink pixels: mark m has pixels ``start[m]:start[m + 1]``."""

    height: np.ndarray
    width: np.ndarray
    start: np.ndarray
    y: np.ndarray
    x: np.ndarray
    value: np.ndarray


@lru_cache(maxsize=16)
def _mark_bank(kinds: tuple[str, ...], digit_height: float) -> _MarkBank:
    """The marks of ``kinds`` in ``SIZES`` sizes each, indexed ``kind * SIZES + size``."""
    marks = [
        _MARKS[kind]((size + 0.5) / SIZES, digit_height) for kind in kinds for size in range(SIZES)
    ]
    ys, xs = zip(*(np.nonzero(mark) for mark in marks), strict=True)
    counts = [len(y) for y in ys]
    return _MarkBank(
        height=np.array([mark.shape[0] for mark in marks]),
        width=np.array([mark.shape[1] for mark in marks]),
        start=np.concatenate([[0], np.cumsum(counts)]),
        y=np.concatenate(ys),
        x=np.concatenate(xs),
        value=np.concatenate([mark[y, x] for mark, y, x in zip(marks, ys, xs, strict=True)]),
    )


class Separators(NamedTuple):
    """Per digit of a line, the separator in the gap before it: its mark (an index into the
    ``separator_kinds`` bank, -1 for none), the extra gap it needs and its ink value."""

    mark: np.ndarray
    space: np.ndarray
    value: np.ndarray

    def take(self, rows: np.ndarray) -> "Separators":
        return Separators(*(column[rows] for column in self))


def choose_separators(
    spec: CanvasSpec, canvas: np.ndarray, slot: np.ndarray, rnd: CounterRandom, stream: int
) -> Separators:
    """Draw, with chance ``spec.separators``, a separator before each digit (its canvas, slot)."""
    if spec.separators == 0:
        none = np.zeros(len(canvas), np.int64)
        return Separators(none - 1, none, none)
    bank = _mark_bank(spec.separator_kinds, _digit_height(spec))
    u = rnd.uniform(stream, 4 * spec.max_digits).reshape(-1, spec.max_digits, 4)[canvas, slot]
    kind = to_integers(u[:, 1], 0, len(spec.separator_kinds) - 1)
    mark = np.where(
        u[:, 0] < spec.separators, kind * SIZES + to_integers(u[:, 2], 0, SIZES - 1), -1
    )
    space = np.where(mark >= 0, bank.width[mark] + 2 * _CLEARANCE, 0)
    return Separators(mark, space, to_integers(u[:, 3], 150, 255))


def draw_separators(
    spec: CanvasSpec,
    ink: np.ndarray,
    digit_boxes: np.ndarray,
    separators: Separators,
    where: tuple[np.ndarray, np.ndarray],
    gap_end: np.ndarray,
) -> np.ndarray:
    """Draw ``separators`` into ``ink`` (B, H, W) in place, each in the gap before the digit
    at ``where`` (canvas, slot), which ends at that digit's left mask edge ``gap_end``.

    ``digit_boxes`` are as for :func:`draw_distractors`. A separator that would touch a
    digit's box or leave the canvas is left out. Returns the drawn ones' boxes (B, slots, 4),
    ``NOWHERE`` elsewhere, for :func:`draw_distractors` to keep clear of.
    """
    occupied = np.full(digit_boxes.shape, NOWHERE, np.int64)
    if len(separators.mark) == 0:
        return occupied
    height, width = ink.shape[1:]
    canvas, slot = where
    bank = _mark_bank(spec.separator_kinds, _digit_height(spec))
    mark_h, mark_w = bank.height[separators.mark], bank.width[separators.mark]
    baseline, middle = _line_rows(digit_boxes, height)
    on_baseline = [i for i, k in enumerate(spec.separator_kinds) if k in _ON_BASELINE]
    row = np.where(np.isin(separators.mark // SIZES, on_baseline), baseline[canvas], middle[canvas])
    y0 = _centred_on(row, mark_h, height)
    x0 = gap_end - separators.space + _CLEARANCE
    boxes = np.stack([x0, y0, x0 + mark_w, y0 + mark_h], -1)
    clear = ~_touch(boxes[:, None], digit_boxes[canvas]).any(-1)
    drawn = clear & (x0 >= 0) & (x0 + mark_w <= width)
    mark, value = separators.mark[drawn], separators.value[drawn]
    _stamp(ink, bank, mark, value, canvas[drawn], y0[drawn], x0[drawn])
    occupied[canvas[drawn], slot[drawn]] = boxes[drawn]
    return occupied


def draw_distractors(
    spec: CanvasSpec,
    ink: np.ndarray,
    digit_boxes: np.ndarray,
    occupied: np.ndarray,
    rnd: CounterRandom,
    stream: int,
) -> None:
    """Draw marks into ``ink`` (B, H, W) in place, clear of ``digit_boxes`` and ``occupied``.

    ``digit_boxes`` (B, slots, 4) are each canvas's digit boxes (x0, y0, x1, y1), unused
    slots set to ``NOWHERE``; ``occupied`` (B, k, 4) are boxes of marks already drawn. A mark
    that finds no free place in a few tries is left out.
    """
    low, high = spec.distractors
    if high == 0:
        return
    n = len(ink)
    bank = _mark_bank(spec.distractor_kinds, _digit_height(spec))
    u = rnd.uniform(stream, 1 + high * (3 + 2 * _TRIES))
    count = to_integers(u[:, 0], low, high)
    kind_u, size_u, value_u = u[:, 1 : 1 + 3 * high].reshape(n, 3, high).transpose(1, 0, 2)
    kind = to_integers(kind_u, 0, len(spec.distractor_kinds) - 1)
    mark = kind * SIZES + to_integers(size_u, 0, SIZES - 1)
    corner_u = u[:, 1 + 3 * high :].reshape(n, 2, high, _TRIES)
    boxes = _candidate_boxes(spec, bank, mark, kind, corner_u, digit_boxes, ink.shape[1:])
    clear_of = np.concatenate([digit_boxes, occupied], 1)
    chosen, drawn = _first_clear(boxes, clear_of, count, ink.shape[1:])
    canvas, j = np.nonzero(drawn)
    corner = boxes[canvas, j, chosen[canvas, j]]
    value = to_integers(value_u[canvas, j], 150, 255)
    _stamp(ink, bank, mark[canvas, j], value, canvas, corner[:, 1], corner[:, 0])


def _candidate_boxes(spec: CanvasSpec, bank: _MarkBank, mark, kind, u, digit_boxes, shape):
    """Boxes (x0, y0, x1, y1) of each mark's ``_TRIES`` random places: (B, marks, tries, 4).

    On lines, dots and commas sit on the baseline (the lowest digit box bottom) and slashes
    are centred on the middle of the line (of the highest box top and the baseline).
    """
    height, width = shape
    mark_h, mark_w = bank.height[mark][..., None], bank.width[mark][..., None]
    x0 = np.floor(u[:, 0] * (width - mark_w + 1)).astype(np.int64)
    y0 = np.floor(u[:, 1] * (height - mark_h + 1)).astype(np.int64)
    if spec.layout == "line":
        baseline, middle = _line_rows(digit_boxes, height)
        placed = (baseline >= 0)[:, None, None]
        for kinds, y in ((_ON_BASELINE, baseline), (_ACROSS_LINE, middle)):
            ids = [i for i, k in enumerate(spec.distractor_kinds) if k in kinds]
            on_line = _centred_on(y[:, None, None], mark_h, height)
            y0 = np.where(np.isin(kind, ids)[..., None] & placed, on_line, y0)
    return np.stack(np.broadcast_arrays(x0, y0, x0 + mark_w, y0 + mark_h), -1)


def _line_rows(digit_boxes: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Each canvas's baseline (its lowest digit box bottom; -1 without digits) and middle row
    (halfway from the highest box top to the baseline)."""
    used = digit_boxes[..., 0] >= 0
    baseline = np.where(used, digit_boxes[..., 3], -1).max(1)
    top = np.where(used, digit_boxes[..., 1], height).min(1)
    return baseline, (top + baseline) // 2


def _centred_on(row: np.ndarray, mark_h: np.ndarray, height: int) -> np.ndarray:
    """Top rows of marks ``mark_h`` tall centred on ``row``, kept inside the canvas."""
    return np.clip(row - mark_h // 2, 0, height - mark_h)


def _digit_height(spec: CanvasSpec) -> float:
    """The ink height of a digit of mean scale, which sizes the marks."""
    return MNIST_INK_SIDE * sum(spec.scale) / 2


def _first_clear(boxes: np.ndarray, clear_of: np.ndarray, count: np.ndarray, shape):
    """Mark by mark, the first try clear of the ``clear_of`` boxes and of earlier marks.

    Returns the chosen try (B, marks) and whether the mark is drawn: one of the canvas's
    ``count`` marks, smaller than the canvas, with a clear try.
    """
    n, marks = boxes.shape[:2]
    height, width = shape
    size_ok = boxes[..., 0, 2] - boxes[..., 0, 0] <= width
    size_ok &= boxes[..., 0, 3] - boxes[..., 0, 1] <= height
    taken = [clear_of]
    drawn = np.zeros((n, marks), bool)
    chosen = np.zeros((n, marks), np.int64)
    rows = np.arange(n)
    for j in range(marks):
        clear = ~_touch(boxes[:, j, :, None], np.concatenate(taken, 1)[:, None]).any(-1)
        chosen[:, j] = clear.argmax(1)
        drawn[:, j] = (j < count) & clear[rows, chosen[:, j]] & size_ok[:, j]
        box = boxes[rows, j, chosen[:, j]]
        taken.append(np.where(drawn[:, j, None], box, NOWHERE)[:, None])
    return chosen, drawn


def _touch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether (x0, y0, x1, y1) boxes overlap or are 1 pixel apart."""
    return (
        (a[..., 0] <= b[..., 2])
        & (b[..., 0] <= a[..., 2])
        & (a[..., 1] <= b[..., 3])
        & (b[..., 1] <= a[..., 3])
    )


def _stamp(ink, bank: _MarkBank, mark, value, canvas, top, left) -> None:
    """Max-combine marks, scaled to ``value``, into ``ink`` with their corner at (top, left)."""
    sizes = bank.start[mark + 1] - bank.start[mark]
    first = np.cumsum(sizes) - sizes
    pixel = np.repeat(bank.start[mark] - first, sizes) + np.arange(sizes.sum())
    owner = np.repeat(np.arange(len(mark)), sizes)
    height, width = ink.shape[1:]
    flat = (canvas[owner] * height + top[owner] + bank.y[pixel]) * width
    flat += left[owner] + bank.x[pixel]
    scaled = (bank.value[pixel].astype(np.int64) * value[owner] // 255).astype(np.uint8)
    np.maximum.at(ink.reshape(-1), flat, scaled)


def _canvas(height: int, width: int) -> np.ndarray:
    return np.zeros((max(height, 1), max(width, 1)), np.uint8)


def _dot(size: float, digit_height: float) -> np.ndarray:
    radius = max(1, round((0.05 + 0.08 * size) * digit_height))
    mark = _canvas(2 * radius + 1, 2 * radius + 1)
    cv2.circle(mark, (radius, radius), radius, 255, -1, cv2.LINE_AA)
    return mark


def _comma(size: float, digit_height: float) -> np.ndarray:
    radius = max(1, round((0.05 + 0.06 * size) * digit_height))
    tail = 2 * radius + 2
    mark = _canvas(2 * radius + tail, 2 * radius + 2)
    cv2.circle(mark, (radius + 1, radius), radius, 255, -1, cv2.LINE_AA)
    cv2.line(
        mark, (2 * radius, radius), (1, 2 * radius + tail - 2), 255, max(1, radius), cv2.LINE_AA
    )
    return mark


def _dash(size: float, digit_height: float) -> np.ndarray:
    length = max(3, round((0.3 + 0.4 * size) * digit_height))
    thickness = 1 + int(size * 3)
    mark = _canvas(thickness + 2, length + 2)
    cv2.line(mark, (1, thickness // 2 + 1), (length, thickness // 2 + 1), 255, thickness)
    return mark


def _underline(size: float, digit_height: float) -> np.ndarray:
    length = max(6, round((1.0 + 2.0 * size) * digit_height))
    thickness = 1 + int(size * 2)
    mark = _canvas(thickness + 2, length + 2)
    cv2.line(mark, (1, thickness // 2 + 1), (length, thickness // 2 + 1), 255, thickness)
    return mark


def _speck(size: float, digit_height: float) -> np.ndarray:
    mark = _canvas(3, 3)
    mark[1, 1] = 255
    if size > 0.5:
        mark[1, 2] = mark[2, 1] = 160
    return mark


def _slash(size: float, digit_height: float) -> np.ndarray:
    """A "/" slanting 38 to 25 degrees from upright: more than most upright-written ones, so
    that the slash stays apart from the digit 1."""
    return _tall_stroke(0.8 - 0.35 * size, size, digit_height)


def _steep_slash(size: float, digit_height: float) -> np.ndarray:
    """A "/" slanting 12 to 25 degrees from upright: what sets it apart from a 1 is that it
    leans more than the upright digits of its line."""
    return _tall_stroke(np.tan(np.radians(12 + 13 * size)), size, digit_height)


def _tall_stroke(width_per_height: float, size: float, digit_height: float) -> np.ndarray:
    """A "/" 0.95-1.35 digit heights tall (by ``size``), ``width_per_height`` as wide."""
    height = max(5, round((0.95 + 0.4 * size) * digit_height))
    return _stroke(height, round(height * width_per_height), size, digit_height)


def _flat_slash(size: float, digit_height: float) -> np.ndarray:
    """A "/" 0.6-1.0 digit heights tall, slanting 60 to 40 degrees from upright: the short,
    flat slash many writers put in dates, lower than the digits beside it."""
    height = max(4, round((0.6 + 0.4 * size) * digit_height))
    return _stroke(height, round(height * np.tan(np.radians(60 - 20 * size))), size, digit_height)


def _stroke(height: int, width: int, size: float, digit_height: float) -> np.ndarray:
    """A straight "/" from the bottom left to the top right of a ``height`` x ``width`` box,
    drawn with a pen as thin as a digit's strokes or a pixel thicker (alternate pairs of
    sizes), so that a slash is told from a 1 by its lean, not by a thicker pen."""
    width = max(2, width)
    thickness = max(1, round(0.07 * digit_height)) + int(size * 4) % 2
    mark = _canvas(height + thickness + 1, width + thickness + 1)
    low, high = (thickness // 2 + 1, height), (width, thickness // 2 + 1)
    cv2.line(mark, low, high, 255, thickness, cv2.LINE_AA)
    return mark


def _sign_box(size: float, digit_height: float, height: float, aspect: float):
    """A blank mark for a sign ``height`` (+ 0.3 by ``size``) digit heights tall and
    ``aspect`` times as wide, its pen's thickness, and its inner (top, left, bottom, right)."""
    tall = max(6, round((height + 0.3 * size) * digit_height))
    wide = max(4, round(tall * aspect))
    pen = max(1, round(0.1 * digit_height)) + int(size > 0.5)
    edge = pen // 2 + 1
    return _canvas(tall + 2 * edge, wide + 2 * edge), pen, (edge, edge, tall + edge, wide + edge)


def _plus(size: float, digit_height: float) -> np.ndarray:
    mark, pen, (top, left, bottom, right) = _sign_box(size, digit_height, 0.45, 1.0)
    middle_row, middle_col = (top + bottom) // 2, (left + right) // 2
    cv2.line(mark, (left, middle_row), (right, middle_row), 255, pen, cv2.LINE_AA)
    cv2.line(mark, (middle_col, top), (middle_col, bottom), 255, pen, cv2.LINE_AA)
    return mark


def _hash(size: float, digit_height: float) -> np.ndarray:
    """A "#": two strokes leaning a little, crossed by two level ones."""
    mark, pen, (top, left, bottom, right) = _sign_box(size, digit_height, 0.7, 0.8)
    width, height = right - left, bottom - top
    for share in (0.35, 0.75):
        x = left + round(share * width)
        cv2.line(mark, (x, top), (x - width // 5, bottom), 255, pen, cv2.LINE_AA)
        row = top + round((share - 0.05) * height)
        cv2.line(mark, (left, row), (right, row), 255, pen, cv2.LINE_AA)
    return mark


def _percent(size: float, digit_height: float) -> np.ndarray:
    """A "%": a stroke from the bottom left to the top right, a small ring at either end."""
    mark, pen, (top, left, bottom, right) = _sign_box(size, digit_height, 0.7, 0.8)
    radius = max(1, (right - left) // 5)
    cv2.line(mark, (left, bottom), (right, top), 255, pen, cv2.LINE_AA)
    thin = max(1, pen * 2 // 3)
    cv2.circle(mark, (left + radius, top + radius), radius, 255, thin, cv2.LINE_AA)
    cv2.circle(mark, (right - radius, bottom - radius), radius, 255, thin, cv2.LINE_AA)
    return mark


def _dollar(size: float, digit_height: float) -> np.ndarray:
    """A "$": an S of two arcs, a stroke through it top to bottom."""
    mark, pen, (top, left, bottom, right) = _sign_box(size, digit_height, 0.9, 0.55)
    width, height = right - left, bottom - top
    centre_col, half_width, quarter = left + width // 2, max(1, width // 2), max(1, height // 5)
    upper, lower = top + height * 3 // 10, top + height * 7 // 10
    cv2.ellipse(mark, (centre_col, upper), (half_width, quarter), 0, 90, 330, 255, pen)
    cv2.ellipse(mark, (centre_col, lower), (half_width, quarter), 0, -90, 150, 255, pen)
    cv2.line(mark, (centre_col, top), (centre_col, bottom), 255, max(1, pen - 1), cv2.LINE_AA)
    return mark


def _parenthesis(size: float, digit_height: float) -> np.ndarray:
    """A "(" for the smaller half of the sizes, ")" for the larger."""
    mark, pen, (top, left, bottom, right) = _sign_box(size, digit_height, 1.0, 0.35)
    centre = (right + (right - left), (top + bottom) // 2)
    axes = (2 * (right - left), (bottom - top) // 2)
    cv2.ellipse(mark, centre, axes, 0, 150, 210, 255, pen, cv2.LINE_AA)
    return mark[:, ::-1].copy() if size > 0.5 else mark


_MARKS = {
    "dot": _dot,
    "comma": _comma,
    "dash": _dash,
    "underline": _underline,
    "speck": _speck,
    "slash": _slash,
    "steep_slash": _steep_slash,
    "flat_slash": _flat_slash,
    "plus": _plus,
    "hash": _hash,
    "percent": _percent,
    "dollar": _dollar,
    "parenthesis": _parenthesis,
}
