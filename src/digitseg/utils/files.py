"""The files a tool wrote into a folder, as its own record lists them: checked to lie inside
the folder, and deleted with the subfolders that this leaves empty (``overwrite``)."""

from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path, PurePath


def paths_inside(folder: Path, names: Iterable[str]) -> list[Path]:
    """``folder / name`` for each of ``names``; a ``ValueError`` names the first that leads out
    of ``folder`` (an absolute path, a ``..`` part, or a subfolder that links elsewhere)."""
    names = list(names)
    for name in names:
        relative = PurePath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"'{name}' is outside {folder}")
    paths = [folder / name for name in names]
    root = folder.resolve()
    for parent in {path.parent for path in paths}:
        if not parent.resolve().is_relative_to(root):
            raise ValueError(f"'{parent}' leads outside {folder}")
    return paths


def delete_files(paths: Iterable[Path], folder: Path) -> None:
    """Delete those of ``paths`` (inside ``folder``) that are files, then the subfolders of
    ``folder`` that this leaves empty."""
    paths = list(paths)
    for path in paths:
        if path.is_file():
            path.unlink()
    subfolders = {parent for path in paths for parent in path.relative_to(folder).parents[:-1]}
    for subfolder in sorted(subfolders, key=lambda p: len(p.parts), reverse=True):
        with suppress(OSError):  # not empty, or gone
            (folder / subfolder).rmdir()
