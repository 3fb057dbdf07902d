"""The results store's file operations: the only code that touches a results directory's filesystem.

Everything the store does to files (read, write atomically, list, move, remove) goes through these few
functions, so the store can move onto another filesystem (a pyarrow filesystem for object stores) by
changing them alone. Every :class:`OSError` becomes a :class:`~albench.errors.StorageError` naming the path and
what to do.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from albench._atomic import atomic_write_bytes, is_leftover
from albench.errors import StorageError, os_error_message

__all__ = [
    "ensure_writable",
    "leftover_temporaries",
    "list_files",
    "modified_time",
    "move",
    "read_bytes",
    "remove",
    "write_atomic",
    "write_text",
]


def _fix(error: OSError, option: str = "--results-dir") -> str | None:
    """A fix that names the option choosing the directory, where the generic one would not."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free space there or pass {option} DIR on another disk"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR):
        return f"pass {option} DIR with a directory you can write to"
    return None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise StorageError(os_error_message(error, action="read", path=path)) from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise StorageError(os_error_message(error, action="write", path=path, fix=_fix(error))) from None


def write_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode())


def list_files(directory: Path, suffix: str) -> list[Path]:
    """The visible files of ``directory`` ending in ``suffix``, sorted; none when it does not exist."""
    try:
        return sorted(
            p for p in directory.iterdir() if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file()
        )
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StorageError(os_error_message(error, action="list", path=directory)) from None


def modified_time(path: Path) -> float | None:
    """The modification time of ``path``, or ``None`` when it does not exist."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def move(source: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    except OSError as error:
        raise StorageError(os_error_message(error, action=f"move {source} to", path=target)) from None


def remove(path: Path) -> bool:
    """Remove ``path``; whether it was there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StorageError(os_error_message(error, action="remove", path=path)) from None
    return True


def leftover_temporaries(directory: Path) -> list[Path]:
    """Temporary files in ``directory`` that killed writers left behind (see :func:`albench._atomic.is_leftover`)."""
    now = time.time()
    try:
        return sorted(p for p in directory.iterdir() if is_leftover(p, now=now))
    except OSError:
        return []


def ensure_writable(directory: Path, option: str = "--results-dir", what: str = "write results to") -> None:
    """Create ``directory`` if needed and write and remove a small file in it, so a run fails before training
    when its results could not be saved (no space, no permission, a file in the way, a read-only disk).
    ``option`` is the command-line option that chose the directory, named in the fix."""
    probe = directory / ".albench-write-check"
    try:
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(probe, b"albench checks that it can write here\n")
        probe.unlink()
    except OSError as error:
        path = error.filename if error.filename and str(error.filename) != str(probe) else directory
        raise StorageError(os_error_message(error, action=what, path=path, fix=_fix(error, option))) from None
