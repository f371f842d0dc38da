"""What ``digitseg-eval`` reads, as :class:`EvalItem` canvases with their instance truth.

Three sources:

- ``preset``: canvases ``0..count-1`` of a split of a ``conf/data`` preset, rendered on the
  fly: the same canvases ``digitseg-generate`` writes.
- ``folder``: a ``png`` export of ``digitseg-generate`` (images, masks, instances, COCO).
- ``m2nist``: M2NIST's ``combined.npy`` / ``segmented.npy`` (or ``digitseg-generate
  format=m2nist``). These arrays hold classes only: the instance truth is made of the
  8-connected parts of each digit class, and parts under ``MIN_PART_AREA`` pixels are no
  instance. Two touching digits of one class thus count as one, a digit broken in two as
  two; the background style is ``unknown``.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from digitseg.classes import BACKGROUND, NUM_DIGITS
from digitseg.data.export import (
    ANNOTATIONS,
    COMBINED,
    INFO,
    SEGMENTED,
    read_coco_split,
    rgb_to_gray,
)
from digitseg.data.sources import build_generator
from digitseg.data.synth import Canvas, CanvasGenerator
from digitseg.metrics.instance import ImageInstances
from digitseg.postprocess import Instance, read_text

SOURCES = ("preset", "folder", "m2nist")
# Parts of a digit class with fewer pixels are not instances (the generator's
# ``min_visible_area`` and post-processing's ``min_area``).
MIN_PART_AREA = 16


@dataclass(frozen=True)
class EvalItem(Canvas):
    """One canvas with its truth: a :class:`~digitseg.data.synth.Canvas`, its ``index`` and
    ``line_layout``, whether the digits were placed in one line (as the ``numbers`` preset
    does)."""

    index: int = 0
    line_layout: bool = False

    @classmethod
    def from_canvas(cls, index: int, canvas: Canvas, line_layout: bool) -> "EvalItem":
        """Canvas ``index`` of a generator (``line_layout``: its spec's layout is ``line``)."""
        parts = {field.name: getattr(canvas, field.name) for field in fields(Canvas)}
        return cls(**parts, index=index, line_layout=line_layout)

    def truth(self) -> list[Instance]:
        """The true digits as post-processing's instances (score 1), in instance order."""
        found = []
        for i, (label, box) in enumerate(zip(self.labels, self.boxes, strict=True), start=1):
            x0, y0, x1, y1 = (int(v) for v in box)
            mask = self.instances[y0:y1, x0:x1] == i
            found.append(Instance(int(label), 1.0, (x0, y0, x1, y1), int(mask.sum()), mask))
        return found

    def truth_arrays(self) -> ImageInstances:
        """The true digits with full-image masks, for matching."""
        return ImageInstances.from_id_map(self.instances, self.labels, self.boxes)

    def truth_text(self) -> str:
        """The true digits read as text: in instance order on line layouts (the generator
        numbers them left to right), else in the reading order of their boxes."""
        if self.line_layout:
            return "".join(str(int(label)) for label in self.labels)
        return read_text(self.truth())


@dataclass(frozen=True)
class EvalSource:
    """Canvases to evaluate: ``count`` items and a description of where they come from."""

    items: Iterator[EvalItem]
    count: int
    info: dict


def preset_source(
    generator: CanvasGenerator, name: str, split: str, count: int, batch_size: int = 64
) -> EvalSource:
    """Canvases ``0..count-1`` of ``split`` of a preset's generator, rendered in batches."""
    line_layout = generator.spec.layout == "line"

    def items() -> Iterator[EvalItem]:
        for start in range(0, count, batch_size):
            indices = range(start, min(start + batch_size, count))
            batch = generator.render(split, list(indices))
            for k, index in enumerate(indices):
                yield EvalItem.from_canvas(index, batch[k], line_layout)

    info = {"kind": "preset", "preset": name, "split": split, "count": count}
    return EvalSource(items(), count, info)


def folder_source(folder: str | Path, count: int | None = None) -> EvalSource:
    """The first ``count`` (None: all) canvases of a ``digitseg-generate`` PNG export."""
    folder = Path(folder)
    if not (folder / ANNOTATIONS).is_file():
        raise FileNotFoundError(
            f"no {ANNOTATIONS} in {folder}; write a split with `digitseg-generate out_dir=...`"
        )
    with open(folder / ANNOTATIONS) as f:
        coco = json.load(f)
    styles = [image.get("style", "unknown") for image in coco["images"]]
    total = len(styles) if count is None else min(count, len(styles))
    line_layout = _layout(coco["info"]) == "line"

    def items() -> Iterator[EvalItem]:
        found = zip(range(total), read_coco_split(folder), styles, strict=False)
        for index, split_item, style in found:
            yield EvalItem(*split_item, style, index=index, line_layout=line_layout)

    info = {"kind": "folder", "folder": str(folder), "preset": coco["info"].get("preset")}
    info |= {"split": coco["info"].get("split"), "count": total}
    return EvalSource(items(), total, info)


def m2nist_source(folder: str | Path, count: int | None = None, batch_size: int = 64):
    """The first ``count`` (None: all) canvases of M2NIST's arrays in ``folder``."""
    folder = Path(folder)
    missing = [name for name in (COMBINED, SEGMENTED) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no {' or '.join(missing)} in {folder}")
    images = np.load(folder / COMBINED, mmap_mode="r")
    masks = np.load(folder / SEGMENTED, mmap_mode="r")
    total = len(images) if count is None else min(count, len(images))
    info_file = folder / INFO
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    line_layout = _layout(info) == "line"

    def items() -> Iterator[EvalItem]:
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            batch = _to_uint8(np.asarray(images[start:stop]))
            onehots = np.asarray(masks[start:stop])
            for index, image, onehot in zip(range(start, stop), batch, onehots, strict=True):
                semantic = one_hot_to_classes(onehot)
                ids, labels, boxes = instances_from_semantic(semantic)
                yield EvalItem(image, semantic, ids, labels, boxes, "unknown", index, line_layout)

    description = {"kind": "m2nist", "folder": str(folder), "preset": info.get("preset")}
    description |= {"split": info.get("split"), "count": total}
    return EvalSource(items(), total, description)


def open_source(cfg) -> EvalSource:
    """The source an eval config names: ``source`` (preset, folder or m2nist) with ``data``,
    ``paths``, ``split``, ``folder``, ``count`` (None: the split's size, or all) and
    ``batch_size``."""
    if cfg.source == "preset":
        count = cfg.count if cfg.count is not None else cfg.data[f"{cfg.split}_size"]
        generator = build_generator(cfg.data, cfg.paths)
        return preset_source(generator, cfg.data.name, cfg.split, int(count), cfg.batch_size)
    if cfg.source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got '{cfg.source}'")
    if cfg.folder is None:
        raise ValueError(f"source={cfg.source} needs folder=<path>")
    if cfg.source == "folder":
        return folder_source(cfg.folder, cfg.count)
    return m2nist_source(cfg.folder, cfg.count, cfg.batch_size)


def _layout(info: dict) -> str:
    return (info.get("spec") or {}).get("layout", "scatter")


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Images as uint8 gray: floats in [0, 1] are scaled to 255, RGB converted to luma."""
    if images.dtype != np.uint8:
        scale = 255.0 if images.max(initial=0) <= 1.0 else 1.0
        images = np.clip(np.rint(images * scale), 0, 255).astype(np.uint8)
    return rgb_to_gray(images) if images.ndim == 4 else images


def one_hot_to_classes(onehot: np.ndarray) -> np.ndarray:
    """(H, W, 11) one-hot (or scores) to class ids; pixels with no channel set are background."""
    classes = onehot.argmax(-1).astype(np.uint8)
    classes[onehot.max(-1) <= 0] = BACKGROUND
    return classes


def instances_from_semantic(semantic: np.ndarray, min_area: int = MIN_PART_AREA):
    """Instance truth of a class map: the 8-connected parts of each digit class of at least
    ``min_area`` pixels, numbered by their left edge. Returns the id map, labels and boxes."""
    parts = []
    for digit in range(NUM_DIGITS):
        n, ids, stats, _ = cv2.connectedComponentsWithStats(
            (semantic == digit).view(np.uint8), connectivity=8
        )
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] >= min_area:
                x, y, w, h = stats[k, :4]
                parts.append((x, y, digit, ids == k, (x, y, x + w, y + h)))
    parts.sort(key=lambda part: part[:3])
    ids = np.zeros(semantic.shape, np.uint16)
    for i, part in enumerate(parts, start=1):
        ids[part[3]] = i
    labels = np.array([part[2] for part in parts], np.uint8)
    boxes = np.array([part[4] for part in parts], np.int32).reshape(-1, 4)
    return ids, labels, boxes
