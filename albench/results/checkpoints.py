"""The checkpoint file of a run in progress (``<results>/.partial/<run_id>.pt``): its format and checksums.

A checkpoint is a torch file holding ``{"spec", "rows", "stages", "checksum"}``. ``checksum["rows"]`` covers the
spec and the rows, which reports read without loading the weights (they map the file);
``checksum["stages"]`` covers every tensor of every stage's weights, which a resumed run loads. A file that
fails either, or that torch cannot read, is :class:`DamagedCheckpoint`. Checkpoints written before checksums
(no ``checksum`` key) are read unverified.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from albench.results import files

__all__ = [
    "PARTIAL_DIR",
    "DamagedCheckpoint",
    "checkpoint_path",
    "encode_checkpoint",
    "read_checkpoint",
    "read_checkpoint_rows",
    "rows_checksum",
    "stages_checksum",
]

PARTIAL_DIR = ".partial"


class DamagedCheckpoint(Exception):
    """A checkpoint that cannot be trusted; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def checkpoint_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / PARTIAL_DIR / f"{run_id}.pt"


def rows_checksum(spec: Any, rows: Any) -> str:
    """A sha256 of the spec and rows in canonical JSON."""
    text = json.dumps({"spec": spec, "rows": rows}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def stages_checksum(stages: Any) -> str:
    """A sha256 of a nest of dicts, lists and tensors: every key, every tensor's dtype, shape and bytes."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().to("cpu").contiguous().reshape(-1)
            digest.update(f"T{value.dtype}{tuple(value.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(value, Mapping):
            digest.update(f"D{len(value)};".encode())
            for key, item in value.items():
                digest.update(f"K{key!r};".encode())
                feed(item)
        elif isinstance(value, (list, tuple)):
            digest.update(f"L{len(value)};".encode())
            for item in value:
                feed(item)
        else:
            digest.update(f"V{value!r};".encode())

    feed(stages)
    return "sha256:" + digest.hexdigest()


def encode_checkpoint(spec: Mapping[str, Any], rows: list[dict[str, Any]], stages: list[dict[str, Any]]) -> bytes:
    """The bytes of a checkpoint file, checksums included."""
    payload = {
        "spec": spec,
        "rows": rows,
        "stages": stages,
        "checksum": {"rows": rows_checksum(spec, rows), "stages": stages_checksum(stages)},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _verified(payload: Any, *, stages: bool) -> dict[str, Any]:
    if not isinstance(payload, dict) or not {"spec", "rows", "stages"} <= payload.keys():
        raise DamagedCheckpoint("is not an albench checkpoint (no spec, rows and stages)")
    rows = payload["rows"]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise DamagedCheckpoint("has damaged rows")
    checksum = payload.get("checksum")
    if checksum is None:
        return payload
    if not isinstance(checksum, dict):
        raise DamagedCheckpoint("has a damaged checksum")
    try:
        rows_ok = checksum.get("rows") == rows_checksum(payload["spec"], rows)
        stages_ok = not stages or checksum.get("stages") == stages_checksum(payload["stages"])
    except Exception:  # a damaged payload can hold anything; hashing it may fail
        raise DamagedCheckpoint("has damaged content") from None
    if not (rows_ok and stages_ok):
        raise DamagedCheckpoint(f"does not match its checksum ({'weights' if rows_ok else 'rows'} changed or damaged)")
    return payload


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The whole checkpoint (spec, rows, stages), verified; raises :class:`DamagedCheckpoint`."""
    data = files.read_bytes(path)
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise DamagedCheckpoint(f"cannot be read by torch ({type(error).__name__})") from None
    return _verified(payload, stages=True)


def read_checkpoint_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a checkpoint, verified, without reading its weights into memory (the file is mapped)."""
    try:
        # Mapping needs a local file: the one read here that does not go through albench.results.files.
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise DamagedCheckpoint(f"cannot be read by torch ({type(error).__name__})") from None
    rows: list[dict[str, Any]] = _verified(payload, stages=False)["rows"]
    return rows
