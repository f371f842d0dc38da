"""Instances from probability maps: borders, cores, class splits, touching digits, fragments,
filters."""

import cv2
import numpy as np
import pytest
from scipy import ndimage

from digitseg.classes import BACKGROUND, NUM_CLASSES
from digitseg.data.spec import CanvasSpec
from digitseg.data.synth import CanvasGenerator
from digitseg.data.targets import digit_cores, instance_borders
from digitseg.postprocess import (
    PostprocessConfig,
    extract_instances,
    typical_height,
)
from digitseg.postprocess.warp import resize_matrix, warp_instances
from tests.helpers.digits import tiny_splits

H, W = 40, 96


def probs_of(labels: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    """(11, H, W) probabilities: ``confidence`` on each pixel's label, the rest spread evenly."""
    probs = np.full((NUM_CLASSES, *labels.shape), (1 - confidence) / (NUM_CLASSES - 1), np.float32)
    np.put_along_axis(probs, labels[None].astype(np.intp), confidence, axis=0)
    return probs


def ring(shape, x0: int, y0: int, w: int = 12, h: int = 20, stroke: int = 3) -> np.ndarray:
    """Mask of a hollow rectangle (a blocky 0) with its box at (x0, y0), size w x h."""
    mask = np.zeros(shape, bool)
    mask[y0 : y0 + h, x0 : x0 + w] = True
    mask[y0 + stroke : y0 + h - stroke, x0 + stroke : x0 + w - stroke] = False
    return mask


def bar(shape, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def paint(*digits: tuple[np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
    """Semantic and instance maps of (mask, class) digits; earlier digits stay on top."""
    semantic = np.full(digits[0][0].shape, BACKGROUND, np.uint8)
    instances = np.zeros(digits[0][0].shape, np.uint16)
    for i, (mask, label) in enumerate(digits, start=1):
        free = mask & (instances == 0)
        semantic[free], instances[free] = label, i
    return semantic, instances


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


# --- instance_borders --------------------------------------------------------------------------


def brute_force_borders(instances: np.ndarray, width: int) -> np.ndarray:
    h, w = instances.shape
    out = np.zeros((h, w), bool)
    for y, x in zip(*np.nonzero(instances), strict=True):
        window = instances[max(0, y - width) : y + width + 1, max(0, x - width) : x + width + 1]
        out[y, x] = ((window != 0) & (window != instances[y, x])).any()
    return out


def test_borders_mark_both_sides_of_contacts_only():
    instances = np.zeros((6, 9), np.uint16)
    instances[1:5, 0:3] = 1
    instances[1:5, 3:5] = 2  # touches 1 along a column
    instances[0, 6] = 3  # alone
    instances[5, 5] = 4  # touches 2 only diagonally
    border = instance_borders(instances)
    expected = np.zeros_like(border)
    expected[1:5, 2] = expected[1:5, 3] = True
    expected[4, 4] = expected[5, 5] = True
    np.testing.assert_array_equal(border, expected)
    assert border.dtype == bool


@pytest.mark.parametrize("width", [1, 2, 3])
def test_borders_match_brute_force(width):
    rng = np.random.default_rng(width)
    instances = rng.integers(0, 5, (30, 40)).astype(np.uint16)
    instances[rng.random((30, 40)) < 0.5] = 0
    np.testing.assert_array_equal(
        instance_borders(instances, width), brute_force_borders(instances, width)
    )


def test_borders_reject_zero_width():
    with pytest.raises(ValueError, match="width"):
        instance_borders(np.zeros((4, 4), np.uint16), width=0)


def test_each_digit_has_one_core_inside_its_box_even_when_its_strokes_are_broken():
    broken_seven = bar((H, W), 20, 8, 34, 11) | bar((H, W), 30, 13, 33, 30)
    _, instances = paint((broken_seven, 7), (ring((H, W), 50, 10), 0))
    cores = digit_cores(instances)
    parts, n = ndimage.label(cores, structure=np.ones((3, 3)))
    assert n == 2
    for i in (1, 2):
        x0, y0, x1, y1 = box_of(instances == i)
        (core_id,) = set(np.unique(parts[y0:y1, x0:x1])) - {0}
        assert box_of(parts == core_id)[0] >= x0 and box_of(parts == core_id)[2] <= x1


def test_cores_of_overlapping_digits_stay_apart():
    semantic, instances = two_touching_zeros(overlap=8)
    cores = digit_cores(instances)
    assert ndimage.label(cores, structure=np.ones((3, 3)))[1] == 2
    assert len(extract_instances(probs_of(semantic), cores)) == 2


def test_core_of_a_flat_digit_at_the_image_frame_is_its_ellipse_cut_by_the_frame():
    instances = np.zeros((H, W), np.uint16)
    instances[0:2, W - 20 :] = 1  # a box 2 high and 20 wide in the top right corner
    ys, xs = np.nonzero(digit_cores(instances))
    # Semi-axes 3 px (0.15 x 20) and 1.5 px (the minimum) around (W - 10.5, 0.5).
    assert (ys.min(), ys.max()) == (0, 1) and (xs.min(), xs.max()) == (W - 13, W - 8)


# --- single digits, classes, scores ------------------------------------------------------------


def test_two_separate_digits_of_different_classes():
    one = bar((H, W), 10, 8, 14, 30)
    zero = ring((H, W), 30, 9)
    semantic, _ = paint((one, 1), (zero, 0))
    found = extract_instances(probs_of(semantic))
    assert [f.label for f in found] == [1, 0]
    assert [f.bbox for f in found] == [(10, 8, 14, 30), (30, 9, 42, 29)]
    assert [f.area for f in found] == [one.sum(), zero.sum()]
    np.testing.assert_array_equal(found[1].mask, zero[9:29, 30:42])
    assert found[1].mask.dtype == bool


def test_boxes_are_exclusive_and_tight():
    semantic, _ = paint((ring((H, W), 0, 0, w=15, h=22), 6))
    (found,) = extract_instances(probs_of(semantic))
    x0, y0, x1, y1 = found.bbox
    assert (x0, y0, x1, y1) == (0, 0, 15, 22)
    assert found.mask.shape == (y1 - y0, x1 - x0)
    assert found.mask[0].any() and found.mask[-1].any()
    assert found.mask[:, 0].any() and found.mask[:, -1].any()


def test_score_is_the_mean_probability_of_the_label():
    semantic, _ = paint((ring((H, W), 20, 10), 8))
    probs = probs_of(semantic)
    rng = np.random.default_rng(0)
    inside = semantic == 8
    probs[8][inside] = rng.uniform(0.5, 1.0, inside.sum())
    probs[BACKGROUND][inside] = 1 - probs[8][inside]
    for c in range(NUM_CLASSES):
        if c not in (8, BACKGROUND):
            probs[c][inside] = 0
    (found,) = extract_instances(probs)
    assert found.label == 8
    assert found.score == pytest.approx(float(probs[8][inside].mean()), rel=1e-6)


def test_one_component_with_two_classes_is_split_by_class():
    one = bar((H, W), 20, 8, 24, 30)
    seven = bar((H, W), 24, 8, 36, 11) | bar((H, W), 32, 8, 35, 30)
    semantic, _ = paint((one, 1), (seven, 7))
    found = extract_instances(probs_of(semantic))
    assert [(f.label, f.bbox) for f in found] == [(1, (20, 8, 24, 30)), (7, (24, 8, 36, 30))]


def test_small_class_island_inside_a_digit_takes_its_class():
    semantic, _ = paint((ring((H, W), 20, 10, w=14, h=22), 3))
    semantic[10:13, 25:28] = 8  # a 3x3 patch of the top bar read as an 8
    probs = probs_of(semantic, confidence=0.6)
    probs[3][10:13, 25:28] = 0.35  # ... where 3 was the runner-up
    (found,) = extract_instances(probs)
    assert (found.label, found.bbox, found.area) == (3, (20, 10, 34, 32), (semantic != 10).sum())


def test_island_the_net_is_sure_of_keeps_its_class():
    semantic, _ = paint((ring((H, W), 20, 10, w=14, h=22), 3))
    semantic[10:13, 25:28] = 8
    config = PostprocessConfig(min_area=9, min_height_ratio=0)
    found = extract_instances(probs_of(semantic), config=config)
    assert sorted(f.label for f in found) == [3, 8]


# --- touching digits of one class ---------------------------------------------------------------


def two_touching_zeros(overlap: int = 2):
    left, right = ring((H, W), 20, 10), ring((H, W), 32 - overlap, 10)
    return paint((left, 0), (right, 0))


def test_touching_same_class_digits_are_separated_by_their_cores():
    semantic, instances = two_touching_zeros()
    found = extract_instances(probs_of(semantic), digit_cores(instances).astype(np.float32))
    assert [f.label for f in found] == [0, 0]
    for f, i in zip(found, (1, 2), strict=True):
        assert np.abs(np.subtract(f.bbox, box_of(instances == i))).max() <= 1


def test_soft_core_map_separates_too():
    semantic, instances = two_touching_zeros()
    cores = digit_cores(instances) * 0.8 + 0.1  # never exactly 0 or 1
    assert len(extract_instances(probs_of(semantic), cores)) == 2


def test_digit_pixels_out_of_reach_of_every_core_still_form_digits():
    semantic, instances = paint((ring((H, W), 10, 10), 2), (ring((H, W), 60, 10), 3))
    only_first = digit_cores(np.where(instances == 1, instances, 0))
    found = extract_instances(probs_of(semantic), only_first.astype(np.float32))
    assert [(f.label, f.bbox) for f in found] == [(2, (10, 10, 22, 30)), (3, (60, 10, 72, 30))]


def test_a_digit_showing_few_pixels_stays_when_it_has_its_own_core():
    """Mostly hidden by its neighbours, a digit shows fewer than min_area pixels; with its own
    core it is a digit (min_cored_area), without one a speck."""
    sliver = bar((H, W), 60, 12, 61, 22)  # 10 pixels
    semantic, instances = paint((ring((H, W), 10, 10), 4), (sliver, 1))
    cores = digit_cores(instances).astype(np.float32)
    first_core_only = digit_cores(np.where(instances == 1, instances, 0)).astype(np.float32)
    found = extract_instances(probs_of(semantic), cores)
    assert [(f.label, f.area) for f in found] == [(4, 156), (1, 10)]
    assert [f.label for f in extract_instances(probs_of(semantic), first_core_only)] == [4]
    strict = PostprocessConfig(min_cored_area=16)
    assert [f.label for f in extract_instances(probs_of(semantic), cores, strict)] == [4]


def test_a_core_takes_the_class_most_of_its_pixels_have():
    semantic, instances = paint((ring((H, W), 20, 10), 6))
    semantic[10:13, 20:32] = 5  # the net read the top bar as part of a 5
    found = extract_instances(probs_of(semantic), digit_cores(instances))
    assert [(f.label, f.bbox) for f in found] == [(6, (20, 10, 32, 30))]


def test_touching_narrow_pair_without_core_map_stays_one_instance():
    semantic, _ = two_touching_zeros()
    (found,) = extract_instances(probs_of(semantic))
    assert (found.label, found.bbox) == (0, (20, 10, 42, 30))


def test_wide_component_without_core_map_is_cut_between_digits():
    left, right = ring((H, W), 10, 10, w=14), ring((H, W), 26, 10, w=14)
    link = bar((H, W), 24, 18, 26, 21)  # the two digits touch through a short link
    semantic, _ = paint((left | link, 5), (right, 5))
    found = extract_instances(probs_of(semantic))
    assert [f.label for f in found] == [5, 5]
    assert np.abs(np.subtract(found[0].bbox, (10, 10, 24, 30))).max() <= 1
    assert np.abs(np.subtract(found[1].bbox, (26, 10, 40, 30))).max() <= 1


# --- fragments, specks, punctuation --------------------------------------------------------------


@pytest.mark.parametrize("with_cores", [False, True])
def test_broken_stroke_is_merged(with_cores):
    top = bar((H, W), 20, 8, 34, 11)  # a 7 whose stem lost its first pixels
    stem = bar((H, W), 30, 13, 33, 30)
    semantic, instances = paint((top | stem, 7))
    cores = digit_cores(instances) if with_cores else None
    (found,) = extract_instances(probs_of(semantic), cores)
    assert (found.label, found.bbox, found.area) == (7, (20, 8, 34, 30), top.sum() + stem.sum())


def test_digit_cut_by_a_crossing_digit_is_merged():
    zero = ring((H, W), 20, 10, w=14)
    one = bar((H, W), 25, 6, 28, 34)  # crosses the 0 and is on top of it
    semantic, _ = paint((one, 1), (zero, 0))
    found = extract_instances(probs_of(semantic))
    assert [(f.label, f.bbox) for f in found] == [(0, (20, 10, 34, 30)), (1, (25, 6, 28, 34))]


def test_two_whole_digits_close_together_are_not_merged():
    semantic, _ = paint((bar((H, W), 20, 8, 24, 30), 1), (bar((H, W), 26, 9, 30, 30), 1))
    found = extract_instances(probs_of(semantic))
    assert [f.bbox for f in found] == [(20, 8, 24, 30), (26, 9, 30, 30)]


def test_digits_of_two_lines_are_not_merged():
    shape = (60, W)
    semantic, _ = paint((bar(shape, 20, 5, 24, 27), 1), (bar(shape, 20, 29, 24, 51), 1))
    assert len(extract_instances(probs_of(semantic))) == 2


def test_specks_and_punctuation_are_dropped():
    digits = [(ring((H, W), 10 + 16 * i, 8), i) for i in range(3)]
    speck = bar((H, W), 70, 20, 73, 23)  # 9 pixels
    comma = bar((H, W), 80, 24, 85, 29)  # 25 pixels, but 5 px tall
    semantic, _ = paint(*digits, (speck, 4), (comma, 5))
    found = extract_instances(probs_of(semantic))
    assert [f.label for f in found] == [0, 1, 2]


def test_blank_map_has_no_instances():
    assert extract_instances(probs_of(np.full((H, W), BACKGROUND, np.uint8))) == []


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="probs"):
        extract_instances(np.zeros((10, H, W), np.float32))
    with pytest.raises(ValueError, match="cores"):
        extract_instances(np.zeros((NUM_CLASSES, H, W), np.float32), np.zeros((H, W + 1)))


def test_instances_are_frozen():
    semantic, _ = paint((ring((H, W), 20, 10), 2))
    (found,) = extract_instances(probs_of(semantic))
    with pytest.raises(AttributeError):
        found.label = 3


# --- canvases of the generator ---------------------------------------------------------------


def test_instances_of_generated_number_lines_are_recovered():
    spec = CanvasSpec(
        height=64, width=192, layout="line", min_digits=3, max_digits=6, gap=(-3.0, 1.0),
        repeat_prob=0.7,
    )  # fmt: skip
    batch = CanvasGenerator(spec, tiny_splits()).render("val", range(40))
    ious, touching_repeats = [], 0
    for i in range(len(batch)):
        canvas = batch[i]
        cores = digit_cores(canvas.instances)
        found = extract_instances(probs_of(canvas.semantic), cores.astype(np.float32))
        assert [f.label for f in found] == canvas.labels.tolist(), f"canvas {i}"
        for k, f in enumerate(found, start=1):
            mask = np.zeros(canvas.instances.shape, bool)
            x0, y0, x1, y1 = f.bbox
            mask[y0:y1, x0:x1] = f.mask
            truth = canvas.instances == k
            ious.append((mask & truth).sum() / (mask | truth).sum())
        for k in np.flatnonzero(canvas.labels[:-1] == canvas.labels[1:]) + 1:
            pair = np.where(np.isin(canvas.instances, (k, k + 1)), canvas.instances, 0)
            touching_repeats += instance_borders(pair).any()
    assert touching_repeats >= 40  # the test does exercise touching digits of one class
    ious = np.array(ious)
    # Where two digits touch or overlap, the pixels near the contact may go to either.
    assert np.median(ious) >= 0.9
    assert ious.min() >= 0.6


def test_typical_height_counts_parts_by_pixels_and_skips_small_ones():
    digits = ring((H, W), 10, 10) | ring((H, W), 30, 10)  # two 20 px tall, 156 px each
    speck = bar((H, W), 60, 30, 61, 31)
    assert typical_height(digits | speck) == 20.0
    assert typical_height((digits | speck).astype(np.int32)) == 20.0
    line = bar((H, W), 0, 36, W, 39)  # a ruled line: 3 rows, 288 pixels
    one_digit = ring((H, W), 10, 10)
    assert typical_height(one_digit | line) == 3.0  # most pixels are the line's
    assert typical_height(one_digit | line, min_height=6) == 20.0
    assert typical_height(digits, min_area=200) == 0.0
    assert typical_height(np.zeros((H, W), bool)) == 0.0


def test_resized_instances_cover_the_same_part_of_the_image():
    digit = ring((H, W), 10, 5)  # 12 x 20 px, 3 px strokes
    (found,) = extract_instances(probs_of(np.where(digit, 3, BACKGROUND)))
    assert _resized([found], (H, W), (H, W)) == [found]
    (enlarged,) = _resized([found], (H, W), (4 * H, 4 * W))
    assert enlarged.bbox == (40, 20, 88, 100) and enlarged.mask.shape == (80, 48)
    exact = ring((80, 48), 0, 0, 48, 80, 12)
    assert (enlarged.mask & exact).sum() / (enlarged.mask | exact).sum() > 0.97  # corners round
    assert enlarged.area == enlarged.mask.sum() and enlarged.label == 3
    (halved,) = _resized([found], (H, W), (H // 2, W // 2))  # rows 5-24: 2.5-12.5
    assert halved.bbox == (5, 2, 11, 13) and halved.mask.any(0).all() and halved.mask.any(1).all()
    (quarter,) = _resized([found], (H, W), (H // 4, W // 4))  # strokes under a pixel
    assert quarter.bbox == (2, 1, 6, 6)  # still a ring, its strokes a pixel wide
    assert ndimage.label(quarter.mask, np.ones((3, 3)))[1] == 1 and not quarter.mask[1:4, 1:3].any()
    (speck,) = _resized([found], (H, W), (4, 10))  # the digit in about one pixel
    assert (
        speck.area == 1 and speck.bbox[0] == 1 and speck.bbox[1] in (0, 1, 2)
    )  # x 1.0-2.3, y 0.5-2.5


@pytest.mark.parametrize("new_shape", [(20, 48), (60, 144), (13, 31), (160, 384)])
def test_resized_touching_instances_neither_overlap_nor_part(new_shape):
    left = np.zeros((H, W), bool)
    left[5:25, 10:30] = True
    left[10:20, 30:34] = True  # a jagged edge
    right = np.zeros((H, W), bool)
    right[5:25, 30:50] = True
    right[10:20, 30:34] = False
    found = extract_instances(probs_of(np.where(left, 3, np.where(right, 8, BACKGROUND))))
    assert [i.label for i in found] == [3, 8]
    masks = []
    for instance in _resized(found, (H, W), new_shape):
        mask = np.zeros(new_shape, bool)
        x0, y0, x1, y1 = instance.bbox
        mask[y0:y1, x0:x1] = instance.mask
        masks.append(mask)
    assert not (masks[0] & masks[1]).any()
    both = cv2.resize((left | right).astype(np.uint8), new_shape[::-1], cv2.INTER_NEAREST)
    inside = cv2.erode(both, np.ones((3, 3), np.uint8)).astype(bool)
    assert not (inside & ~(masks[0] | masks[1])).any()  # gaps only where the outline rounds


def _resized(instances, shape, new_shape):
    """``instances`` of an image of ``shape`` in that image resized to ``new_shape``."""
    return warp_instances(instances, resize_matrix(shape, new_shape), new_shape)
