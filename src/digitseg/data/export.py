"""Write a generated split to disk (PNG files with COCO annotations, or M2NIST arrays) and read
PNG exports back.

``png`` writes, for canvas ``i`` of the split (file stem ``f"{i:06d}"``):

- ``images/<i>.png``: the image, gray or RGB as the spec renders it;
- ``masks/<i>.png``: 8-bit class ids, digit d as d and background as 10;
- ``instances/<i>.png``: 16-bit instance ids, 0 for none and 1..n;
- ``annotations.json``: COCO instance annotations (image ``id`` = i, category ``id`` = digit,
  annotation ids from 1, ``bbox`` tight xywh, ``area`` the mask's pixel count, ``segmentation``
  compressed RLE, plus ``instance_id``, the annotation's id in the instances PNG) and an
  ``info`` block with the preset, split, seed, count and full spec.

``m2nist`` writes M2NIST's two arrays, for code written for that dataset:

- ``combined.npy``: uint8 (N, H, W) images. RGB specs are converted to gray with ITU-R 601-2
  luma (as PIL's ``convert("L")``); the polarity is kept, so paper canvases stay dark on light.
- ``segmented.npy``: uint8 (N, H, W, 11) one-hot masks, channel d for digit d and background
  last (channel 10), as in M2NIST. The values are 0/1 uint8 to keep files small; cast them
  (``.astype(np.float32)``) where a loss wants floats. Instances are not exported.
- ``info.json``: the same ``info`` block as the COCO file.

Both formats also write ``manifest.json``, the list of the files the export writes (before
writing them, so that an interrupted export is listed too). ``overwrite`` deletes exactly those
and nothing else: a user's own files in the folder, ``images/`` included, stay.
"""

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from tqdm import tqdm

from digitseg import __version__
from digitseg.classes import NUM_CLASSES, NUM_DIGITS
from digitseg.data.synth import CanvasBatch, CanvasGenerator
from digitseg.utils.files import delete_files, paths_inside

FORMATS = ("png", "m2nist")
ANNOTATIONS = "annotations.json"
IMAGES, MASKS, INSTANCES = "images", "masks", "instances"
COMBINED, SEGMENTED, INFO = "combined.npy", "segmented.npy", "info.json"
MANIFEST = "manifest.json"


