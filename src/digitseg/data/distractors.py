"""Non-digit marks (dots, commas, dashes, underlines, specks) drawn into the ink layer.

Marks keep clear of every digit's box, so they never change a digit's mask: they are
background in the labels, which is what the model must learn of punctuation on real scans.
On ``line`` layouts dots and commas sit on the line's baseline, as in "1,000.50".
"""

import cv2
import numpy as np

from digitseg.data.rng import CounterRandom
from digitseg.data.spec import MNIST_INK_SIDE, CanvasSpec

_TRIES = 8


def draw_distractors(
    spec: CanvasSpec, ink: np.ndarray, boxes: list[np.ndarray], rnd: CounterRandom, stream: int
) -> None:
    """Draw marks into ``ink`` (B, H, W) in place; ``boxes`` are each canvas's digit boxes."""
    low, high = spec.distractors
    if high == 0:
        return
    count = rnd.integers(stream, low, high)[:, 0]
    kind = np.floor(rnd.uniform(stream + 1, high) * len(spec.distractor_kinds)).astype(int)
    size = rnd.uniform(stream + 2, high)
    value = rnd.integers(stream + 3, 150, 255, high)
    x = rnd.uniform(stream + 4, high * _TRIES).reshape(-1, high, _TRIES)
    y = rnd.uniform(stream + 5, high * _TRIES).reshape(-1, high, _TRIES)
    digit_height = MNIST_INK_SIDE * sum(spec.scale) / 2
    height, width = ink.shape[1:]
    for b in np.flatnonzero(count):
        taken = boxes[b].tolist()
        baseline = max((box[3] for box in taken), default=None) if spec.layout == "line" else None
        for j in range(count[b]):
            name = spec.distractor_kinds[kind[b, j]]
            mark = _MARKS[name](size[b, j], digit_height)
            if mark.shape[0] > height or mark.shape[1] > width:
                continue
            mark = (mark * (value[b, j] / 255)).astype(np.uint8)
            for t in range(_TRIES):
                x0 = int(x[b, j, t] * (width - mark.shape[1]))
                if baseline is not None and name in ("dot", "comma"):
                    y0 = max(0, min(baseline - mark.shape[0] // 2, height - mark.shape[0]))
                else:
                    y0 = int(y[b, j, t] * (height - mark.shape[0]))
                box = [x0, y0, x0 + mark.shape[1], y0 + mark.shape[0]]
                if not any(_touch(box, other) for other in taken):
                    window = ink[b, y0 : box[3], x0 : box[2]]
                    np.maximum(window, mark, out=window)
                    taken.append(box)
                    break


def _touch(a, b) -> bool:
    """Whether two (x0, y0, x1, y1) boxes overlap or are 1 pixel apart."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


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


_MARKS = {"dot": _dot, "comma": _comma, "dash": _dash, "underline": _underline, "speck": _speck}
