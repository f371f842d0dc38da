"""Reading image files of any common format into uint8 grayscale or RGB arrays.

Shared by the inference inputs (:mod:`digitseg.inference.images`) and users' digit folders
(:mod:`digitseg.data.image_folder`); it imports nothing from ``digitseg``.
"""

import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 16_000_000
TIFF_BITS_PER_SAMPLE = 258


class ImageReadError(ValueError):
    """An input that cannot be used; the message names the file and the reason."""


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """uint8 (H, W) for grayscale files, (H, W, 3) otherwise; EXIF orientation applied.

    Images deeper than 8 bits are scaled from their type's range: 16-bit integers from
    0..65535 (Pillow's 32-bit "I" mode too, which is where it keeps 16-bit PGM/PPM, unless
    the file is a 32-bit TIFF: 0..2**31-1), floats from 0..1. Transparency is composited
    over white paper. Images above ``max_pixels`` are refused before they are decoded
    (decompression bombs). Anything but a regular file (a FIFO, a device) is refused before it
    is opened: reading one could wait forever.
    """
    path = Path(path)
    try:
        kind = not_a_file(os.stat(path).st_mode)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot be read ({error.strerror})") from error
    if kind:
        raise ImageReadError(f"{path}: {kind}, not an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
            with image:
                pixels = image.width * image.height
                if pixels > max_pixels:
                    raise ImageReadError(
                        f"{path}: {image.width}x{image.height} = {pixels:,} pixels is above the "
                        f"limit of {max_pixels:,} (raise it with --max-pixels)"
                    )
                wide = getattr(image, "tag_v2", {}).get(TIFF_BITS_PER_SAMPLE) == (32,)
                return _to_array(ImageOps.exif_transpose(image), wide)
    except ImageReadError:
        raise
    except Exception as error:  # PIL raises many types for unreadable files
        raise ImageReadError(f"{path}: not a readable image ({error})") from error


def not_a_file(mode: int) -> str | None:
    """What a file of ``os.stat`` mode ``mode`` is when it is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")


def _to_array(image: Image.Image, wide: bool) -> np.ndarray:
    """uint8 pixels of ``image``; ``wide``: it comes from a 32-bit TIFF."""
    if image.mode == "F":
        return _scaled(np.asarray(image), 1.0)
    if image.mode.startswith("I"):
        top = 2**31 - 1 if image.mode == "I" and wide else 65535
        return _scaled(np.asarray(image), top)
    gray = image.mode in ("1", "L", "LA") or (image.mode in ("P", "PA") and _gray_palette(image))
    if "A" in image.mode or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    return np.array(image.convert("L" if gray else "RGB"), dtype=np.uint8)  # writable


def _scaled(array: np.ndarray, top: float) -> np.ndarray:
    """``array`` mapped from 0..``top`` to 0..255, clipped."""
    return np.clip(array.astype(np.float64) * (255.0 / top), 0, 255).round().astype(np.uint8)


def _gray_palette(image: Image.Image) -> bool:
    """Whether every colour in the palette of ``image`` is a grey."""
    colours = np.asarray(image.getpalette("RGB")).reshape(-1, 3)
    return bool((colours == colours[:, :1]).all())
