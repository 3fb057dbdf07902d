"""Results: one Parquet file per run, one row per round, written atomically. The schema is in the README."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from albench._atomic import atomic_write
from albench.components import RUN_KINDS
from albench.errors import AlbenchError

__all__ = ["SCHEMA", "environment", "read_results", "result_path", "write_results"]

_COMPONENT_COLUMNS = [
    field
    for kind in RUN_KINDS
    for field in (
        pa.field(kind, pa.string()),
        pa.field(f"{kind}_params", pa.string()),
        pa.field(f"{kind}_version", pa.string()),
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
ENVIRONMENT_COLUMNS = ("time_query_s", "time_train_s", "time_eval_s", "albench_version", "torch_version",
                       "python_version", "device", "git_sha")


# Columns every albench results file has had since the first version; later columns are filled with
# nulls when an older file lacks them.
CORE_COLUMNS = ("run_id", "protocol_hash", "dataset", "strategy", "seed", "round", "rounds", "miou", "confusion")


def result_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / f"{run_id}.parquet"


def _git_sha() -> str:
    """The albench checkout's commit (with ``-dirty`` for local changes), or "" outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
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


def write_results(path: Path, rows: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any]) -> None:
    """Write ``rows`` to ``path`` atomically (temporary file, then rename); ``metadata`` goes in the footer."""
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=SCHEMA)
    table = table.replace_schema_metadata({f"albench.{k}": json.dumps(v) for k, v in metadata.items()})
    atomic_write(path, lambda temporary: pq.write_table(table, temporary))


def read_results(results_dir: Path) -> pa.Table:
    """Every run file under ``results_dir`` in one table (an empty table with the schema if none)."""
    if not results_dir.is_dir():
        raise AlbenchError(f"results directory {results_dir} does not exist; run `albench run` first or pass --results-dir")
    tables = []
    for path in sorted(results_dir.glob("*.parquet")):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as error:
            raise AlbenchError(f"results file {path} is not readable Parquet ({error}); delete it and rerun that run") from None
        missing_core = [name for name in CORE_COLUMNS if name not in table.column_names]
        if missing_core:
            raise AlbenchError(f"results file {path} lacks columns {', '.join(missing_core)}; it is not an albench results file")
        for field in SCHEMA:
            if field.name not in table.column_names:
                table = table.append_column(field, pa.nulls(len(table), field.type))
        tables.append(table.select(SCHEMA.names).cast(SCHEMA).replace_schema_metadata(None))
    if not tables:
        return SCHEMA.empty_table()
    return pa.concat_tables(tables)


def file_metadata(path: Path) -> dict[str, Any]:
    """The footer metadata that :func:`write_results` stored (spec, split)."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode().removeprefix("albench."): json.loads(v) for k, v in raw.items() if k.startswith(b"albench.")}
