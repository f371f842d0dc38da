"""The printed upright lines of forms and squared paper, found and painted over before the net
reads an image: the net learnt level ruled lines, but never saw upright ones, and reads them
as 1s."""

import math

import cv2
import numpy as np

from digitseg.utils.ink import ink_rise, rise_thresholds, rule_lines, without_lines

# Upright lines are box sides or grid lines when at least this many run between the same two
# level lines (or edges of the image): a row of boxes, squared paper.
MIN_BOX_LINES = 3
# Lines are looked for in images shrunk to at most this many pixels (a line of a photo's
# form or squared paper is still a line there, and finding them is many times faster).
MAX_LINE_PIXELS = 500_000
# Lines are painted over with the mean colour of the paper in a square around each pixel:
# PAPER_WINDOW px plus this share of the image's shorter side on each side.
PAPER_WINDOW = 9
PAPER_WINDOW_SHARE = 1 / 50


def without_box_lines(image: np.ndarray, light_ink: np.ndarray) -> np.ndarray:
    """``image`` (uint8 (H, W) or (H, W, 3)) with its :func:`box_lines` painted over with
    the paper around them; ``light_ink`` is the image as light ink on dark. The image itself
    where it has none. The lines are looked for in the image shrunk to at most
    MAX_LINE_PIXELS."""
    height, width = light_ink.shape
    factor = min(1.0, math.sqrt(MAX_LINE_PIXELS / light_ink.size))
    shrunk = light_ink
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        shrunk = cv2.resize(light_ink, size, interpolation=cv2.INTER_AREA)
    rise = ink_rise(shrunk)
    lines = box_lines(rise)
    if not lines.any():
        return image
    if factor < 1:
        lines = cv2.resize(lines.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        lines, rise = lines > 0, ink_rise(light_ink)
    marks = rise > rise_thresholds(rise)[1]
    # A pixel around the lines too (their soft edges), but not the strokes that cross them.
    edge = 2 * math.ceil(1 / factor) + 1
    around = cv2.dilate(lines.view(np.uint8), np.ones((edge, edge), np.uint8)) > 0
    return _painted(image, around & (lines | ~marks), ~marks)


def _painted(image: np.ndarray, paint: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """``image`` with its ``paint`` pixels (bool) set to the mean colour of the ``paper``
    pixels (bool) in a square around each (PAPER_WINDOW, PAPER_WINDOW_SHARE), or, inside a
    line wider than that square, to the median paper colour; worked out only around the
    painted pixels."""
    side = PAPER_WINDOW + 2 * round(min(paper.shape) * PAPER_WINDOW_SHARE)
    rows, columns = np.nonzero(paint)
    y0, x0 = max(rows.min() - side, 0), max(columns.min() - side, 0)
    window = (slice(y0, rows.max() + side + 1), slice(x0, columns.max() + side + 1))
    pixels = image[window].astype(np.float32).reshape(*paper[window].shape, -1)
    weight = paper[window].astype(np.float32)
    if not weight.any():
        return image
    colour = cv2.blur(pixels * weight[..., None], (side, side)).reshape(pixels.shape)
    weight = cv2.blur(weight, (side, side))
    colour /= np.maximum(weight, 1e-6)[..., None]
    colour[weight < 1e-3] = np.median(pixels[paper[window]], axis=0)  # no paper around
    out = image.copy()
    where = paint[window]
    out[window][where] = np.clip(np.rint(colour[where]), 0, 255).reshape(-1, *image.shape[2:])
    return out


def box_lines(rise: np.ndarray) -> np.ndarray:
    """Bool (H, W): the pixels of the upright lines of boxes and squared paper, given how far
    each pixel rises above the paper (:func:`~digitseg.utils.ink.ink_rise`), without the
    writing that crosses or runs along them or the level lines they cross.

    Such a line is an upright rule (a :func:`~digitseg.utils.ink.rule_lines` of the
    marks turned on its side) that meets a level rule at least half as wide as the image
    (two, where it ends at the image's edge), whose two ends each meet such a rule or the
    image's edge, and which shares its ends with at least MIN_BOX_LINES - 1 others: the
    sides of a row of boxes, the lines of squared paper. A written 1 is as straight and
    thin, and may reach from one ruled line to the next, but rarely stands in a row of two
    more that do.

    A line is dark where most of its rows hold ink, else faint. Along a faint line the
    writing's pixels stay; across a dark one, the strokes that cross it.
    """
    ink_threshold, marks_threshold = rise_thresholds(rise)
    marks, ink = rise > marks_threshold, rise > ink_threshold
    turned = np.ascontiguousarray(marks.T)
    found = np.zeros(marks.shape, bool)
    upright, upright_thickness = rule_lines(turned)
    if not upright_thickness:  # most images: nothing more to look for
        return found
    level, level_thickness = rule_lines(marks)
    long_level = _long_lines(level) if level_thickness else np.zeros_like(found)
    if not long_level.any():
        return found
    reach = level_thickness + 2
    square = np.ones((2 * reach + 1,) * 2, np.uint8)
    near_level = cv2.dilate(long_level.view(np.uint8), square) > 0
    count, parts, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(upright.T).view(np.uint8), connectivity=8
    )
    height = marks.shape[0]
    candidates = {}  # part: (top, bottom, dark), an end at the image's edge at the edge
    for part in range(1, count):
        x, y, w, h = stats[part, :4]
        line = parts[y : y + h, x : x + w] == part
        meets = near_level[y : y + h, x : x + w] & line
        at_top, at_bottom = y <= reach, y + h >= height - reach
        top = at_top or meets[: reach + 1].any()
        bottom = at_bottom or meets[-reach - 1 :].any()
        # An end at the image's edge could be a tight crop's 1: then two rules must cross it.
        crossed = np.diff(meets.any(axis=1).astype(np.int8), prepend=0).clip(0).sum()
        if top and bottom and crossed >= (2 if at_top or at_bottom else 1):
            dark = 2 * (ink[y : y + h, x : x + w] & line).any(axis=1).sum() >= h
            candidates[part] = (0 if at_top else y, height if at_bottom else y + h, dark)
    dark_lines = np.zeros(marks.shape, bool)
    widest = 0  # the dark lines' greatest mean width
    for part, (top, bottom, dark) in candidates.items():
        sharing = sum(
            abs(t - top) <= reach and abs(b - bottom) <= reach for t, b, _ in candidates.values()
        )
        if sharing < MIN_BOX_LINES:
            continue
        x, y, w, h, area = stats[part]
        line = parts[y : y + h, x : x + w] == part
        if dark:
            dark_lines[y : y + h, x : x + w] |= line
            widest = max(widest, math.ceil(area / h))
        else:
            found[y : y + h, x : x + w] |= line & ~ink[y : y + h, x : x + w]
    if widest:
        # Strokes crossing a dark line stay: the ink, with the soft edges of the writing but
        # not the paper's grain.
        writing = ink & ~dark_lines
        edges = cv2.dilate(writing.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
        strokes = np.ascontiguousarray((ink | (marks & edges)).T)
        crossing = without_lines(strokes, np.ascontiguousarray(dark_lines.T), widest).T
        found |= dark_lines & ~crossing
    return found & ~level


def _long_lines(level: np.ndarray) -> np.ndarray:
    """The parts of ``level`` (bool) at least half as wide as the image."""
    _, parts, stats, _ = cv2.connectedComponentsWithStats(level.view(np.uint8))
    long = stats[:, cv2.CC_STAT_WIDTH] * 2 >= level.shape[1]
    long[0] = False  # the background
    return long[parts]