class SplitItem(NamedTuple):
    """One canvas read back from a PNG export (dtypes and layout as :class:`Canvas`)."""

    image: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def write_split(
    generator: CanvasGenerator,
    split: str,
    count: int,
    out_dir: str | Path,
    fmt: str = "png",
    overwrite: bool = False,
    batch_size: int = 256,
    progress: bool = True,
    name: str = "",
) -> Path:
    """Write canvases ``0..count-1`` of ``split`` to ``out_dir`` in ``fmt``; returns the folder.

    A non-empty ``out_dir`` is refused unless ``overwrite``; then the files that the earlier
    export's ``manifest.json`` lists are deleted first and any other file is kept. A folder
    without a manifest, a manifest that names files outside the folder, or a new file that
    would replace one the earlier export did not write is refused before anything is deleted.
    ``name`` is the preset's name, recorded in the COCO ``info`` block.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got '{fmt}'")
    if split not in generator.splits:
        raise KeyError(f"unknown split '{split}'; this generator has {generator.splits}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    out_dir = Path(out_dir)
    files = _export_files(fmt, count)
    _prepare(out_dir, overwrite, files)
    _write_manifest(out_dir, fmt, files)
    writer = _PngWriter(out_dir) if fmt == "png" else _M2nistWriter(out_dir, generator, count)
    with tqdm(
        total=count,
        desc=f"{name or 'canvases'}/{split} ({fmt})",
        unit="canvas",
        disable=not progress,
    ) as bar:
        for start in range(0, count, batch_size):
            indices = np.arange(start, min(start + batch_size, count))
            writer.add(indices, generator.render(split, indices))
            bar.update(len(indices))
    writer.close(_info(generator, name, split, count))
    return out_dir


def _export_files(fmt: str, count: int) -> list[str]:
    """The files, relative to its folder, that an export of ``count`` canvases in ``fmt``
    writes besides its manifest."""
    if fmt == "m2nist":
        return [COMBINED, SEGMENTED, INFO]
    names = [_png_name(index) for index in range(count)]
    return [f"{folder}/{n}" for folder in (IMAGES, MASKS, INSTANCES) for n in names] + [ANNOTATIONS]


def _png_name(index: int) -> str:
    return f"{index:06d}.png"


def _prepare(out_dir: Path, overwrite: bool, files: list[str]) -> None:
    """Create ``out_dir``; refuse a non-empty one unless ``overwrite``, then delete the earlier
    export's files, once sure that the new ``files`` replace none of anyone else's."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output path {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"output folder {out_dir} is not empty; pass overwrite=true to replace its export"
            )
        earlier = _earlier_export(out_dir)
        _refuse_clashes(out_dir, files, earlier)
        delete_files(earlier, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def _earlier_export(out_dir: Path) -> list[Path]:
    """The files that the export in ``out_dir`` wrote, as its ``manifest.json`` lists them."""
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        raise FileExistsError(
            f"output folder {out_dir} is not empty and has no {MANIFEST} listing the files of an "
            "earlier digitseg-generate export, so overwrite=true cannot tell which files to "
            "replace (an older digitseg wrote none); empty the folder yourself or choose another "
            "out_dir"
        )
    try:
        record = json.loads(manifest.read_text())
        names = record.get("files") if isinstance(record, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TypeError("no list of file names under 'files'")
        return paths_inside(out_dir, names)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"overwrite=true refused: {manifest} is not the manifest of a digitseg-generate "
            f"export inside {out_dir} ({error}); delete the files yourself or choose another "
            "out_dir"
        ) from error


def _refuse_clashes(out_dir: Path, files: list[str], earlier: list[Path]) -> None:
    """Refuse to write a file, or a folder, where one stands that the earlier export (whose
    files are ``earlier``) did not write, or through a link to a folder elsewhere."""
    ours = set(earlier)
    paths = [out_dir / name for name in files]
    folders = {path.parent for path in paths} - {out_dir}
    clashes = [path for path in paths if path not in ours and path.exists()]
    clashes += [f for f in folders if f.is_symlink() or (f.exists() and not f.is_dir())]
    if clashes:
        raise FileExistsError(
            f"overwrite=true would replace {clashes[0]}, which the earlier export in {out_dir} "
            f"did not write ({len(clashes)} such paths); move them or choose another out_dir"
        )


def _write_manifest(out_dir: Path, fmt: str, files: list[str]) -> None:
    record = {"written_by": "digitseg-generate", "version": __version__, "format": fmt}
    with open(out_dir / MANIFEST, "w") as f:
        json.dump({**record, "files": files}, f)


def _info(generator: CanvasGenerator, name: str, split: str, count: int) -> dict:
    return {
        "description": f"digitseg canvases: preset {name or '?'}, split {split}",
        "version": __version__,
        "preset": name,
        "split": split,
        "seed": generator.seed,
        "count": count,
        "spec": dataclasses.asdict(generator.spec),
    }


class _PngWriter:
    """Writes PNG files per canvas and collects the COCO annotations."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        for folder in (IMAGES, MASKS, INSTANCES):
            (out_dir / folder).mkdir(exist_ok=True)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, indices: np.ndarray, batch: CanvasBatch) -> None:
        for index, canvas in zip(indices.tolist(), batch, strict=True):
            file_name = _png_name(index)
            Image.fromarray(canvas.image).save(self.out_dir / IMAGES / file_name)
            Image.fromarray(canvas.semantic).save(self.out_dir / MASKS / file_name)
            Image.fromarray(canvas.instances).save(self.out_dir / INSTANCES / file_name)
            height, width = canvas.semantic.shape
            self.images.append(
                {
                    "id": index,
                    "file_name": f"{IMAGES}/{file_name}",
                    "height": height,
                    "width": width,
                    "style": canvas.style,
                }
            )
            self.annotations += _coco_annotations(
                index, canvas.instances, canvas.labels, canvas.boxes, len(self.annotations) + 1
            )

    def close(self, info: dict) -> None:
        coco = {
            "info": info,
            "images": self.images,
            "categories": [
                {"id": d, "name": str(d), "supercategory": "digit"} for d in range(NUM_DIGITS)
            ],
            "annotations": self.annotations,
        }
        with open(self.out_dir / ANNOTATIONS, "w") as f:
            json.dump(coco, f)


def _coco_annotations(
    image_id: int, instances: np.ndarray, labels: np.ndarray, boxes: np.ndarray, first_id: int
) -> list[dict]:
    """COCO annotations of one canvas's instances 1..n, with ids from ``first_id``."""
    n = len(labels)
    if n == 0:
        return []
    masks = instances[..., None] == np.arange(1, n + 1, dtype=instances.dtype)
    rles = mask_utils.encode(np.asfortranarray(masks.astype(np.uint8)))
    areas = np.bincount(instances.ravel(), minlength=n + 1)[1:]
    annotations = []
    for i, (rle, label, (x0, y0, x1, y1), area) in enumerate(
        zip(rles, labels.tolist(), boxes.tolist(), areas.tolist(), strict=True)
    ):
        annotations.append(
            {
                "id": first_id + i,
                "image_id": image_id,
                "category_id": label,
                "instance_id": i + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": area,
                "iscrowd": 0,
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
            }
        )
    return annotations


class _M2nistWriter:
    """Streams images and one-hot masks into memory-mapped ``.npy`` files."""

    def __init__(self, out_dir: Path, generator: CanvasGenerator, count: int) -> None:
        self.out_dir = out_dir
        size = (count, generator.spec.height, generator.spec.width)
        self.combined = np.lib.format.open_memmap(
            out_dir / COMBINED, mode="w+", dtype=np.uint8, shape=size
        )
        self.segmented = np.lib.format.open_memmap(
            out_dir / SEGMENTED, mode="w+", dtype=np.uint8, shape=size + (NUM_CLASSES,)
        )

    def add(self, indices: np.ndarray, batch: CanvasBatch) -> None:
        images = batch.images if batch.images.ndim == 3 else rgb_to_gray(batch.images)
        self.combined[indices] = images
        self.segmented[indices] = np.eye(NUM_CLASSES, dtype=np.uint8)[batch.semantic]

    def close(self, info: dict) -> None:
        self.combined.flush()
        self.segmented.flush()
        with open(self.out_dir / INFO, "w") as f:
            json.dump(info, f, indent=2)


def rgb_to_gray(images: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of uint8 RGB images (..., 3), rounded exactly as PIL's ``convert("L")``."""
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    return ((images.astype(np.uint32) @ weights + 0x8000) >> 16).astype(np.uint8)


def read_coco_split(folder: str | Path) -> Iterator[SplitItem]:
    """Canvases of a ``png`` export, in the order of ``annotations.json``'s images."""
    folder = Path(folder)
    with open(folder / ANNOTATIONS) as f:
        coco = json.load(f)
    by_image: dict[int, list[dict]] = {image["id"]: [] for image in coco["images"]}
    for annotation in coco["annotations"]:
        by_image[annotation["image_id"]].append(annotation)
    for image in coco["images"]:
        annotations = sorted(by_image[image["id"]], key=lambda a: a["instance_id"])
        stem = Path(image["file_name"]).name
        boxes = np.array([a["bbox"] for a in annotations], dtype=np.int32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        yield SplitItem(
            image=_read_png(folder / image["file_name"]),
            semantic=_read_png(folder / MASKS / stem),
            instances=_read_png(folder / INSTANCES / stem).astype(np.uint16),
            labels=np.array([a["category_id"] for a in annotations], dtype=np.uint8),
            boxes=boxes,
        )


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)
