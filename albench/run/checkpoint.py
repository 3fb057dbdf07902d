"""Resumable progress: after every round, the rows so far and the model, in one atomically replaced file.

A crash or kill loses at most the round in progress; rerunning the same run resumes after the last saved
round. The file lives in ``<results>/.partial/`` and is removed when the run's Parquet file is written. Its
format and checksums are :mod:`albench.results.checkpoints`'; a damaged one raises
:class:`~albench.results.checkpoints.DamagedCheckpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albench.results import files
from albench.results.checkpoints import DamagedCheckpoint, checkpoint_path, encode_checkpoint, read_checkpoint

__all__ = ["Checkpoint", "DamagedCheckpoint", "checkpoint_path", "load_checkpoint", "save_checkpoint"]


@dataclass
class Checkpoint:
    """What a run needs to continue: its canonical spec (to refuse a mismatch), rows, and each training
    stage's weights (``{"model": state_dict, "ema": state_dict or None}`` per stage)."""

    spec: dict[str, Any]
    rows: list[dict[str, Any]]
    stages: list[dict[str, Any]]


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: the file on disk is always a complete checkpoint."""
    files.write_atomic(path, encode_checkpoint(checkpoint.spec, checkpoint.rows, checkpoint.stages))


def load_checkpoint(path: Path, spec: dict[str, Any]) -> Checkpoint | None:
    """The checkpoint at ``path`` if there is one and it belongs to ``spec``; otherwise ``None``.

    Raises :class:`DamagedCheckpoint` when the file is there but unreadable or fails its checksum.
    """
    if not path.exists():
        return None
    payload = read_checkpoint(path)
    if payload["spec"] != spec:
        return None
    return Checkpoint(payload["spec"], list(payload["rows"]), list(payload["stages"]))
