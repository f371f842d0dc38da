"""From per-pixel class probabilities (and an optional instance-border map) to digit instances.

:func:`extract_instances` works in five steps:

1. **Classes.** The label map is the argmax of the probabilities; digit pixels are those not
   labelled background. A connected part of one class smaller than ``island_area`` (a few
   pixels of a 3 inside an 8) takes the class most of its neighbours have, where the net gave
   that class at least ``island_prob`` there; a component made only of such islands takes the
   class of highest summed probability.
2. **Split.** A class's connected part is split where the border map separates touching
   digits of the same class (the "00" of "1000"): seeds are the connected parts of its pixels
   with border probability below ``border_threshold`` (seeds under ``min_seed_area`` pixels
   are ignored), and a part with two seeds or more is shared among them by a seeded
   watershed on the border probability, kept inside the part. Without a border map, a part
   wider than ``split_aspect`` times the digit height is cut at its emptiest columns into
   digits of aspect about ``digit_aspect`` (distance-transform peaks, the usual seeds,
   follow the skeleton of thin strokes and do not mark digits).
3. **Merge.** Fragments of one digit (broken strokes, or a digit cut in two by another one
   crossing it) are merged when the union stays digit-sized (see :class:`PostprocessConfig`).
4. **Filter.** Specks under ``min_area`` pixels are dropped, then instances shorter than
   ``min_height_ratio`` of the median instance height (a comma or a dot the net took for ink).
5. **Describe.** Each instance gets its class, score, box, area and mask; the list comes in
   reading order (:func:`~digitseg.postprocess.reading_order.order_instances`).
"""

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_CLASSES, NUM_DIGITS
from digitseg.postprocess.reading_order import order_instances

# Growing by these in turn spreads labels by octagonal distance, close to Euclidean.
_STEPS = (cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)), np.ones((3, 3), np.uint8))
# The watershed floods the border map in this many equal steps from the seed threshold to 1.
_FLOOD_LEVELS = 5
# Offsets of the four "forward" 8-neighbours: each neighbouring pair of pixels is seen once.
_FORWARD = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class PostprocessConfig:
    """Thresholds of :func:`extract_instances`; the defaults suit digits about 15-40 px tall.

    - ``min_area`` (16): instances with fewer pixels are dropped as specks (the canvas
      generator's ``min_visible_area``).
    - ``min_height_ratio`` (0.35): instances shorter than this fraction of the median height
      of the image's instances are dropped (dots and commas).
    - ``island_area`` (16), ``island_prob`` (0.25): a connected part of one class with fewer
      pixels takes the class most of its neighbours have when the net's mean probability of
      that class over the part is at least ``island_prob`` (class noise inside a digit, not a
      corner of a neighbouring digit).
    - ``border_threshold`` (0.5): pixels with a lower border probability seed the watershed.
    - ``min_seed_area`` (4): smaller seeds are ignored (their pixels are flooded).
    - ``merge_distance`` (4.0): pieces of one class whose nearest pixels are at most this far
      apart (Euclidean, px) are merge candidates, the closest first. They merge when their
      union box is digit-sized: at most ``max_merge_aspect`` (1.2) times as wide as high,
      ``max_merge_width`` (1.0) times as wide and ``max_merge_height`` (1.3) times as high as
      the typical digit height (that of the connected component most digit pixels are in).
      A pair that does not qualify as a crossed digit (another digit's pixels within
      ``merge_distance`` of both halves) must also not touch and not be two whole digits side
      by side, as "11" with a small gap: both at least ``full_height`` (0.75) of the union's
      height.
    - ``split_aspect`` (1.3), ``digit_aspect`` (0.75): without a border map, a part wider than
      ``split_aspect`` times its height and the typical digit height is cut into
      ``round(width / (digit_aspect * height))`` digits (at least 2).
    """

    min_area: int = 16
    min_height_ratio: float = 0.35
    island_area: int = 16
    island_prob: float = 0.25
    border_threshold: float = 0.5
    min_seed_area: int = 4
    merge_distance: float = 4.0
    max_merge_aspect: float = 1.2
    max_merge_height: float = 1.3
    max_merge_width: float = 1.0
    full_height: float = 0.75
    split_aspect: float = 1.3
    digit_aspect: float = 0.75


