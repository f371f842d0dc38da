"""Reading user images of any common format into uint8 grayscale or RGB arrays."""

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 50_000_000


class ImageReadError(ValueError):
    """An input that cannot be used; the message names the file and the reason."""


def list_images(inputs: list[str | Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """(file, path relative to its input folder) for image files in ``inputs``, sorted.

    A folder contributes every file with an image suffix (and, with ``recursive``, those of
    its subfolders); a file given by name is taken whatever its suffix, so that a wrong file
    is reported rather than silently skipped.
    """
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = item.rglob("*") if recursive else item.glob("*")
            found += [
                (f, f.relative_to(item))
                for f in sorted(files)
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            ]
        elif item.exists():
            found.append((item, Path(item.name)))
        else:
            raise FileNotFoundError(f"input {item} does not exist")
    return found


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """uint8 (H, W) for grayscale files, (H, W, 3) otherwise; EXIF orientation applied.

    16-bit images are scaled to 8 bits; transparency is composited over white paper.
    Images above ``max_pixels`` are refused before they are decoded (decompression bombs).
    """
    path = Path(path)
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
                return _to_array(ImageOps.exif_transpose(image))
    except ImageReadError:
        raise
    except Exception as error:  # PIL raises many types for unreadable files
        raise ImageReadError(f"{path}: not a readable image ({error})") from error


def _to_array(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return np.clip(array * (255.0 / top), 0, 255).round().astype(np.uint8)
    if image.mode == "P" or "A" in image.mode or image.mode == "PA":
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
