"""Writing files inside one folder and never outside it, whatever links the folder holds.

Each file is written whole under a temporary name and renamed into place, through folders
opened one at a time without following links: a link where a file goes is replaced by the
file (its target is left alone, and so is any other name of a hard-linked file), and a link
where a subfolder goes is refused. The folder itself may be a link.
"""

import contextlib
import errno
import os
from pathlib import Path, PurePosixPath

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


class OutsideFolderError(OSError):
    """A write that would leave the folder; the message names the path and why."""


class OutputFolder:
    """The folder ``path``, which must exist; ``write`` puts files in it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, name: str, data: bytes) -> None:
        """Write ``data`` to the file ``name`` (a relative path; its folders are made)."""
        *folders, file = self._parts(name)
        folder = self._open_folder(folders)
        temporary = f".{file}.partial"
        try:
            _remove(temporary, folder)
            handle = os.open(temporary, _NEW_FILE_FLAGS, 0o666, dir_fd=folder)
            try:
                with open(handle, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, file, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                _remove(temporary, folder)
                raise
        finally:
            os.close(folder)

    def _parts(self, name: str) -> list[str]:
        """The parts of the relative path ``name``; none may lead out of the folder."""
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or {".", ".."} & set(parts):
            raise OutsideFolderError(f"{name!r} is not a file name inside {self.path}")
        return list(parts)

    def _open_folder(self, folders: list[str]) -> int:
        """A descriptor of ``self.path / folders``, made where missing, links never followed."""
        handle = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        for k, part in enumerate(folders):
            try:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=handle)
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=handle)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = self.path.joinpath(*folders[: k + 1])
                raise OutsideFolderError(
                    f"{where} is a link or a file, not a folder: delete it to write there"
                ) from error
            finally:
                os.close(handle)
            handle = inner
        return handle


def _remove(name: str, folder: int) -> None:
    """Delete the file or link ``name`` in ``folder`` if there is one."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder)