@dataclass(frozen=True, eq=False)
class Instance:
    """One digit found in an image.

    ``label`` is the digit (0-9); ``score`` the mean, over the instance's pixels, of the
    predicted (softmax) probability of that digit: a calibrated confidence when the net's
    probabilities are. ``bbox`` is (x0, y0, x1, y1) with exclusive ends, tight around the
    mask; ``area`` the number of pixels; ``mask`` a bool array of the box's size.
    """

    label: int
    score: float
    bbox: tuple[int, int, int, int]
    area: int
    mask: np.ndarray


def instance_borders(instances: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels of each instance with a *different* instance at most ``width`` px away.

    ``instances`` is an (H, W) map of ids below 65535, 0 for background; distance is
    Chebyshev (``width=1``: the 8 neighbours), as digit parts are 8-connected and digits
    often touch only diagonally. Only contacts between instances count, not an instance's
    edge with the background or the image frame: MNIST strokes are 2-4 px wide, so marking
    the outer edge too would mark two thirds of every digit and leave some digits no pixel
    to seed from. The border is marked on both sides of a contact, so no seed pixel of one
    digit neighbours one of another. This is also the training target of the border channel.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    ids = np.ascontiguousarray(instances, dtype=np.uint16)
    # For the minimum, background becomes the largest id, so that only other ids count.
    ids_or_max = np.where(ids == 0, np.iinfo(np.uint16).max, ids).astype(np.uint16)
    square = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    largest = cv2.dilate(ids, square, borderType=cv2.BORDER_REPLICATE)
    smallest = cv2.erode(ids_or_max, square, borderType=cv2.BORDER_REPLICATE)
    return (ids > 0) & ((largest != ids) | (smallest != ids_or_max))


def extract_instances(
    probs: np.ndarray, border: np.ndarray | None = None, config: PostprocessConfig | None = None
) -> list[Instance]:
    """Digit instances of one image, in reading order (see the module docstring).

    ``probs`` is (11, H, W), the class probabilities of each pixel; ``border`` (H, W) in
    [0, 1] (or bool), the probability that a pixel lies where two digits touch (see
    :func:`instance_borders`), or None.
    """
    config = config or PostprocessConfig()
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] != NUM_CLASSES:
        raise ValueError(f"probs must be ({NUM_CLASSES}, H, W), got shape {probs.shape}")
    if border is not None and np.shape(border) != probs.shape[1:]:
        raise ValueError(f"border must be {probs.shape[1:]}, got shape {np.shape(border)}")
    labels = probs.argmax(axis=0).astype(np.uint8)
    labels = _absorb_islands(labels, probs, config)
    digit_height = _typical_height(labels != BACKGROUND)
    pieces, classes, touching = _split(labels, border, digit_height, config)
    pieces, classes = _merge_fragments(pieces, classes, touching, digit_height, config)
    return order_instances(_describe(pieces, classes, probs, config))


# --- 1. classes --------------------------------------------------------------------------------


