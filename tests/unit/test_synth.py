"""The canvas generator: determinism, split hygiene, exact masks, overlaps, layouts, styles."""

import dataclasses
import json
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from digitseg.classes import BACKGROUND
from digitseg.data.digits import DigitSet
from digitseg.data.spec import (
    BACKGROUND_STYLES,
    DEFAULT_DISTRACTOR_KINDS,
    LAYOUTS,
    SIGN_KINDS,
    CanvasSpec,
    SpecError,
)
from digitseg.data.synth import Canvas, CanvasBatch, CanvasGenerator

# Every feature at once: warps, overlaps, all backgrounds, marks, random polarity.
EVERYTHING = CanvasSpec(
    height=48,
    width=72,
    min_digits=1,
    max_digits=4,
    scale=(0.8, 1.2),
    rotation=20,
    shear=0.2,
    thickness=1,
    max_overlap=0.3,
    repeat_prob=0.3,
    backgrounds={"black": 1.0, "noise": 1.0, "paper": 1.0},
    ruled_lines=0.5,
    distractors=(0, 3),
    polarity="random",
)
# Black background, light ink, no marks: the image is exactly the composed ink.
INK_ONLY = {"backgrounds": {"black": 1.0}, "distractors": (0, 0), "polarity": "light_on_dark"}
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def render(spec: CanvasSpec, digits, indices=range(40), split="test", seed=0) -> CanvasBatch:
    return CanvasGenerator(spec, digits, seed).render(split, indices)


def squares(*values: int, side: int = 12) -> DigitSet:
    """One digit per class: a ``side`` x ``side`` square of uniform ink ``values[class]``."""
    images = np.zeros((len(values), 28, 28), np.uint8)
    start = 14 - side // 2
    for image, value in zip(images, values, strict=True):
        image[start : start + side, start : start + side] = value
    return DigitSet(images, np.arange(len(values), dtype=np.uint8))


