"""Results on any filesystem pyarrow supports (``s3://bucket/prefix``, ``gs://…``, ``hdfs://…``), for clusters
without a shared disk.

A run never writes to the remote store file by file as it goes: it runs against a local mirror (the same
layout, under the cache directory) and the run's task syncs the few files that matter: the checkpoint after
every round (so a run resumes on any node), the result file at the end (one PUT: an object is visible whole
or not at all, so no temporary name and rename, which S3 does not have), the failure record. Locks need an
atomic create, which pyarrow's filesystems do not offer: on S3 they use a conditional PUT
(``If-None-Match: *``) through boto3 (``pip install 'albench[s3]'``).

Reports read a remote store through :func:`mirror`: the result files (and checkpoints) are copied to the
local mirror, only those that changed, then read like any results directory.

Credentials and endpoints are the usual ones (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` for a non-AWS S3), or pyarrow's URI options
(``s3://bucket/prefix?endpoint_override=host:9000&scheme=http``).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs

from albench.errors import AlbenchError

__all__ = ["RemoteResults", "is_remote", "location", "mirror"]

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):/+(.*)$")


def location(value: str | Path) -> str:
    """A results location as the user typed it: a local path, or a URI (``s3://b/p``). Repairs the single
    slash a ``Path`` leaves of ``s3://`` (``s3:/b/p``), since command-line options arrive as paths."""
    text = str(value)
    match = _SCHEME.match(text)
    if match and len(match[1]) > 1 and match[1] != "file":
        return f"{match[1]}://{match[2]}"
    return text


def is_remote(value: str | Path) -> bool:
    match = _SCHEME.match(str(value))
    return bool(match and len(match[1]) > 1 and match[1] != "file")


class RemoteResults:
    """A results location on a pyarrow filesystem; paths below it are relative (``.partial/ID.pt``)."""

    def __init__(self, uri: str) -> None:
        self.uri = location(uri)
        try:
            self.fs, self.root = pafs.FileSystem.from_uri(self.uri)
        except (OSError, ValueError) as error:  # pyarrow.ArrowInvalid is a ValueError
            raise AlbenchError(f"results location {self.uri}: pyarrow cannot open it ({error})") from None
        self.root = self.root.rstrip("/")

    def key(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def local_mirror(self, cache_dir: Path) -> Path:
        """The local folder this location is mirrored in (one per URI)."""
        digest = hashlib.sha256(self.uri.encode()).hexdigest()[:16]
        return cache_dir / "results-mirror" / digest

    def exists(self, relative: str) -> bool:
        return bool(self.fs.get_file_info(self.key(relative)).type == pafs.FileType.File)

    def names(self, folder: str, suffix: str) -> dict[str, Any]:
        """Files directly in ``folder`` ending in ``suffix``: stem → (size, mtime)."""
        selector = pafs.FileSelector(self.key(folder), allow_not_found=True, recursive=False)
        found: dict[str, Any] = {}
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File and info.base_name.endswith(suffix):
                found[info.base_name[: -len(suffix)]] = (info.size, info.mtime)
        return found

    def download(self, relative: str, target: Path) -> bool:
        """Copy one file down; False when it does not exist."""
        if not self.exists(relative):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.download")
        with self.fs.open_input_stream(self.key(relative)) as source, partial.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        partial.replace(target)
        return True

    def upload(self, source: Path, relative: str) -> None:
        """Copy one file up. On S3 the object appears whole when the stream closes, or not at all."""
        with source.open("rb") as handle, self.fs.open_output_stream(self.key(relative)) as sink:
            while chunk := handle.read(1 << 20):
                sink.write(chunk)

    def delete(self, relative: str) -> None:
        try:
            self.fs.delete_file(self.key(relative))
        except FileNotFoundError:
            pass

    def s3_address(self) -> tuple[str, str, dict[str, Any]]:
        """(bucket, key prefix, boto3 client options) of an ``s3://`` location."""
        parts = urlsplit(self.uri)
        if parts.scheme != "s3":
            raise AlbenchError(
                f"results location {self.uri}: locks on {parts.scheme}:// are not supported "
                "(they need an atomic conditional create); use s3:// or a shared disk"
            )
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        options: dict[str, Any] = {}
        if "endpoint_override" in query:
            scheme = query.get("scheme", "https")
            options["endpoint_url"] = f"{scheme}://{query['endpoint_override']}"
        if "region" in query:
            options["region_name"] = query["region"]
        return parts.netloc, parts.path.strip("/"), options


def mirror(uri: str, cache_dir: Path) -> Path:
    """Copy the result files and checkpoints of a remote location into its local mirror (only those whose size
    or time changed; files gone remotely are removed locally) and return the mirror, to be read like any
    results directory."""
    remote = RemoteResults(uri)
    local = remote.local_mirror(cache_dir)
    for folder, suffix in (("", ".parquet"), (".partial", ".pt")):
        wanted = remote.names(folder, suffix)
        target_dir = local / folder if folder else local
        target_dir.mkdir(parents=True, exist_ok=True)
        for stem, (size, mtime) in wanted.items():
            target = target_dir / f"{stem}{suffix}"
            stamp = mtime.timestamp() if mtime is not None else None
            if target.exists() and target.stat().st_size == size and (stamp is None or target.stat().st_mtime == stamp):
                continue
            remote.download(f"{folder}/{stem}{suffix}" if folder else f"{stem}{suffix}", target)
            if stamp is not None:
                os.utime(target, (stamp, stamp))
        for stale in target_dir.glob(f"*{suffix}"):
            if stale.name[: -len(suffix)] not in wanted:
                stale.unlink()
    return local