def _class_parts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected parts of each digit class: id map (0 = background), class and area per id."""
    parts = np.zeros(labels.shape, np.int32)
    classes, areas = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
    for c in np.unique(labels[labels != BACKGROUND]):
        n, ids, stats, _ = cv2.connectedComponentsWithStats(
            (labels == c).view(np.uint8), connectivity=8, ltype=cv2.CV_32S
        )
        inside = ids > 0
        parts[inside] = ids[inside] + (len(np.concatenate(classes)) - 1)
        classes.append(np.full(n - 1, c))
        areas.append(stats[1:, cv2.CC_STAT_AREA])
    return parts, np.concatenate(classes), np.concatenate(areas)


def _neighbour_pairs(ids: np.ndarray):
    """Values of every pair of 8-neighbouring pixels of ``ids``, as two flat arrays."""
    h, w = ids.shape
    firsts, seconds = [], []
    for dy, dx in _FORWARD:
        a = ids[: h - dy, max(0, -dx) : w - max(0, dx)]
        b = ids[dy:, max(0, dx) : w - max(0, -dx)]
        firsts.append(a.ravel())
        seconds.append(b.ravel())
    return np.concatenate(firsts), np.concatenate(seconds)


def _absorb_islands(labels: np.ndarray, probs: np.ndarray, config: PostprocessConfig):
    """Give class islands under ``island_area`` pixels the class most of their neighbours
    have, where the net found that class plausible there (``island_prob``)."""
    parts, classes, areas = _class_parts(labels)
    island = (areas < config.island_area) & (np.arange(len(areas)) > 0)
    if not island.any():
        return labels
    classes = classes.copy()
    inside = island[parts]
    mean_probs = (
        np.stack(
            [np.bincount(parts[inside], probs[c][inside], len(areas)) for c in range(NUM_DIGITS)],
            axis=1,
        )
        / np.maximum(areas, 1)[:, None]
    )
    # Vote among neighbours already settled; islands next to islands settle in later rounds.
    settled = ~island
    a, b = _neighbour_pairs(parts)
    pairs = np.concatenate([np.stack([a, b]), np.stack([b, a])], axis=1)
    pairs = pairs[:, island[pairs[0]] & (pairs[1] > 0) & (pairs[0] != pairs[1])]
    while True:
        votes = pairs[:, ~settled[pairs[0]] & settled[pairs[1]]]
        if votes.shape[1] == 0:
            break
        tally = np.zeros((len(areas), NUM_DIGITS), np.int64)
        np.add.at(tally, (votes[0], classes[votes[1]]), 1)
        voted = np.flatnonzero(tally.sum(axis=1))
        winner = tally[voted].argmax(axis=1)
        plausible = mean_probs[voted, winner] >= config.island_prob
        classes[voted[plausible]] = winner[plausible]
        settled[voted] = True
    labels = classes[parts].astype(np.uint8)
    labels[parts == 0] = BACKGROUND
    unsettled = ~settled[parts]
    if unsettled.any():
        _, components = cv2.connectedComponents(unsettled.view(np.uint8), connectivity=8)
        sums = np.stack(
            [np.bincount(components[unsettled], probs[c][unsettled]) for c in range(NUM_DIGITS)]
        )
        labels[unsettled] = sums.argmax(axis=0)[components[unsettled]]
    return labels


def _typical_height(digits: np.ndarray) -> float:
    """The height of most digit pixels' connected component: a digit's height, robust to
    fragments (few pixels) and to touching digits (a line of them is as high as one); 0 when
    there are none.
    """
    n, _, stats, _ = cv2.connectedComponentsWithStats(digits.view(np.uint8), connectivity=8)
    if n == 1:
        return 0.0
    heights, areas = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(heights)
    cumulative = np.cumsum(areas[order])
    return float(heights[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


# --- 2. split ----------------------------------------------------------------------------------


def _split(labels, border: np.ndarray | None, digit_height: float, config: PostprocessConfig):
    """Pieces: class parts split by seeds of the border map, or by columns without one.

    Returns the piece id map, the class of each id, and the set of touching id pairs.
    """
    parts, classes, areas = _class_parts(labels)
    boxes = ndimage.find_objects(parts)
    pieces = parts.copy()
    classes = list(classes)
    if border is None:
        splittable = _wide(boxes, digit_height, config.split_aspect)
    else:
        splittable = _crossed(parts, areas, border, config)
    for part in splittable:
        box = boxes[part - 1]
        inside = parts[box] == part
        if border is None:
            height = max(inside.shape[0], digit_height)
            split = _column_split(inside, round(inside.shape[1] / (config.digit_aspect * height)))
        else:
            split = _seeded_split(inside, border[box], config)
        if split is not None:
            # The first sub-piece keeps the part's id, the others get new ones.
            extra = int(split.max()) - 1
            new_ids = np.array([part, *range(len(classes), len(classes) + extra)])
            pieces[box][inside] = new_ids[split[inside] - 1]
            classes.extend([classes[part]] * extra)
    return pieces, np.array(classes), _touching(pieces)


def _wide(boxes, digit_height: float, split_aspect: float) -> np.ndarray:
    """Ids of the parts wider than ``split_aspect`` times their height and the digit height."""
    sides = np.array([(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in boxes], int)
    heights, widths = sides.reshape(-1, 2).T
    return 1 + np.flatnonzero(widths > split_aspect * np.maximum(heights, digit_height))


def _crossed(parts, areas, border, config: PostprocessConfig) -> np.ndarray:
    """Ids of the parts with border pixels and room for two seeds."""
    on_border = parts[(parts > 0) & (border >= config.border_threshold)]
    crossed = np.bincount(on_border, minlength=len(areas)) > 0
    return np.flatnonzero(crossed & (areas >= 2 * config.min_seed_area))


def _seeded_split(inside: np.ndarray, border: np.ndarray, config: PostprocessConfig):
    """Watershed of one part from its seeds, or None when it has fewer than two."""
    seeds = (inside & (border < config.border_threshold)).view(np.uint8)
    n, markers, stats, _ = cv2.connectedComponentsWithStats(seeds, connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < config.min_seed_area
    small[0] = False
    if n - 1 - small.sum() < 2:
        return None
    renumber = np.zeros(n, np.uint16)
    renumber[~small] = np.arange((~small).sum())
    return _flood(renumber[markers], inside, border, config.border_threshold)


def _flood(markers: np.ndarray, inside: np.ndarray, border: np.ndarray, threshold: float):
    """Seeded watershed: grow ``markers`` over ``inside`` through ever higher border levels.

    At each level, labels spread over the unlabelled pixels at or below it one step at a
    time, 4- and 8-neighbours in turn, so a plateau is shared by (octagonal) distance to the
    seeds; where two labels arrive at once, the larger one wins. (scipy's ``watershed_ift``
    gives a whole plateau to one seed, and border maps are mostly plateaus.)
    """
    labels = markers.copy()
    for level in [*np.linspace(threshold, 1.0, _FLOOD_LEVELS)[:-1], np.inf]:
        todo = inside & (labels == 0) & (border <= level)
        idle = 0
        for step in itertools.cycle(_STEPS):
            if not todo.any() or idle == len(_STEPS):
                break
            grown = cv2.dilate(labels, step)
            new = todo & (grown > 0)
            labels[new] = grown[new]
            todo &= ~new
            idle = 0 if new.any() else idle + 1
    return labels


def _column_split(inside: np.ndarray, k: int) -> np.ndarray:
    """A wide part cut at its emptiest columns into ``k`` (at least 2) digits.

    Cut ``j`` goes to the column with the fewest part pixels within a quarter of a digit's
    width of ``j / k`` of the part's width (ties: the closest).
    """
    h, w = inside.shape
    k = max(2, k)
    profile = inside.sum(axis=0)
    half = max(1, round(w / (4 * k)))
    cuts = []
    for j in range(1, k):
        ideal = j * w / k
        columns = np.arange(max(1, round(ideal) - half), min(w, round(ideal) + half + 1))
        best = np.lexsort((np.abs(columns - ideal), profile[columns]))[0]
        cuts.append(columns[best])
    piece_of_column = np.searchsorted(np.unique(cuts), np.arange(w), side="right")
    return np.where(inside, piece_of_column + 1, 0)


def _touching(pieces: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (a, b), a < b, of pieces with 8-neighbouring pixels."""
    a, b = _neighbour_pairs(pieces)
    contact = (a > 0) & (b > 0) & (a != b)
    pairs = np.unique(np.sort(np.stack([a[contact], b[contact]], axis=1), axis=1), axis=0)
    return {(int(x), int(y)) for x, y in pairs}


