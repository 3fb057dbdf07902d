"""The content digest of an on-disk dataset: a sha256 over the bytes of every file it lists
(:meth:`albench.Dataset.content_files`), recorded in the run spec so that editing a mask gives new run ids.

Reading every byte of a dataset is slow, so each file's digest is cached by absolute path, size and
modification time in ``<cache>/file-digests/<digest of the root>.json``: a later run reads only the files
that changed (any write changes the modification time). The cache is a shortcut, never an input: with or
without it the digest is the same. Files are named relative to the dataset's root, so a moved copy of a
dataset keeps its run ids.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from albench._atomic import atomic_write_bytes
from albench.errors import DatasetError, os_error_message

__all__ = ["content_digest"]


def _file_sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise DatasetError(os_error_message(error, action="read dataset file", path=path)) from None


def _cache_file(cache_dir: Path, root: Path | None) -> Path:
    key = hashlib.sha256(os.path.abspath(root).encode() if root is not None else b"").hexdigest()[:16]
    return cache_dir / "file-digests" / f"{key}.json"


def _read_cache(path: Path) -> dict[str, list[object]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def content_digest(files: Sequence[Path], root: Path | None, cache_dir: Path | None = None) -> str:
    """A sha256 over the names (relative to ``root``) and bytes of ``files``; ``""`` when there are none."""
    if not files:
        return ""
    cache_path = _cache_file(cache_dir, root) if cache_dir is not None else None
    cache = _read_cache(cache_path) if cache_path is not None else {}
    base = os.path.abspath(root) + os.sep if root is not None else None
    fresh: dict[str, list[object]] = {}
    lines = []
    for path in files:
        key = os.path.abspath(path)
        try:
            stat = os.stat(key)
        except OSError as error:
            raise DatasetError(os_error_message(error, action="read dataset file", path=path)) from None
        cached = cache.get(key)
        if (
            isinstance(cached, list)
            and len(cached) == 3
            and cached[0] == stat.st_size
            and cached[1] == stat.st_mtime_ns
        ):
            digest = str(cached[2])
        else:
            digest = _file_sha256(Path(key))
        fresh[key] = [stat.st_size, stat.st_mtime_ns, digest]
        name = key[len(base) :].replace(os.sep, "/") if base is not None and key.startswith(base) else key
        lines.append(f"{name}\t{digest}\n")
    if cache_path is not None and fresh != cache:
        try:
            atomic_write_bytes(cache_path, json.dumps(fresh, sort_keys=True).encode())
        except OSError:
            pass  # a cache that cannot be written costs a re-read next time, nothing else
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()[:16]
