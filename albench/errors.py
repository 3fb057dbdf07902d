"""Errors albench raises on bad input. Each message names the thing at fault and what to do."""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = [
    "AlbenchError",
    "ComponentError",
    "DatasetError",
    "DuplicateComponentError",
    "ParameterError",
    "ProtocolError",
    "SelectionError",
    "StorageError",
    "UnknownComponentError",
    "os_error_message",
]


class AlbenchError(Exception):
    """Base class: an error the user can act on. The CLI prints its message without a traceback."""


class ComponentError(AlbenchError):
    """A component (plugin) misbehaved or cannot be found."""


class UnknownComponentError(ComponentError):
    """A component name that no loaded plugin registered."""


class DuplicateComponentError(ComponentError):
    """Two plugins registered the same component name."""


class ParameterError(AlbenchError):
    """A component parameter that is unknown or has the wrong type."""


class ProtocolError(AlbenchError):
    """A protocol (budget, rounds, schedule) that cannot be run."""


class DatasetError(AlbenchError):
    """A dataset that cannot be read: missing files, bad masks, bad labels."""


class SelectionError(ComponentError):
    """A strategy returned a selection that breaks the protocol's rules."""


class StorageError(AlbenchError):
    """A file albench must read or write cannot be: no space, no permission, a file where a directory
    should be, a read-only disk. The message names the path and what to do."""


# errno → (what went wrong, what to do). The fix is generic; callers that know which option chose the
# directory pass a more precise one (e.g. "pass --results-dir DIR on another disk").
_OS_REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free space there or choose a directory on another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free space there or choose a directory on another disk"),
    errno.EACCES: ("permission denied", "check its permissions (ls -ld) or choose a directory you can write to"),
    errno.EPERM: ("operation not permitted", "check its permissions (ls -ld) or choose a directory you can write to"),
    errno.EROFS: ("read-only file system", "choose a directory on a writable disk"),
    errno.ENOTDIR: ("a part of the path is a file, not a directory", "move that file away or choose another path"),
    errno.EISDIR: ("it is a directory, not a file", "pass the path of a file"),
    errno.ENOENT: ("no such file or directory", "check the path"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter path"),
}


def os_error_message(
    error: OSError, *, action: str = "use", path: str | Path | None = None, fix: str | None = None
) -> str:
    """One line for an :class:`OSError`: ``cannot ACTION PATH: REASON; FIX``.

    ``path`` defaults to the error's own file name; ``fix`` to a generic one for its errno.
    """
    where = path if path is not None else error.filename
    reason, generic_fix = _OS_REASONS.get(error.errno or 0, (error.strerror or str(error), "check the path"))
    target = f" {where}" if where is not None else ""
    return " ".join(f"cannot {action}{target}: {reason}; {fix or generic_fix}".split())