# --- 3. merge ----------------------------------------------------------------------------------


def _merge_fragments(pieces, classes, touching, digit_height: float, config):
    """Merge nearby pieces of one class into digit-sized groups, closest pairs first.

    Two groups merge when their union box is digit-sized and either a third group's pixels
    lie close to both (a digit crossing the one they were cut from), or they do not touch
    and are not two whole digits side by side. Touching groups were put apart by the class
    split, the border map or the column cut, and stay apart unless another digit is between.
    Returns the merged piece map (ids of merged pieces are those of their first piece).
    """
    boxes = _boxes(pieces, len(classes))
    used = np.flatnonzero(boxes[:, 2] > 0)
    if len(used) < 2:
        return pieces, classes
    candidates = []
    for i, j in _close_pairs(boxes, classes, used, config.merge_distance):
        distance = _distance(pieces, _union(boxes[i], boxes[j]), i, j)
        if distance <= config.merge_distance:
            candidates.append((distance, i, j))
    group = np.arange(len(classes))
    members = {i: {i} for i in used}
    for _, i, j in sorted(candidates):
        gi, gj = group[i], group[j]
        union = _union(boxes[gi], boxes[gj])
        if gi == gj or not _digit_sized(union, digit_height, config):
            continue
        apart = not any(
            (min(a, b), max(a, b)) in touching for a in members[gi] for b in members[gj]
        )
        if (apart and not _side_by_side(boxes[gi], boxes[gj], union, config)) or _bridged(
            group, pieces, union, gi, gj, config.merge_distance
        ):
            group[list(members[gj])] = gi
            members[gi] |= members.pop(gj)
            boxes[gi] = union
    return group[pieces], classes


