"""Real scans labelled with a box per digit, in COCO format (any labelling tool's export).

``annotations.json`` holds ``images`` (``id``, ``file_name``), ``annotations`` (``image_id``,
``bbox`` = [x, y, width, height] in pixels, ``category_id``) and ``categories`` whose
``name`` is the digit ("0".."9"). Ink outside every box (commas, dots, dashes, lines) is
no digit.

Every image belongs to one fixed part, by its file name alone (:func:`part_of`): the same
image is in the same part whatever else the set holds or in which order it is listed, so a
validation part stays unseen by training when images are added.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitseg.data.image_files import read_image

PARTS = ("train", "val", "all")
# One image in VAL_EVERY is in the validation part (see part_of).
VAL_EVERY = 6


class CocoScansError(ValueError):
    """An annotations file that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class LabelledScan:
    """One scan: ``image`` uint8 (H, W) or (H, W, 3) as the file holds it, ``labels`` (n,)
    digits and ``boxes`` (n, 4) x0, y0, x1, y1 with exclusive ends, in the file's order."""

    file_name: str
    image: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def part_of(file_name: str) -> str:
    """``val`` for one file name in :data:`VAL_EVERY` (the SHA-256 of the name, read as a
    number, divisible by it), else ``train``."""
    digest = hashlib.sha256(Path(file_name).name.encode()).hexdigest()
    return "val" if int(digest, 16) % VAL_EVERY == 0 else "train"


@dataclass(frozen=True)
class CocoScans:
    """The images of one part of a COCO set, read on demand (``scans()``, ``scan(i)``)."""

    folder: Path
    annotations: Path
    records: tuple[tuple[str, np.ndarray, np.ndarray], ...]

    def __len__(self) -> int:
        return len(self.records)

    def scan(self, index: int) -> LabelledScan:
        """Scan ``index`` of this part, read from its file."""
        file_name, labels, boxes = self.records[index]
        return LabelledScan(file_name, read_image(self.folder / file_name), labels, boxes)

    def scans(self) -> Iterator[LabelledScan]:
        return (self.scan(i) for i in range(len(self)))


def open_coco_scans(
    folder: str | Path, annotations: str | Path | None = None, part: str = "all"
) -> CocoScans:
    """The images of ``part`` (train, val or all) of the COCO set ``annotations`` (default:
    ``folder/../annotations.json``, then ``folder/annotations.json``) whose files are in
    ``folder``; images with no file there are a clear error."""
    if part not in PARTS:
        raise CocoScansError(f"part must be one of {PARTS}, got '{part}'")
    folder = Path(folder)
    path = Path(annotations) if annotations is not None else _default_annotations(folder)
    coco = _load(path)
    digit_of = _digit_categories(coco, path)
    by_image: dict[int, list] = {image["id"]: [] for image in coco["images"]}
    for annotation in coco.get("annotations", []):
        if annotation["image_id"] in by_image and annotation["category_id"] in digit_of:
            by_image[annotation["image_id"]].append(annotation)
    records = []
    for image in sorted(coco["images"], key=lambda image: image["file_name"]):
        if part != "all" and part_of(image["file_name"]) != part:
            continue
        found = by_image[image["id"]]
        labels = np.array([digit_of[a["category_id"]] for a in found], np.int64)
        boxes = np.array([_xyxy(a["bbox"]) for a in found], np.int64).reshape(-1, 4)
        records.append((image["file_name"], labels, boxes))
    missing = [name for name, _, _ in records if not (folder / name).is_file()]
    if missing:
        raise CocoScansError(
            f"{len(missing)} images of {path} are not in {folder} (first: {missing[0]}); "
            "point folder= at the images the annotations name"
        )
    return CocoScans(folder, path, tuple(records))


def _default_annotations(folder: Path) -> Path:
    for candidate in (folder.parent / "annotations.json", folder / "annotations.json"):
        if candidate.is_file():
            return candidate
    raise CocoScansError(
        f"no annotations.json beside or in {folder}; pass folder=<images> and "
        "annotations=<coco json> (the default set is paths.scans_dir, env DIGITSEG_SCANS_DIR)"
    )


def _load(path: Path) -> dict:
    try:
        coco = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CocoScansError(f"{path} is not a readable COCO json file: {error}") from error
    if not isinstance(coco, dict) or not isinstance(coco.get("images"), list):
        raise CocoScansError(f"{path} has no 'images' list: is it a COCO annotations file?")
    return coco


def _digit_categories(coco: dict, path: Path) -> dict[int, int]:
    """Category id -> digit, for the categories named "0".."9" (others are ignored)."""
    digits = {
        category["id"]: int(category["name"])
        for category in coco.get("categories", [])
        if str(category.get("name")).strip() in {str(d) for d in range(10)}
    }
    if not digits:
        raise CocoScansError(f"{path} names no digit category: categories must be named '0' to '9'")
    return digits


def _xyxy(bbox) -> tuple[int, int, int, int]:
    """COCO's [x, y, width, height] as integer x0, y0, x1, y1 (exclusive ends)."""
    x, y, w, h = (float(v) for v in bbox)
    return round(x), round(y), round(x + w), round(y + h)
