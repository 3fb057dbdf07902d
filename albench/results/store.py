"""Results: one Parquet file per run, one row per round, written atomically. The schema is in the README.

Each file carries a checksum of its values and footer (:func:`content_checksum`), verified on every read.
A file that fails it, or is not Parquet at all, is moved to ``.quarantine/`` with a one-line reason and
treated as absent (a run redoes it; reports go on without it and say so); a Parquet file that is not an
albench results file is skipped with a note. File access goes through :mod:`albench.results.files`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from albench.components import RUN_KINDS
from albench.errors import AlbenchError, StorageError
from albench.results import files
from albench.results.checkpoints import PARTIAL_DIR

__all__ = [
    "FAILED_DIR",
    "QUARANTINE_DIR",
    "SCHEMA",
    "SetAside",
    "StoreContents",
    "check_row",
    "content_checksum",
    "environment",
    "failure_path",
    "file_metadata",
    "quarantine",
    "read_results",
    "read_run_file",
    "result_path",
    "tidy",
    "write_results",
]

#: Where damaged files are moved, each beside a ``NAME.reason.txt`` of one line.
QUARANTINE_DIR = ".quarantine"
#: Where the traceback of a run that raised is kept, as ``RUN_ID.txt``.
FAILED_DIR = ".failed"
CHECKSUM_KEY = b"albench.checksum"
# The footer keys of a results file written before checksums: anything else there, without a checksum, is damage.
_UNVERIFIED_KEYS = {b"albench.spec", b"albench.split"}

_COMPONENT_COLUMNS = [
    field
    for kind in RUN_KINDS
    for field in (
        pa.field(kind, pa.string()),
        pa.field(f"{kind}_params", pa.string()),
        pa.field(f"{kind}_version", pa.string()),
        pa.field(f"{kind}_distribution", pa.string()),
    )
]

SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("protocol_hash", pa.string()),
        *_COMPONENT_COLUMNS,
        pa.field("strategy_label", pa.string()),
        pa.field("aggregation", pa.string()),
        pa.field("seed", pa.int64()),
        pa.field("round", pa.int64()),
        pa.field("rounds", pa.int64()),
        pa.field("budget", pa.int64()),
        pa.field("protocol", pa.string()),
        pa.field("num_classes", pa.int64()),
        pa.field("class_names", pa.list_(pa.string())),
        pa.field("background_class", pa.int64()),
        pa.field("pool_images", pa.int64()),
        pa.field("pool_regions", pa.int64()),
        pa.field("added_image", pa.list_(pa.int32())),
        pa.field("added_superpixel", pa.list_(pa.int32())),
        pa.field("clicks_round", pa.int64()),
        pa.field("clicks_spent", pa.int64()),
        pa.field("labeled_regions", pa.int64()),
        pa.field("labeled_per_class", pa.list_(pa.int64())),
        pa.field("metric", pa.string()),
        pa.field("miou", pa.float64()),
        pa.field("stage_miou", pa.list_(pa.float64())),
        pa.field("label_quality", pa.float64()),
        pa.field("iou_per_class", pa.list_(pa.float64())),
        pa.field("confusion", pa.list_(pa.int64())),
        pa.field("converged", pa.bool_()),
        pa.field("train_stop", pa.list_(pa.string())),
        pa.field("train_steps", pa.list_(pa.int64())),
        pa.field("val_best", pa.list_(pa.float64())),
        pa.field("val_best_step", pa.list_(pa.int64())),
        pa.field("val_last", pa.list_(pa.float64())),
        pa.field("time_query_s", pa.float64()),
        pa.field("time_train_s", pa.float64()),
        pa.field("time_eval_s", pa.float64()),
        pa.field("albench_version", pa.string()),
        pa.field("torch_version", pa.string()),
        pa.field("python_version", pa.string()),
        pa.field("device", pa.string()),
        pa.field("git_sha", pa.string()),
    ]
)

# Columns that describe where and how fast a run ran, not what it computed.
ENVIRONMENT_COLUMNS = (
    "time_query_s",
    "time_train_s",
    "time_eval_s",
    "albench_version",
    "torch_version",
    "python_version",
    "device",
    "git_sha",
)


# Columns every albench results file has had since the first version; later columns are filled with
# nulls when an older file lacks them.
CORE_COLUMNS = ("run_id", "protocol_hash", "dataset", "strategy", "seed", "round", "rounds", "miou", "confusion")


def result_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / f"{run_id}.parquet"


def failure_path(results_dir: Path, run_id: str) -> Path:
    """Where a failed run's traceback is kept (removed when the run succeeds)."""
    return results_dir / FAILED_DIR / f"{run_id}.txt"


