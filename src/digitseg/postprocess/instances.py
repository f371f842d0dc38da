"""From per-pixel class probabilities (and an optional digit-core map) to digit instances.

:func:`extract_instances` works in four steps:

1. **Classes.** The label map is the argmax of the probabilities; digit pixels are those not
   labelled background. A connected part of one class smaller than ``island_area`` (a few
   pixels of a 3 inside an 8) takes the class most of its neighbours have, where the net gave
   that class at least ``island_prob`` there; a component made only of such islands takes the
   class of highest summed probability.
2. **Group.** With a core map (the net's estimate of
   :func:`~digitseg.data.targets.digit_cores`: a small blob at the centre of each digit),
   each connected core of at least ``min_core_area`` pixels is one digit: every digit pixel
   joins the nearest core within ``core_reach`` digit heights, so touching digits of one
   class (the "00" of "1000") come apart and broken strokes stay together. The digit is the
   class of highest summed probability over its pixels. Digit pixels out of reach of every
   core form digits by class part. Without a core map, a class's connected part wider than
   ``split_aspect`` times the digit height is cut at its emptiest columns into digits of
   aspect about ``digit_aspect``, and fragments of one digit (broken strokes, or a digit cut
   in two by another one crossing it) are merged when the union stays digit-sized (see
   :class:`PostprocessConfig`).
3. **Filter.** Specks under ``min_area`` pixels are dropped (digits grouped around a core
   need only ``min_cored_area``: a digit mostly hidden by its neighbours still has its own
   core), then instances shorter than ``min_height_ratio`` of the median instance height (a
   comma or a dot the net took for ink).
4. **Describe.** Each instance gets its class, score, box, area and mask; the list comes in
   reading order (:func:`~digitseg.postprocess.reading_order.order_instances`).
"""

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_CLASSES, NUM_DIGITS
from digitseg.postprocess.instance import Instance
from digitseg.postprocess.reading_order import order_instances

# Offsets of the four "forward" 8-neighbours: each neighbouring pair of pixels is seen once.
_FORWARD = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True)
class PostprocessConfig:
    """Thresholds of :func:`extract_instances`; the defaults suit digits about 15-40 px tall.

    - ``min_area`` (16): instances with fewer pixels are dropped as specks (the canvas
      generator's ``min_visible_area``).
    - ``min_cored_area`` (6): the same for digits grouped around a core, which a speck or a
      broken-off stroke does not have: a digit mostly hidden by its neighbours stays.
    - ``min_height_ratio`` (0.35): instances shorter than this fraction of the median height
      of the image's instances are dropped (dots and commas).
    - ``island_area`` (16), ``island_prob`` (0.25): a connected part of one class with fewer
      pixels takes the class most of its neighbours have when the net's mean probability of
      that class over the part is at least ``island_prob`` (class noise inside a digit, not a
      corner of a neighbouring digit).
    - ``core_threshold`` (0.5): pixels with at least this core probability are core pixels.
    - ``min_core_area`` (3): smaller connected cores are ignored.
    - ``core_reach`` (0.75): digit pixels farther than this many typical digit heights (the
      median height of the digit pixels' connected components, counted by pixels; see
      :func:`typical_height`) from every core join no core.
    - Without a core map: ``split_aspect`` (1.3), ``digit_aspect`` (0.75): a part wider than
      ``split_aspect`` times its height and the typical digit height is cut into
      ``round(width / (digit_aspect * height))`` digits (at least 2). Pieces of one class whose
      nearest pixels are at most ``merge_distance`` (4.0) apart (Euclidean, px) are merge
      candidates, the closest first. They merge when their union box is digit-sized: at most
      ``max_merge_aspect`` (1.2) times as wide as high, ``max_merge_width`` (1.0) times as
      wide and ``max_merge_height`` (1.3) times as high as the typical digit height. A pair
      that does not qualify as a crossed digit (another digit's pixels within
      ``merge_distance`` of both halves) must also not touch and not be two whole digits side
      by side, as "11" with a small gap: both at least ``full_height`` (0.75) of the union's
      height.
    """

    min_area: int = 16
    min_cored_area: int = 6
    min_height_ratio: float = 0.35
    island_area: int = 16
    island_prob: float = 0.25
    core_threshold: float = 0.5
    min_core_area: int = 3
    core_reach: float = 0.75
    split_aspect: float = 1.3
    digit_aspect: float = 0.75
    merge_distance: float = 4.0
    max_merge_aspect: float = 1.2
    max_merge_height: float = 1.3
    max_merge_width: float = 1.0
    full_height: float = 0.75


def extract_instances(
    probs: np.ndarray, cores: np.ndarray | None = None, config: PostprocessConfig | None = None
) -> list[Instance]:
    """Digit instances of one image, in reading order (see the module docstring).

    ``probs`` is (11, H, W), the class probabilities of each pixel; ``cores`` (H, W) in
    [0, 1] (or bool), the probability that a pixel lies in a digit's core (see
    :func:`~digitseg.data.targets.digit_cores`), or None.
    """
    config = config or PostprocessConfig()
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] != NUM_CLASSES:
        raise ValueError(f"probs must be ({NUM_CLASSES}, H, W), got shape {probs.shape}")
    if cores is not None and np.shape(cores) != probs.shape[1:]:
        raise ValueError(f"cores must be {probs.shape[1:]}, got shape {np.shape(cores)}")
    labels = probs.argmax(axis=0).astype(np.uint8)
    labels = _absorb_islands(labels, probs, config)
    digit_height = typical_height(labels != BACKGROUND)
    n_cored = 0  # pieces 1..n_cored are grouped around a core
    if cores is None:
        pieces, classes, touching = _split(labels, digit_height, config)
        pieces, classes = _merge_fragments(pieces, classes, touching, digit_height, config)
    else:
        pieces, classes, n_cored = _group_around_cores(labels, probs, cores, digit_height, config)
    return order_instances(_describe(pieces, classes, n_cored, probs, config))


