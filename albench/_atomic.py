"""Atomic file writes: a temporary file in the same directory, then a rename, so readers never see half.

A temporary file is named ``.NAME~HOST~PID~RANDOM.tmp``, so a later run can tell what a killed process left
(same host, process gone: :func:`is_leftover`) from a write in progress, and remove only the former. It is
created with mode 0666 less the umask, as ``open`` creates files, so a results directory shared through the
umask stays readable to the group. An :class:`OSError` while writing names the final path.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["LEFTOVER_AGE_S", "atomic_write", "atomic_write_bytes", "is_leftover"]

#: A temporary file older than this is a leftover whoever wrote it (another host's, or one from before the
#: names carried a process id): no write takes an hour between creating its file and renaming it.
LEFTOVER_AGE_S = 3600.0

_SEPARATOR = "~"  # never in a host name


def _create_temporary(path: Path) -> Path:
    """A new empty file beside ``path``, created exclusively with the umask's permissions."""
    tag = f"{socket.gethostname()}{_SEPARATOR}{os.getpid()}"
    while True:
        temporary = path.with_name(f".{path.name}{_SEPARATOR}{tag}{_SEPARATOR}{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temporary


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``; clean up on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _create_temporary(path)
    except OSError as error:
        raise _naming(error, path) from error
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise _naming(error, path) from error
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda temporary: temporary.write_bytes(data))


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` with ``path`` as its file name when it has none (a failed ``write`` names no file)."""
    if error.filename is not None:
        return error
    return type(error)(error.errno, error.strerror, str(path))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def is_leftover(path: Path, *, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary file of :func:`atomic_write` that no process will rename any more:
    written on this host by a process that has exited, or older than :data:`LEFTOVER_AGE_S`."""
    name = path.name
    if not (name.startswith(".") and name.endswith(".tmp")):
        return False
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False
    if age > LEFTOVER_AGE_S:
        return True
    parts = name[: -len(".tmp")].rsplit(_SEPARATOR, 3)
    if len(parts) != 4 or parts[1] != socket.gethostname() or not parts[2].isdigit():
        return False
    return int(parts[2]) != os.getpid() and not _process_alive(int(parts[2]))