def _git_sha() -> str:
    """The albench checkout's commit (with ``-dirty`` for local changes), or "" outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if sha.returncode != 0:
        return ""
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment(device: torch.device) -> dict[str, str]:
    """The environment columns of every row."""
    from albench import __version__

    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    return {
        "albench_version": __version__,
        "torch_version": str(torch.__version__),
        "python_version": platform.python_version(),
        "device": name,
        "git_sha": _git_sha(),
    }


def check_row(row: Mapping[str, Any]) -> None:
    """Refuse a row whose columns are not exactly :data:`SCHEMA`'s: pyarrow would silently drop an unknown
    column and write a missing one as null, so a runner and a schema out of step would lose data unnoticed."""
    missing = [name for name in SCHEMA.names if name not in row]
    unknown = [name for name in row if name not in SCHEMA.names]
    if missing or unknown:
        raise ValueError(
            f"results row does not match the schema: missing {missing or 'none'}, unknown "
            f"{unknown or 'none'}; add new columns to albench.results.store.SCHEMA and the README"
        )


def content_checksum(table: pa.Table) -> str:
    """A sha256 of a results table's values and its albench footer metadata (the checksum itself left out).

    Computed from the values as Python objects in canonical JSON, so it does not depend on how Parquet
    encoded them: the value read back equals the value written exactly when nothing changed.
    """
    metadata = {
        key.decode(): value.decode()
        for key, value in (table.schema.metadata or {}).items()
        if key.startswith(b"albench.") and key != CHECKSUM_KEY
    }
    # Values, not types: Parquet renames a list's item field ("item" → "element"), which changes no value.
    columns = [[name, table.column(name).to_pylist()] for name in table.column_names]
    text = json.dumps({"columns": columns, "metadata": metadata}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_results(path: Path, rows: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any]) -> None:
    """Write ``rows`` to ``path`` atomically; ``metadata`` and a checksum of everything go in the footer."""
    for row in rows:
        check_row(row)
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=SCHEMA)
    footer = {f"albench.{k}".encode(): json.dumps(v).encode() for k, v in metadata.items()}
    table = table.replace_schema_metadata(footer)
    table = table.replace_schema_metadata({**footer, CHECKSUM_KEY: json.dumps(content_checksum(table)).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    files.write_atomic(path, sink.getvalue().to_pybytes())


@dataclass(frozen=True)
class SetAside:
    """A file that reading left out: a damaged one (moved to the quarantine) or a foreign one (left alone)."""

    path: Path
    reason: str
    foreign: bool = False
    quarantined: Path | None = None

    def note(self) -> str:
        if self.foreign:
            return f"skipped {self.path}: {self.reason}"
        where = f"moved to {self.quarantined}" if self.quarantined else "left in place: it could not be moved"
        return f"set aside {self.path}: {self.reason}; {where}"


class _Rejected(Exception):
    def __init__(self, reason: str, foreign: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.foreign = foreign


def _first_line(error: BaseException) -> str:
    """The gist of a pyarrow error: its first sentence, without the in-memory source it names."""
    text = str(error).replace("Could not open Parquet input source '<Buffer>': ", "").strip()
    text = text.splitlines()[0] if text else type(error).__name__
    return text.split(". ")[0].rstrip(".")


def _check(data: bytes) -> tuple[pa.Table, bool]:
    """The table in ``data``, conformed to :data:`SCHEMA`, and whether a checksum vouched for it."""
    try:
        return _check_table(data)
    except _Rejected:
        raise
    except Exception as error:  # a damaged file can break pyarrow anywhere (names that are not UTF-8, ...)
        raise _Rejected(f"its structure is damaged ({type(error).__name__}: {_first_line(error)})") from None


def _check_table(data: bytes) -> tuple[pa.Table, bool]:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as error:  # pyarrow raises several types for damaged files; none of them is ours to show
        raise _Rejected(f"not readable Parquet ({_first_line(error)})") from None
    metadata = table.schema.metadata or {}
    ours = {key for key in metadata if key.startswith(b"albench.")}
    missing = [name for name in CORE_COLUMNS if name not in table.column_names]
    verified = CHECKSUM_KEY in metadata
    if verified:
        try:
            recorded, actual = json.loads(metadata[CHECKSUM_KEY]), content_checksum(table)
        except (ValueError, UnicodeDecodeError):
            raise _Rejected("its footer is damaged (unreadable metadata)") from None
        if recorded != actual:
            raise _Rejected("its content does not match its checksum (changed or damaged after albench wrote it)")
    elif missing and not ours:
        raise _Rejected(f"not an albench results file (no {', '.join(missing)} column)", foreign=True)
    elif missing or ours - _UNVERIFIED_KEYS:
        raise _Rejected("it has no checksum and its footer or columns are damaged")
    for column in SCHEMA:
        if column.name not in table.column_names:
            table = table.append_column(column, pa.nulls(len(table), column.type))
    try:
        conformed = table.select(SCHEMA.names).cast(SCHEMA).replace_schema_metadata(None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise _Rejected(f"its columns do not have albench's types ({_first_line(error)})") from None
    return conformed, verified


def quarantine(path: Path, results_dir: Path, reason: str) -> Path | None:
    """Move ``path`` into ``results_dir/.quarantine/`` beside a ``NAME.reason.txt`` of one line; the new path,
    or ``None`` when it cannot be moved (a directory that is not ours to write)."""
    folder = results_dir / QUARANTINE_DIR
    target = folder / path.name
    number = 0
    while target.exists() or target.with_name(target.name + ".reason.txt").exists():
        number += 1
        target = folder / f"{path.name}.{number}"
    try:
        files.move(path, target)
    except StorageError:
        return None
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    try:
        files.write_text(target.with_name(target.name + ".reason.txt"), f"{stamp} {path}: {reason}\n")
    except StorageError:
        pass  # the file is out of the way; the reason is also in the note that named it
    return target


def tidy(results_dir: Path) -> list[Path]:
    """Remove what killed runs left in ``results_dir``: temporary files whose writer is gone, and checkpoints
    of runs whose results file is there, sound and newer (a kill between writing it and removing the
    checkpoint). A checkpoint newer than its results file belongs to a ``--force`` rerun and is kept; so is
    one whose results file fails its check (that file goes to the quarantine and the run resumes).
    Returns what was removed."""
    removed = []
    for folder in (results_dir, results_dir / PARTIAL_DIR, results_dir / QUARANTINE_DIR, results_dir / FAILED_DIR):
        removed += [path for path in files.leftover_temporaries(folder) if files.remove(path)]
    for checkpoint in files.list_files(results_dir / PARTIAL_DIR, ".pt"):
        finished = result_path(results_dir, checkpoint.stem)
        finished_at, saved_at = files.modified_time(finished), files.modified_time(checkpoint)
        if finished_at is None or saved_at is None or saved_at > finished_at:
            continue
        table, _ = read_run_file(finished, results_dir)
        if table is not None and files.remove(checkpoint):
            removed.append(checkpoint)
    return removed


def read_run_file(path: Path, results_dir: Path) -> tuple[pa.Table | None, SetAside | None]:
    """One run's results file, checked. One that fails is moved to the quarantine, a foreign one too: it sits
    where the run's results will be written, and would be overwritten."""
    try:
        table, _ = _check(files.read_bytes(path))
    except _Rejected as rejected:
        return None, SetAside(path, rejected.reason, quarantined=quarantine(path, results_dir, rejected.reason))
    return table, None