def assert_same_canvases(first, second) -> None:
    """Two sequences of canvases are equal, byte for byte, labels and styles included."""
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        for name in ("image", "semantic", "instances", "labels", "boxes"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
        assert a.style == b.style


def assert_labels_consistent(spec: CanvasSpec, batch: CanvasBatch) -> None:
    """Instances, labels and boxes agree, and every instance keeps its minimum area."""
    for canvas in batch:
        n = len(canvas.labels)
        assert canvas.labels.dtype == np.uint8 and canvas.boxes.dtype == np.int32
        assert canvas.boxes.shape == (n, 4) and n <= spec.max_digits
        labelled = canvas.instances > 0
        np.testing.assert_array_equal(
            canvas.semantic[labelled], canvas.labels[canvas.instances[labelled] - 1]
        )
        assert (canvas.semantic[~labelled] == BACKGROUND).all()
        assert set(np.unique(canvas.instances[labelled]).tolist()) == set(range(1, n + 1))
        for i, box in enumerate(canvas.boxes, start=1):
            ys, xs = np.nonzero(canvas.instances == i)
            assert len(ys) >= spec.min_visible_area
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def assert_masks_match_ink(spec: CanvasSpec, batch: CanvasBatch) -> None:
    """On black without marks: a pixel is labelled exactly when its ink reaches the threshold."""
    for canvas in batch:
        labelled = canvas.semantic != BACKGROUND
        assert (canvas.image[labelled] >= spec.mask_threshold).all()
        assert (canvas.image[~labelled] < spec.mask_threshold).all()


@st.composite
def specs(draw, **fixed) -> CanvasSpec:
    """Random valid specs; ``fixed`` fields override the drawn ones."""
    max_digits = draw(st.integers(1, 6))
    fields = {
        "height": draw(st.integers(28, 80)),
        "width": draw(st.integers(28, 160)),
        "min_digits": draw(st.integers(0, max_digits)),
        "max_digits": max_digits,
        "scale": tuple(
            sorted(draw(st.lists(st.sampled_from([0.6, 0.9, 1.0, 1.3]), min_size=2, max_size=2)))
        ),
        "rotation": draw(st.sampled_from([0, 10, 40, 90])),
        "shear": draw(st.sampled_from([0.0, 0.3])),
        "thickness": draw(st.integers(0, 2)),
        "max_overlap": draw(st.sampled_from([0.0, 0.3, 1.0])),
        "mask_threshold": draw(st.integers(16, 200)),
        "min_visible_area": draw(st.integers(1, 40)),
        "layout": draw(st.sampled_from(LAYOUTS)),
        "gap": (draw(st.integers(-6, 0)), draw(st.integers(0, 6))),
        "repeat_prob": draw(st.sampled_from([0.0, 0.5])),
        "backgrounds": {draw(st.sampled_from(BACKGROUND_STYLES)): 1.0, "black": 0.5},
        "ruled_lines": 0.5,
        "distractors": (0, draw(st.integers(0, 3))),
        "polarity": draw(st.sampled_from(["light_on_dark", "random"])),
    }
    try:
        return CanvasSpec(**{**fields, **fixed})
    except SpecError:
        assume(False)


# --- determinism -------------------------------------------------------------------------


def test_outputs_have_the_documented_types(fake_digits):
    for spec, image_shape in ((CanvasSpec(), (64, 84)), (EVERYTHING, (48, 72, 3))):
        batch = render(spec, fake_digits, range(5))
        assert batch.images.shape == (5, *image_shape) and batch.images.dtype == np.uint8
        assert batch.semantic.shape == (5, *image_shape[:2]) and batch.semantic.dtype == np.uint8
        assert batch.instances.shape == batch.semantic.shape
        assert batch.instances.dtype == np.uint16
        assert len(batch.labels) == len(batch.boxes) == len(batch.styles) == len(batch) == 5


def test_same_inputs_give_the_same_bytes(fake_digits):
    first = render(EVERYTHING, fake_digits)
    assert_same_canvases(first, render(EVERYTHING, fake_digits))


def test_a_canvas_does_not_depend_on_its_batch(fake_digits):
    gen = CanvasGenerator(EVERYTHING, fake_digits, seed=3)
    whole = gen.render("val", range(200))  # several chunks
    picked = [199, 5, 120, 5]
    assert_same_canvases(gen.render("val", picked), [whole[i] for i in picked])
    assert_same_canvases([gen("val", 120)], [whole[120]])


def test_a_canvas_is_the_same_in_another_process(fake_digits, tmp_path):
    """A fresh interpreter (another hash seed, no shared state) renders the same bytes."""
    np.savez(
        tmp_path / "digits.npz",
        images=fake_digits["test"].images,
        labels=fake_digits["test"].labels,
    )
    (tmp_path / "spec.json").write_text(json.dumps(dataclasses.asdict(EVERYTHING)))
    script = textwrap.dedent(f"""
        import json, pathlib
        import numpy as np
        from digitseg.data.digits import DigitSet
        from digitseg.data.spec import CanvasSpec
        from digitseg.data.synth import CanvasGenerator
        folder = pathlib.Path({str(tmp_path)!r})
        arrays = np.load(folder / "digits.npz")
        spec = CanvasSpec(**json.loads((folder / "spec.json").read_text()))
        gen = CanvasGenerator(spec, {{"test": DigitSet(arrays["images"], arrays["labels"])}}, 9)
        batch = gen.render("test", [31, 2, 17])
        np.savez(folder / "out.npz", images=batch.images, instances=batch.instances,
                 semantic=batch.semantic, boxes=np.concatenate(batch.boxes))
    """)
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        timeout=120,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    other = np.load(tmp_path / "out.npz")
    here = CanvasGenerator(EVERYTHING, fake_digits, 9).render("test", range(32))
    for name in ("images", "instances", "semantic"):
        np.testing.assert_array_equal(other[name], getattr(here, name)[[31, 2, 17]])
    np.testing.assert_array_equal(
        other["boxes"], np.concatenate([here.boxes[i] for i in (31, 2, 17)])
    )


def test_seeds_and_splits_give_different_canvases(fake_digits):
    base = render(EVERYTHING, fake_digits, split="val", seed=0).images
    assert not np.array_equal(base, render(EVERYTHING, fake_digits, split="val", seed=1).images)
    assert not np.array_equal(base, render(EVERYTHING, fake_digits, split="train").images)


# --- splits ------------------------------------------------------------------------------


def test_splits_only_use_their_own_digits():
    """Each split's digits carry their own ink value: a canvas shows only its split's value."""
    marked = {
        split: squares(*[value] * 10)
        for split, value in (("train", 200), ("val", 150), ("test", 100))
    }
    spec = CanvasSpec(max_overlap=1.0, **INK_ONLY)
    gen = CanvasGenerator(spec, marked)
    for split, value in (("train", 200), ("val", 150), ("test", 100)):
        images = gen.render(split, range(50)).images
        assert set(np.unique(images).tolist()) == {0, value}


def test_mnist_splits_are_disjoint_and_sized(mnist_digits):
    assert {k: len(v) for k, v in mnist_digits.items()} == {
        "train": 55_000,
        "val": 5_000,
        "test": 10_000,
    }
    train = {image.tobytes() for image in mnist_digits["train"].images[:5000]}
    assert not train & {image.tobytes() for image in mnist_digits["val"].images}


def test_unknown_split_and_bad_indices_are_refused(fake_digits):
    gen = CanvasGenerator(CanvasSpec(), {"test": fake_digits["test"]})
    with pytest.raises(KeyError, match="unknown split 'train'"):
        gen.render("train", [0])
    with pytest.raises(ValueError, match=">= 0"):
        gen.render("test", [3, -1])
    empty = gen.render("test", [])
    assert empty.images.shape == (0, 64, 84) and empty.labels == []


# --- masks, instances, boxes -------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=specs(**INK_ONLY))
def test_masks_are_exactly_the_ink_above_threshold(mnist_digits, spec):
    batch = render(spec, mnist_digits, range(12))
    assert_labels_consistent(spec, batch)
    assert_masks_match_ink(spec, batch)


@PROPERTY_SETTINGS
@given(spec=specs())
def test_labels_agree_on_every_background(mnist_digits, spec):
    batch = render(spec, mnist_digits, range(12))
    assert_labels_consistent(spec, batch)
    assert batch.images.shape[1:] == (
        (spec.height, spec.width, 3) if spec.is_color else (spec.height, spec.width)
    )


def test_masks_ignore_faint_ink_around_strokes():
    """Halo ink below the threshold is never labelled, even where it covers another digit."""
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 8:20, 8:20] = 40  # faint halo
    images[0, 10:18, 10:18] = 200
    images[1, 10:18, 10:18] = 120
    spec = CanvasSpec(
        height=40,
        width=40,
        min_digits=3,
        max_digits=3,
        max_overlap=1.0,
        min_visible_area=1,
        **INK_ONLY,
    )
    batch = render(spec, {"test": DigitSet(images, np.arange(2, dtype=np.uint8))}, range(60))
    assert_labels_consistent(spec, batch)
    assert_masks_match_ink(spec, batch)
    assert (batch.images == 40).any()


