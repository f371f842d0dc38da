"""The images to read: listing inputs; reading files (:mod:`digitseg.data.image_files`)."""

import os
from collections import Counter
from pathlib import Path

from digitseg.data.image_files import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageReadError,
    read_image,
)

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "ImageReadError", "list_images", "read_image"]


def list_images(inputs: list[str | Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """(file, name) for the image files in ``inputs``, each file once, in the inputs' order.

    A folder contributes every file with an image suffix, sorted (and, with ``recursive``,
    those of its subfolders); a file given by name is taken whatever its suffix, so that a
    wrong file is reported rather than silently skipped. A file's name is its path inside its
    input folder (or its file name); files that would share one get the folders above them
    added, one at a time, until every name is distinct (``a/y.png``, ``b/y.png``).
    """
    found = {}  # resolved file (one per file) -> (file, name)
    for item in map(Path, inputs):
        if item.is_dir():
            files = item.rglob("*") if recursive else item.glob("*")
            pairs = [
                (f, f.relative_to(item))
                for f in sorted(files)
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            ]
        elif item.exists():
            pairs = [(item, Path(item.name))]
        else:
            raise FileNotFoundError(f"input {item} does not exist")
        for file, name in pairs:
            found.setdefault(file.resolve(), (file, name))
    files = list(found.values())
    paths = [Path(os.path.abspath(file)) for file, _ in files]
    names = [name for _, name in files]
    while shared := _shared(names):
        for i in shared:
            depth = min(len(names[i].parts), len(paths[i].parents) - 1)
            names[i] = paths[i].relative_to(paths[i].parents[depth])
    return [(file, name) for (file, _), name in zip(files, names, strict=True)]


def _shared(names: list[Path]) -> list[int]:
    """The indices of the names that are another's too."""
    counts = Counter(names)
    return [i for i, name in enumerate(names) if counts[name] > 1]
