"""The images to read: listing inputs; reading files (:mod:`digitseg.data.image_files`)."""

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from digitseg.data.image_files import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    ImageReadError,
    not_a_file,
    read_image,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "Listing",
    "list_images",
    "read_image",
]


@dataclass(frozen=True)
class Listing:
    """The files found in the inputs, each named as :func:`list_images` says.

    ``images``: (file, name) of the images to read; ``unreadable``: (name, reason) of the
    inputs that should be images but cannot be read (a FIFO, a device, a link to nothing);
    ``skipped``: (name, reason) of the entries of input folders that are not images.
    """

    images: list[tuple[Path, Path]]
    unreadable: list[tuple[Path, str]]
    skipped: list[tuple[Path, str]]


def list_images(inputs: list[str | Path], recursive: bool = False) -> Listing:
    """The image files in ``inputs``, each file once, in the inputs' order.

    A folder contributes every regular file with an image suffix, sorted (and, with
    ``recursive``, those of its subfolders, links to folders not followed); its other entries
    are skipped, each with the reason. A file given by name is taken whatever its suffix, so
    that a wrong file is reported rather than silently skipped. Nothing is opened: a FIFO or a
    device is ``unreadable``. A file's name is its path inside its input folder (or its file
    name); files that would share one get the folders above them added, one at a time, until
    every name is distinct (``a/y.png``, ``b/y.png``).
    """
    found = {}  # resolved file (one per file) -> its entry
    for item in map(Path, inputs):
        if item.is_dir():
            files = item.rglob("*") if recursive else item.glob("*")
            entries = [_folder_entry(f, f.relative_to(item), recursive) for f in sorted(files)]
        elif item.exists():
            entries = [_Entry(item, Path(item.name), _unreadable(item), False)]
        else:
            raise FileNotFoundError(f"input {item} does not exist")
        for entry in filter(None, entries):
            found.setdefault(entry.file.resolve(), entry)
    to_read = _distinct([entry for entry in found.values() if not entry.skipped])
    return Listing(
        images=[(e.file, e.name) for e in to_read if e.reason is None],
        unreadable=[(e.name, e.reason) for e in to_read if e.reason is not None],
        skipped=[(e.name, e.reason) for e in _distinct([e for e in found.values() if e.skipped])],
    )


class _Entry(NamedTuple):
    file: Path
    name: Path
    reason: str | None  # why it is not read; None: an image to read
    skipped: bool  # not an image (rather than an image that cannot be read)


def _folder_entry(file: Path, name: Path, recursive: bool) -> _Entry | None:
    """The entry of ``file``, found in an input folder; None for a subfolder read as well."""
    skipped = True
    if file.is_dir():
        if recursive and not file.is_symlink():
            return None
        reason = "a folder (see --recursive)"
        if file.is_symlink():
            reason = "a link to a folder, not followed (name it as an input to read it)"
    elif file.suffix.lower() not in IMAGE_SUFFIXES:
        reason = f"suffix not one of {' '.join(IMAGE_SUFFIXES)}"
    else:
        reason, skipped = _unreadable(file), False
    return _Entry(file, name, reason, skipped)


def _unreadable(file: Path) -> str | None:
    """Why ``file`` cannot be read as an image file, found without opening it; or None."""
    try:
        return not_a_file(file.stat().st_mode)
    except FileNotFoundError:
        if not file.is_symlink():
            return "removed while the inputs were listed"
        return f"a link to {os.readlink(file)}, which does not exist"
    except OSError as error:
        return f"cannot be read ({error.strerror})"


def _distinct(entries: list[_Entry]) -> list[_Entry]:
    """``entries`` with their names made distinct by adding the folders above them."""
    paths = [Path(os.path.abspath(entry.file)) for entry in entries]
    names = [entry.name for entry in entries]
    while shared := _shared(names):
        for i in shared:
            depth = min(len(names[i].parts), len(paths[i].parents) - 1)
            names[i] = paths[i].relative_to(paths[i].parents[depth])
    return [entry._replace(name=name) for entry, name in zip(entries, names, strict=True)]


def _shared(names: list[Path]) -> list[int]:
    """The indices of the names that are another's too."""
    counts = Counter(names)
    return [i for i, name in enumerate(names) if counts[name] > 1]