@pytest.mark.parametrize("name", ["m2nist", "canvas", "numbers"])
def test_presets_render_consistent_canvases(mnist_digits, preset_spec, name):
    spec = CanvasSpec(**preset_spec(name))
    batch = render(spec, mnist_digits, range(64))
    assert_labels_consistent(spec, batch)
    counts = np.array([len(labels) for labels in batch.labels])
    assert counts.min() >= max(spec.min_digits - 1, 0) and counts.max() <= spec.max_digits
    assert counts.mean() >= spec.min_digits


# --- overlaps ----------------------------------------------------------------------------


def test_overlapping_pixels_go_to_the_brightest_digit():
    spec = CanvasSpec(
        height=40,
        width=40,
        min_digits=3,
        max_digits=3,
        max_overlap=1.0,
        min_visible_area=1,
        **INK_ONLY,
    )
    batch = render(spec, {"test": squares(120, 200)}, range(60))
    assert_labels_consistent(spec, batch)
    assert (batch.semantic[batch.images == 200] == 1).all()
    assert (batch.semantic[batch.images == 120] == 0).all()
    dim_areas = [(c.instances == i + 1).sum() for c in batch for i in np.flatnonzero(c.labels == 0)]
    assert min(dim_areas) < 144  # some dim squares were partly covered


def test_equal_ink_goes_to_the_digit_placed_first():
    spec = CanvasSpec(
        height=36,
        width=36,
        min_digits=2,
        max_digits=2,
        max_overlap=1.0,
        min_visible_area=1,
        **INK_ONLY,
    )
    batch = render(spec, {"test": squares(200)}, range(60))
    assert_labels_consistent(spec, batch)
    areas = np.array([[(c.instances == i).sum() for i in (1, 2)] for c in batch])
    assert (areas[:, 0] == 144).all()
    assert (areas[:, 1] < 144).any()