def _boxes(pieces: np.ndarray, n: int) -> np.ndarray:
    """(n, 4) boxes x0, y0, x1, y1 of piece ids 0..n-1; all zero for an unused id."""
    boxes = np.zeros((n, 4), np.int64)
    for i, s in enumerate(ndimage.find_objects(pieces, max_label=n - 1), start=1):
        if s is not None:
            boxes[i] = s[1].start, s[0].start, s[1].stop, s[0].stop
    return boxes


def _heights(boxes: np.ndarray) -> np.ndarray:
    return boxes[..., 3] - boxes[..., 1]


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


def _close_pairs(boxes: np.ndarray, classes: np.ndarray, used: np.ndarray, distance: float):
    """Pairs (i, j) of used pieces of one class whose boxes are within ``distance``.

    A sweep along x: each box is paired with the boxes of its class starting at most
    ``distance`` right of its end, then the pairs are checked exactly.
    """
    firsts, seconds = [], []
    for c in np.unique(classes[used]):
        ids = used[classes[used] == c]
        ids = ids[np.argsort(boxes[ids, 0], kind="stable")]
        starts = boxes[ids, 0]
        ends = np.searchsorted(starts, boxes[ids, 2] + distance, side="right")
        counts = np.maximum(ends - np.arange(len(ids)) - 1, 0)
        first = np.repeat(np.arange(len(ids)), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        firsts.append(ids[first])
        seconds.append(ids[first + 1 + offset])
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    a, b = boxes[i], boxes[j]
    gap_x = np.maximum(0, np.maximum(a[:, 0] - b[:, 2], b[:, 0] - a[:, 2]) + 1)
    gap_y = np.maximum(0, np.maximum(a[:, 1] - b[:, 3], b[:, 1] - a[:, 3]) + 1)
    close = np.hypot(gap_x, gap_y) <= distance
    return zip(i[close].tolist(), j[close].tolist(), strict=True)


def _distance(pieces: np.ndarray, box: np.ndarray, i: int, j: int) -> float:
    """Euclidean distance between the nearest pixels of pieces ``i`` and ``j`` inside ``box``."""
    window = pieces[box[1] : box[3], box[0] : box[2]]
    return float(ndimage.distance_transform_edt(window != i)[window == j].min())


def _bridged(group, pieces, box, gi: int, gj: int, distance: float) -> bool:
    """Whether pixels of a third group lie within ``distance`` of both groups ``gi``, ``gj``."""
    pad = int(np.ceil(distance))
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    groups = group[pieces[y0 : box[3] + pad, x0 : box[2] + pad]]
    near_i = ndimage.distance_transform_edt(groups != gi) <= distance
    near_j = ndimage.distance_transform_edt(groups != gj) <= distance
    return bool((near_i & near_j & (groups > 0) & (groups != gi) & (groups != gj)).any())


def _digit_sized(box: np.ndarray, digit_height: float, config: PostprocessConfig) -> bool:
    width, height = box[2] - box[0], box[3] - box[1]
    return bool(
        width <= config.max_merge_aspect * height
        and width <= config.max_merge_width * digit_height
        and height <= config.max_merge_height * digit_height
    )


def _side_by_side(a, b, union, config: PostprocessConfig) -> bool:
    """Whether boxes ``a`` and ``b`` are both nearly as high as their union: two whole digits."""
    return bool(min(_heights(a), _heights(b)) >= config.full_height * (union[3] - union[1]))


# --- 4-5. filter and describe ------------------------------------------------------------------


def _describe(pieces, classes, probs: np.ndarray, config: PostprocessConfig) -> list[Instance]:
    """Instances of the final piece map, without specks and dots."""
    inside = pieces > 0
    ids = pieces[inside]
    rows, cols = np.nonzero(inside)
    areas = np.bincount(ids, minlength=len(classes))
    scores = np.bincount(ids, probs[classes[ids], rows, cols], minlength=len(classes))
    found = [
        (i, s)
        for i, s in enumerate(ndimage.find_objects(pieces), start=1)
        if s is not None and areas[i] >= config.min_area
    ]
    if not found:
        return []
    median_height = np.median([s[0].stop - s[0].start for _, s in found])
    return [
        Instance(
            label=int(classes[i]),
            score=float(scores[i] / areas[i]),
            bbox=(s[1].start, s[0].start, s[1].stop, s[0].stop),
            area=int(areas[i]),
            mask=pieces[s] == i,
        )
        for i, s in found
        if s[0].stop - s[0].start >= config.min_height_ratio * median_height
    ]