# --- 1. classes -----------------------------------------------------------------------------------


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
        n, components = cv2.connectedComponents(unsettled.view(np.uint8), connectivity=8)
        labels[unsettled] = _summed_class(components, probs, n - 1)[components[unsettled]]
    return labels


def typical_height(mask: np.ndarray, min_area: int = 1, min_height: int = 1) -> float:
    """The median height of the connected parts of ``mask`` (8-connected) counted by pixels,
    among parts of at least ``min_area`` pixels and ``min_height`` rows: a digit's height,
    robust to fragments (few pixels) and to touching digits (a line of them is as high as
    one); 0 when there are none."""
    pixels = np.asarray(mask, bool).view(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(pixels, connectivity=8)
    heights, areas = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    keep = (areas >= min_area) & (heights >= min_height)
    if not keep.any():
        return 0.0
    heights, areas = heights[keep], areas[keep]
    order = np.argsort(heights)
    cumulative = np.cumsum(areas[order])
    return float(heights[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


# --- 2. group -------------------------------------------------------------------------------------


def _group_around_cores(labels, probs, cores, digit_height: float, config: PostprocessConfig):
    """Pieces: digit pixels grouped by their nearest core, the rest by class part.

    Each digit pixel first joins the nearest core within reach, which gives every core the
    class of highest summed probability over its pixels; then it moves to the nearest core of
    its own class, where one is within reach, so that a digit keeps the strokes that reach
    into a neighbour of another class. Returns the piece id map, the class of each id and
    the number of cores (pieces 1..n_cores are grouped around one).
    """
    digits = labels != BACKGROUND
    solid = (np.asarray(cores) >= config.core_threshold).view(np.uint8)
    n, core_ids, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= config.min_core_area
    keep[0] = False
    renumber = np.zeros(n, np.int32)
    renumber[keep] = np.arange(1, keep.sum() + 1)
    core_ids = renumber[core_ids]
    n_cores = int(keep.sum())
    reach = config.core_reach * max(digit_height, 1.0)
    pieces = np.where(digits, _nearest(core_ids, reach), 0)
    classes = _summed_class(pieces, probs, n_cores)
    for c in np.unique(classes[1:]):
        own = _nearest(np.where(classes[core_ids] == c, core_ids, 0), reach)
        move = (labels == c) & (own > 0)
        pieces[move] = own[move]
    classes = _summed_class(pieces, probs, n_cores)
    # Digit pixels out of every core's reach: one piece per class part.
    grouped = pieces > 0
    parts, part_classes, _ = _class_parts(np.where(grouped, BACKGROUND, labels).astype(np.uint8))
    pieces = np.where(parts > 0, parts + n_cores, pieces)
    return pieces, np.concatenate([classes, part_classes[1:]]), n_cores


def _nearest(ids: np.ndarray, reach: float) -> np.ndarray:
    """Each pixel's nearest non-zero id of ``ids`` at most ``reach`` px away, else 0."""
    if not ids.any():
        return np.zeros_like(ids)
    distance, (rows, cols) = ndimage.distance_transform_edt(ids == 0, return_indices=True)
    return np.where(distance <= reach, ids[rows, cols], 0)


def _summed_class(pieces: np.ndarray, probs: np.ndarray, n: int) -> np.ndarray:
    """(n + 1,) the digit of highest summed probability over each piece 0..n (0: unused)."""
    inside = pieces > 0
    summed = [np.bincount(pieces[inside], probs[c][inside], n + 1) for c in range(NUM_DIGITS)]
    return np.stack(summed).argmax(axis=0)


def _split(labels, digit_height: float, config: PostprocessConfig):
    """Pieces: class parts, those wider than a digit cut at their emptiest columns.

    Returns the piece id map, the class of each id, and the set of touching id pairs.
    """
    parts, classes, _ = _class_parts(labels)
    boxes = ndimage.find_objects(parts)
    pieces = parts.copy()
    classes = list(classes)
    for part in _wide(boxes, digit_height, config.split_aspect):
        box = boxes[part - 1]
        inside = parts[box] == part
        height = max(inside.shape[0], digit_height)
        split = _column_split(inside, round(inside.shape[1] / (config.digit_aspect * height)))
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


# --- 2b. merge (without a core map) ---------------------------------------------------------------


def _merge_fragments(pieces, classes, touching, digit_height: float, config):
    """Merge nearby pieces of one class into digit-sized groups, closest pairs first.

    Two groups merge when their union box is digit-sized and either a third group's pixels
    lie close to both (a digit crossing the one they were cut from), or they do not touch
    and are not two whole digits side by side. Touching groups were put apart by the class
    split or the column cut, and stay apart unless another digit is between.
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


# --- 3-4. filter and describe ---------------------------------------------------------------------


def _describe(
    pieces, classes, n_cored: int, probs: np.ndarray, config: PostprocessConfig
) -> list[Instance]:
    """Instances of the final piece map, without specks and dots (pieces 1..``n_cored``,
    grouped around a core, need ``min_cored_area`` pixels, the others ``min_area``)."""
    inside = pieces > 0
    ids = pieces[inside]
    rows, cols = np.nonzero(inside)
    areas = np.bincount(ids, minlength=len(classes))
    min_areas = np.where(np.arange(len(classes)) <= n_cored, config.min_cored_area, config.min_area)
    scores = np.bincount(ids, probs[classes[ids], rows, cols], minlength=len(classes))
    found = [
        (i, s)
        for i, s in enumerate(ndimage.find_objects(pieces), start=1)
        if s is not None and areas[i] >= min_areas[i]
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