def test_hidden_digits_are_removed_not_half_labelled():
    """Small dim squares mostly covered by big bright ones are taken off the canvas."""
    images = squares(250, side=16).images[[0, 0]]
    images[1] = squares(100, side=6).images[0]
    digits = DigitSet(images, np.arange(2, dtype=np.uint8))
    spec = CanvasSpec(
        height=36,
        width=36,
        min_digits=3,
        max_digits=3,
        max_overlap=1.0,
        min_visible_area=30,
        **INK_ONLY,
    )
    batch = render(spec, {"test": digits}, range(100))
    assert_labels_consistent(spec, batch)
    assert_masks_match_ink(spec, batch)  # no unlabelled remains of removed squares
    assert (batch.semantic[batch.images == 100] == 1).all()
    assert min(len(labels) for labels in batch.labels) < 3  # some squares were removed


def test_digits_larger_than_the_canvas_are_cut_consistently(fake_digits):
    spec = CanvasSpec(
        height=28, width=28, min_digits=1, max_digits=1, scale=(1.4, 1.4), rotation=45, **INK_ONLY
    )
    batch = render(spec, fake_digits, range(40))
    assert_labels_consistent(spec, batch)
    assert_masks_match_ink(spec, batch)


# --- layouts -----------------------------------------------------------------------------


def test_line_digits_are_numbered_left_to_right(mnist_digits):
    spec = CanvasSpec(
        height=40,
        width=160,
        min_digits=3,
        max_digits=8,
        scale=(0.8, 1.1),
        rotation=10,
        layout="line",
        gap=(-5, 3),
    )
    for canvas in render(spec, mnist_digits, range(100)):
        assert (np.diff(canvas.boxes[:, 0]) >= 0).all()


def _leans(canvas: Canvas) -> np.ndarray:
    """Each digit's lean on ``canvas``: columns per row down, by its mask's second moments."""
    leans = []
    for instance in range(1, len(canvas.labels) + 1):
        rows, cols = np.nonzero(canvas.instances == instance)
        dy, dx = rows - rows.mean(), cols - cols.mean()
        leans.append((dx * dy).sum() / (dy * dy).sum())
    return np.array(leans)


@pytest.mark.parametrize("one_writer", [False, True])
def test_one_writer_gives_a_line_s_digits_one_lean(mnist_digits, one_writer):
    """MNIST digits each lean their own writer's way; one writer's line leans one way."""
    spec = CanvasSpec(
        height=48, width=192, min_digits=4, max_digits=6, shear=0.3, layout="line",
        gap=(3, 6), one_writer=one_writer, **INK_ONLY,
    )  # fmt: skip
    canvases = render(spec, mnist_digits, range(60))
    spread = np.median([_leans(canvas).std() for canvas in canvases])
    line_leans = [np.median(_leans(canvas)) for canvas in canvases]
    if one_writer:
        assert spread < 0.05
        assert np.ptp(line_leans) > 0.4  # lines still lean every way the shear allows
    else:
        assert spread > 0.15


def test_line_order_holds_when_a_digit_s_left_part_is_hidden():
    """Bright block, dim digit, bright digit, 5 px overlaps: the dim one's left bar is hidden,
    so it starts right of its right neighbour and must be numbered after it."""
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 4:24, 9:19] = 255  # block
    images[1, 10:18, 9:11] = images[1, 10:18, 17:19] = 100  # dim bars
    images[2, 4:24, 9:11] = images[2, 4:24, 17:19] = 255  # bright bars
    spec = CanvasSpec(
        height=40, width=60, min_digits=3, max_digits=3, layout="line", gap=(-5, -5), **INK_ONLY
    )
    batch = render(spec, {"test": DigitSet(images, np.arange(3, dtype=np.uint8))}, range(300))
    assert_labels_consistent(spec, batch)
    renumbered = 0
    for canvas in batch:
        assert (np.diff(canvas.boxes[:, 0]) >= 0).all()
        dim = np.flatnonzero(canvas.labels == 1)
        renumbered += any(
            canvas.boxes[i, 2] - canvas.boxes[i, 0] == 2 and i > 0 and canvas.labels[i - 1] == 2
            for i in dim
        )
    assert renumbered


def test_line_gaps_separate_neighbours(fake_digits):
    spec = CanvasSpec(width=160, min_digits=2, max_digits=5, layout="line", gap=(4, 4), **INK_ONLY)
    for canvas in render(spec, fake_digits, range(30)):
        np.testing.assert_array_equal(canvas.boxes[1:, 0] - canvas.boxes[:-1, 2], 4)


