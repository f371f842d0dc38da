"""Image helpers: an image's ink as light on dark, its polarity, and where its ink is,
whatever the paper's shading and ruling (what the reading's size and slant estimates
measure, and what turns labelled scans into training targets)."""

import math

import cv2
import numpy as np
from scipy import ndimage


def light_ink(gray: np.ndarray, polarity: str) -> np.ndarray:
    """``gray`` (H, W) uint8 as light ink on a dark ground, given its ``polarity``."""
    return gray if polarity == "light_on_dark" else 255 - gray


def detect_polarity(gray: np.ndarray) -> str:
    """``dark_on_light`` when most of the image is light (paper), else ``light_on_dark``."""
    return "dark_on_light" if np.median(gray) > 127 else "light_on_dark"


# The paper's level around each pixel: its median over a square half the image's shorter
# side (at least MIN_PAPER_KERNEL px), so that a stroke covers less than half of it even in
# an image cropped tight around a bold digit.
MIN_PAPER_KERNEL = 31
# OpenCV's median of 8-bit images fails ("k < 16") on mostly flat paper from squares of about
# 301 px; up to 255 px (under 2**16 pixels) it held in every try. Larger images have their
# paper's level taken on the image shrunk to fit that square (the level is smooth).
MAX_MEDIAN_KERNEL = 255
# Ruled lines and underlines: runs of ink at least MIN_RULE_RUN of the image's shorter side
# long, horizontal but for a climb of RULE_CLIMB of that side (rules tilted up to about 4
# degrees in a photo), in parts MIN_RULE_ASPECT times as wide as they are thick. A digit's
# edge is rarely that long and thin; where it is (a thin pen's bar across a digit filling
# the image), only the bar goes and the digit keeps most of its height.
MIN_RULE_RUN = 1 / 8
RULE_CLIMB = 1 / 300
MIN_RULE_ASPECT = 16
# The paper along an image's edge, which a sheared or rotated image continues, is measured
# on at most this many of its pixels (paper's light changes slowly).
PAPER_ROWS = 256


def ink_mask(light_ink: np.ndarray) -> np.ndarray:
    """Bool (H, W): where ``light_ink`` (uint8, light ink on dark) rises above the paper's
    local level by more than Otsu's threshold on that rise, so that shading under uneven
    light does not count."""
    rise = ink_rise(light_ink)
    return rise > _otsu(rise)


def ink_rise(light_ink: np.ndarray) -> np.ndarray:
    """uint8 (H, W): how far ``light_ink`` rises above the paper's local level."""
    return cv2.subtract(light_ink, paper_level(light_ink))


def rise_thresholds(rise: np.ndarray) -> tuple[float, float]:
    """``(ink, marks)``: the rise (:func:`ink_rise`) above which a pixel is ink, as in
    :func:`ink_mask`, and above which it is a mark at all, ink or fainter, such as a printed
    line (Otsu's threshold among the rises under the ink's)."""
    ink = _otsu(rise)
    return ink, _otsu(rise[rise <= ink].reshape(1, -1))


def _otsu(values: np.ndarray) -> float:
    return cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]


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


def without_rules(ink: np.ndarray) -> np.ndarray:
    """Bool ``ink`` (H, W) without its ruled lines and underlines, but with the strokes that
    cross or touch them (ink running on across a rule, as through a digit, stays).

    In a photo close enough to make the paper's lines as thick as strokes, the lines would
    otherwise pass for characters lying flat.
    """
    ink = np.asarray(ink, bool)
    rules, thickness = rule_lines(ink)
    return without_lines(ink, rules, thickness) if thickness else ink


def rule_lines(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Bool (H, W): the ink of ``ink`` (bool) in ruled lines and underlines, strokes that
    cross them included, and the lines' mean thickness in px (0 where there are none)."""
    side = min(ink.shape)
    length = max(3, round(side * MIN_RULE_RUN))
    climb = round(side * RULE_CLIMB)
    pixels = np.asarray(ink, bool).view(np.uint8)
    # Thickened upwards and downwards, a tilted rule holds horizontal runs as long as a level one.
    thick = cv2.dilate(pixels, np.ones((2 * climb + 1, 1), np.uint8))
    runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, length), np.uint8)) & pixels
    _, parts, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    widths, areas = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_AREA]
    # Wide for their mean thickness (area / width).
    wide = widths * widths >= MIN_RULE_ASPECT * areas
    wide[0] = False  # the background
    if not wide.any():
        return np.zeros(ink.shape, bool), 0
    return wide[parts], math.ceil(areas[wide].sum() / widths[wide].sum())


def without_lines(ink: np.ndarray, rules: np.ndarray, thickness: int) -> np.ndarray:
    """Bool ``ink`` without its level ``rules`` (bool, ``thickness`` px thick), but with the
    strokes that cross or touch them."""
    climb = round(min(ink.shape) * RULE_CLIMB)
    pixels = ink.view(np.uint8)
    # Ink in a column taller than a rule is thick is a stroke, where it meets a rule too...
    tall = cv2.morphologyEx(pixels, cv2.MORPH_OPEN, np.ones((thickness + 3, 1), np.uint8)) > 0
    strokes = ink & (~rules | tall)
    # ... and so is a stretch of rule between strokes (a thin curve crossing it at a slant);
    # the span covers the rule and the strokes' ends within the climb.
    span = (thickness + 2 * climb) // 2 * 2 + 3  # odd, so that the closing stays in place
    joined = cv2.morphologyEx(
        strokes.view(np.uint8), cv2.MORPH_CLOSE, np.ones((span, span), np.uint8)
    )
    return strokes | (rules & (joined > 0))


def paper_along(line: np.ndarray) -> np.ndarray:
    """``line`` (N[, C]), a row or column of pixels such as an image's edge, with the ink
    that crosses it evened out: the median of each pixel's neighbours a quarter of the
    line's length either way (taken on at most PAPER_ROWS of them)."""
    step = -(-len(line) // PAPER_ROWS)
    rows = line[::step]
    size = len(rows) // 4 * 2 + 1
    paper = ndimage.median_filter(rows, size=(size,) + (1,) * (line.ndim - 1), mode="nearest")
    return np.repeat(paper, step, axis=0)[: len(line)]


def with_paper_edges(image: np.ndarray, axis: int) -> np.ndarray:
    """``image`` (H, W[, C]) with a row (``axis`` 0) or column (``axis`` 1) more on each
    side: the paper along its first and last (:func:`paper_along`), which a warp with
    replicated borders runs on instead of the ink or grain at the edge."""
    edges = [np.expand_dims(paper_along(np.take(image, k, axis=axis)), axis) for k in (0, -1)]
    return np.concatenate([edges[0], image, edges[1]], axis=axis)
