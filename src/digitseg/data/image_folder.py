"""Users' own digits from an image folder ``<root>/<digit>/*.png|jpg|...`` (the formats of
:data:`~digitseg.data.image_files.IMAGE_SUFFIXES`, read by
:func:`~digitseg.data.image_files.read_image`).

Each image may have any size and either polarity; it is normalised the MNIST way: white ink on
black, the paper's grey level removed, the ink's bounding box fitted into 20x20 keeping its aspect
ratio (area interpolation when shrinking, linear when enlarging), then placed in 28x28 with its
centre of mass at (14, 14) as in MNIST, shifted less where the digit would leave the frame.

Files that cannot be read, or hold no ink, are skipped with one warning listing them; only a
folder with no usable image at all is an error.
"""

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from digitseg.data.digits import SPLITS, DigitSet
from digitseg.data.image_files import IMAGE_SUFFIXES, read_image

log = logging.getLogger(__name__)

DIGIT_NAMES = tuple("0123456789")
SIZE = 28
BOX = 20
CENTRE = 14.0  # where MNIST puts the centre of mass, in pixel-index coordinates
INK_THRESHOLD = 0.1  # pixels dimmer than this fraction of the brightest ink count as background


class ImageFolderError(ValueError):
    """The image folder is missing, has no digit subfolders or no usable image."""


def normalize_digit(image: np.ndarray) -> np.ndarray:
    """Normalise one digit image (HxW or HxWx3 uint8, any polarity) to MNIST style: 28x28 uint8."""
    ink = _ink(_to_gray(image))
    rows, cols = np.nonzero(ink)
    if len(rows) == 0:
        raise ValueError("image has no ink (it is blank)")
    box = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return _centre(_fit_box(box))


def _to_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 view of ``image``; colour images are converted to luminance."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"digit images must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"digit images must be HxW or HxWx3, got shape {image.shape}")
    return image


def _ink(gray: np.ndarray) -> np.ndarray:
    """Ink as white on pure black, scaled to 0..255: invert light backgrounds, remove the paper."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray.astype(np.float32)
    if background > 127:
        ink, background = 255 - ink, 255 - background
    ink = np.clip(ink - background, 0, None)
    peak = ink.max()
    if peak == 0:
        return ink.astype(np.uint8)
    ink = ink * (255 / peak)
    ink[ink < 255 * INK_THRESHOLD] = 0
    return np.rint(ink).astype(np.uint8)


def _fit_box(box: np.ndarray) -> np.ndarray:
    """Resize the ink's bounding box so its longer side is 20 pixels, keeping the aspect ratio."""
    h, w = box.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # cv2 wants (width, height)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(box, size, interpolation=interpolation)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` in a 28x28 frame with its centre of mass at the centre, kept in frame."""
    h, w = digit.shape
    com_row, com_col = ndimage.center_of_mass(digit.astype(np.float64))
    top = int(np.clip(round(CENTRE - com_row), 0, SIZE - h))
    left = int(np.clip(round(CENTRE - com_col), 0, SIZE - w))
    frame = np.zeros((SIZE, SIZE), dtype=np.uint8)
    frame[top : top + h, left : left + w] = digit
    return frame


def _list_images(root: Path) -> list[tuple[str, int]]:
    """(relative posix path, label) of every image under ``root/<digit>/``, sorted by path."""
    if not root.is_dir():
        raise ImageFolderError(f"{root}: image folder not found")
    digit_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name in DIGIT_NAMES]
    if not digit_dirs:
        raise ImageFolderError(
            f"{root}: no digit subfolders; put each digit's images in {root}/<digit>/ "
            "with <digit> one of 0..9"
        )
    entries = [
        (path.relative_to(root).as_posix(), int(d.name))
        for d in digit_dirs
        for path in sorted(d.iterdir())
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not entries:
        raise ImageFolderError(
            f"{root}: the digit subfolders hold no {'/'.join(IMAGE_SUFFIXES)} images"
        )
    return entries


def _load(root: Path) -> tuple[DigitSet, list[str]]:
    """Every usable digit under ``root`` and its relative path; unusable files are skipped."""
    images, labels, kept, bad = [], [], [], []
    for rel, label in _list_images(root):
        try:
            images.append(normalize_digit(read_image(root / rel)))
        except (OSError, ValueError) as e:
            bad.append(f"{root / rel} ({e})")
            continue
        labels.append(label)
        kept.append(rel)
    if bad:
        log.warning("Skipped %d unusable image(s): %s", len(bad), "; ".join(bad))
    if not images:
        raise ImageFolderError(f"{root}: none of the images could be used: {'; '.join(bad)}")
    return DigitSet(np.stack(images), np.array(labels, dtype=np.uint8)), kept


def load_image_folder(root: str | Path) -> DigitSet:
    """All digits of ``root/<digit>/*``, normalised to MNIST style and labelled by folder."""
    return _load(Path(root))[0]


def _split_position(rel: str) -> float:
    """A stable number in [0, 1) from a file's relative path (SHA256, not Python's hash)."""
    digest = hashlib.sha256(rel.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def image_folder_splits(
    root: str | Path, val_fraction: float = 0.1, test_fraction: float = 0.1
) -> dict[str, DigitSet]:
    """Disjoint, reproducible train/val/test splits of ``root`` by a hash of each relative path."""
    if val_fraction <= 0 or test_fraction <= 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need val_fraction > 0, test_fraction > 0 and their sum < 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    root = Path(root)
    digits, rels = _load(root)
    position = np.array([_split_position(rel) for rel in rels])
    masks = {
        "test": position < test_fraction,
        "val": (position >= test_fraction) & (position < test_fraction + val_fraction),
        "train": position >= test_fraction + val_fraction,
    }
    splits = {}
    for name in SPLITS:
        if not masks[name].any():
            raise ImageFolderError(
                f"{root}: the {name} split got none of the {len(rels)} images; "
                "add images or change the split fractions"
            )
        splits[name] = DigitSet(digits.images[masks[name]], digits.labels[masks[name]])
    return splits