@dataclass
class StoreContents:
    """Every readable run file of a results directory in one table, and what was left out."""

    table: pa.Table
    set_aside: list[SetAside] = field(default_factory=list)
    unverified: list[Path] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = [item.note() for item in self.set_aside]
        if self.unverified:
            notes.append(
                f"{len(self.unverified)} results file(s) carry no checksum (written by an albench before "
                f"checksums), read unverified: {', '.join(p.name for p in self.unverified[:3])}"
                + (", ..." if len(self.unverified) > 3 else "")
            )
        return notes


def read_results(results_dir: Path) -> StoreContents:
    """Every run file under ``results_dir`` (an empty table with the schema if none).

    A file that fails its checksum or is not readable Parquet is moved to ``.quarantine/`` and listed; a
    Parquet file of another schema is skipped and listed. Neither stops the others from being read.
    """
    if not results_dir.is_dir():
        raise AlbenchError(
            f"results directory {results_dir} does not exist; run `albench run` first or pass --results-dir"
        )
    contents = StoreContents(SCHEMA.empty_table())
    tables = []
    for path in files.list_files(results_dir, ".parquet"):
        try:
            table, verified = _check(files.read_bytes(path))
        except _Rejected as rejected:
            moved = None if rejected.foreign else quarantine(path, results_dir, rejected.reason)
            contents.set_aside.append(SetAside(path, rejected.reason, rejected.foreign, moved))
            continue
        tables.append(table)
        if not verified:
            contents.unverified.append(path)
    if tables:
        contents.table = pa.concat_tables(tables)
    return contents


def file_metadata(path: Path) -> dict[str, Any]:
    """The footer metadata that :func:`write_results` stored (spec, split)."""
    raw = pq.read_schema(pa.BufferReader(files.read_bytes(path))).metadata or {}
    return {
        k.decode().removeprefix("albench."): json.loads(v)
        for k, v in raw.items()
        if k.startswith(b"albench.") and k != CHECKSUM_KEY
    }