def test_negative_gaps_overlap_by_at_most_half_a_digit():
    """Squares 12 px wide asked to overlap by 10 overlap by 6. Seen where a dim square comes
    first: the bright second one covers the dim one's right half, and shows whole."""
    spec = CanvasSpec(
        width=60,
        min_digits=2,
        max_digits=2,
        layout="line",
        gap=(-10, -10),
        min_visible_area=1,
        **INK_ONLY,
    )
    batch = render(spec, {"test": squares(100, 200)}, range(40))
    dim_first = [c.boxes for c in batch if c.labels.tolist() == [0, 1]]
    assert dim_first
    for boxes in dim_first:
        assert boxes[1, 2] - boxes[1, 0] == 12
        assert boxes[1, 0] - boxes[0, 0] == 6


def test_scatter_respects_max_overlap(fake_digits):
    spec = CanvasSpec(min_digits=3, max_digits=3, max_overlap=0.0, **INK_ONLY)
    for canvas in render(spec, fake_digits, range(60)):
        boxes = canvas.boxes
        for i in range(len(boxes)):
            for j in range(i):
                width = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
                height = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
                assert width <= 0 or height <= 0


def test_scale_changes_digit_size(fake_digits):
    def mean_height(scale):
        spec = CanvasSpec(height=64, width=64, min_digits=1, max_digits=1, scale=scale)
        return np.mean([c.boxes[0, 3] - c.boxes[0, 1] for c in render(spec, fake_digits)])

    assert 1.3 < mean_height((1.5, 1.5)) / mean_height((1.0, 1.0)) < 1.7


def test_repeated_classes(fake_digits):
    spec = CanvasSpec(min_digits=2, max_digits=3, repeat_prob=1.0)
    for labels in render(spec, fake_digits).labels:
        assert 2 <= len(labels) <= 3 and len(set(labels.tolist())) == 1


# --- marks and styles --------------------------------------------------------------------


@pytest.mark.parametrize("kinds", [DEFAULT_DISTRACTOR_KINDS, ("slash", "flat_slash"), SIGN_KINDS])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_distractors_are_background(fake_digits, layout, kinds):
    plain = CanvasSpec(width=120, layout=layout, **INK_ONLY)
    marked = dataclasses.replace(plain, distractors=(3, 3), distractor_kinds=kinds)
    without, with_marks = render(plain, fake_digits), render(marked, fake_digits)
    for name in ("semantic", "instances", "labels", "boxes"):
        for a, b in zip(getattr(without, name), getattr(with_marks, name), strict=True):
            np.testing.assert_array_equal(a, b)
    changed = with_marks.images != without.images
    assert changed.sum() > 100
    assert (with_marks.semantic[changed] == BACKGROUND).all()


@pytest.mark.parametrize(
    ("kind", "each", "median"),
    [
        ("slash", (0.0, 1.0), (0.4, 0.8)),
        ("steep_slash", (0.3, 0.6), (0.35, 0.52)),
        ("flat_slash", (0.8, 2.0), (1.0, 1.6)),
    ],
)
def test_slashes_on_a_line_are_strokes_across_its_middle(fake_digits, kind, each, median):
    """Slashes are taller than wide, steep ones more so; flat slashes, leaning 40-60 degrees,
    mostly wider."""
    plain = CanvasSpec(width=160, layout="line", one_writer=kind == "steep_slash", **INK_ONLY)
    marked = dataclasses.replace(plain, distractors=(2, 2), distractor_kinds=(kind,))
    without, with_marks = render(plain, fake_digits), render(marked, fake_digits)
    width_per_height = []
    for canvas, changed in zip(with_marks, with_marks.images != without.images, strict=True):
        middle = (canvas.boxes[:, 1].min() + canvas.boxes[:, 3].max()) // 2
        for rows, cols in ndimage.find_objects(ndimage.label(changed)[0]):
            assert rows.start <= middle < rows.stop
            width_per_height.append((cols.stop - cols.start) / (rows.stop - rows.start))
            assert each[0] < width_per_height[-1] < each[1]
    assert len(width_per_height) > len(with_marks)
    assert median[0] < np.median(width_per_height) < median[1]


def _stroke_width(mask: np.ndarray) -> float:
    """The mean width, px, of the strokes in ``mask``: twice their area over their outline."""
    outlines, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2 * mask.sum() / sum(cv2.arcLength(outline, True) for outline in outlines)


@pytest.mark.parametrize("kind", ["slash", "steep_slash", "flat_slash"])
def test_slashes_are_drawn_with_a_digit_s_pen(mnist_digits, kind):
    """A slash's stroke is no thicker than the digits' beside it, so that the net tells it
    from a 1 by its lean, not by its pen."""
    plain = CanvasSpec(width=200, min_digits=3, max_digits=3, layout="line", **INK_ONLY)
    spec = dataclasses.replace(
        plain, separators=1.0, separator_kinds=(kind,), one_writer=kind == "steep_slash"
    )
    batch = render(spec, mnist_digits)
    inked = batch.images > 127
    marks = inked & (batch.semantic == BACKGROUND)
    digits = inked & (batch.semantic != BACKGROUND)
    mark_widths = [_stroke_width(m) for m in marks if m.any()]
    digit_widths = [_stroke_width(d) for d in digits]
    assert len(mark_widths) > len(batch) // 2
    assert np.median(mark_widths) < 1.2 * np.median(digit_widths)


@pytest.mark.parametrize("kind", SIGN_KINDS)
def test_signs_on_a_line_stand_across_its_middle(fake_digits, kind):
    plain = CanvasSpec(width=160, layout="line", **INK_ONLY)
    marked = dataclasses.replace(plain, distractors=(2, 2), distractor_kinds=(kind,))
    without, with_marks = render(plain, fake_digits), render(marked, fake_digits)
    signs = 0
    for canvas, changed in zip(with_marks, with_marks.images != without.images, strict=True):
        middle = (canvas.boxes[:, 1].min() + canvas.boxes[:, 3].max()) // 2
        changed = ndimage.binary_closing(changed, np.ones((5, 5)))  # a sign's strokes as one
        for rows, _ in ndimage.find_objects(ndimage.label(changed)[0]):
            assert rows.start <= middle < rows.stop
            signs += 1
    assert signs > len(with_marks)


@pytest.mark.parametrize(
    ("kind", "row"), [("slash", "middle"), ("flat_slash", "middle"), ("dot", "baseline")]
)
def test_separators_are_background_marks_between_neighbours(fake_digits, kind, row):
    plain = CanvasSpec(width=200, min_digits=3, max_digits=3, layout="line", **INK_ONLY)
    separated = dataclasses.replace(plain, separators=1.0, separator_kinds=(kind,))
    without, batch = render(plain, fake_digits), render(separated, fake_digits)
    for a, b in zip(without.labels, batch.labels, strict=True):
        np.testing.assert_array_equal(a, b)  # the same digits, only spaced out
    separators = 0
    for canvas in batch:
        boxes = canvas.boxes[np.argsort(canvas.boxes[:, 0])]
        baseline, top = boxes[:, 3].max(), boxes[:, 1].min()
        line_row = baseline - 1 if row == "baseline" else (top + baseline) // 2
        marks = (canvas.image > 0) & (canvas.semantic == BACKGROUND)
        for rows, cols in ndimage.find_objects(ndimage.label(marks)[0]):
            gap = np.flatnonzero((boxes[:-1, 2] < cols.start) & (cols.stop < boxes[1:, 0]))
            assert len(gap) == 1, "a separator lies between two neighbours"
            assert rows.start <= line_row < rows.stop
            separators += 1
    assert separators == sum(len(labels) - 1 for labels in batch.labels)


def test_paper_is_rgb_with_dark_ink_on_light(fake_digits):
    spec = CanvasSpec(backgrounds={"paper": 1.0}, ruled_lines=1.0)
    batch = render(spec, fake_digits)
    assert batch.images.shape == (40, 64, 84, 3) and set(batch.styles) == {"paper"}
    for canvas in batch:
        brightness = canvas.image.mean(-1)
        ink = np.median(brightness[canvas.semantic != BACKGROUND])
        assert ink < np.median(brightness[canvas.semantic == BACKGROUND]) - 30


def test_gray_styles_are_rgb_when_the_spec_has_paper(fake_digits):
    spec = CanvasSpec(backgrounds={"black": 1.0, "noise": 1.0, "paper": 1.0})
    batch = render(spec, fake_digits, range(60))
    assert set(batch.styles) == {"black", "noise", "paper"}
    for canvas in batch:
        if canvas.style != "paper":
            assert (canvas.image == canvas.image[..., :1]).all()


def test_dark_on_light_polarity_inverts_black_canvases(fake_digits):
    light = render(CanvasSpec(**INK_ONLY), fake_digits)
    dark = render(CanvasSpec(**{**INK_ONLY, "polarity": "dark_on_light"}), fake_digits)
    np.testing.assert_array_equal(dark.images, 255 - light.images)
    np.testing.assert_array_equal(dark.semantic, light.semantic)
