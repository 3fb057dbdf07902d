"""Resumable progress: after every round, the rows so far and the model, in one atomically replaced file.

A crash or kill loses at most the round in progress; rerunning the same run resumes after the last saved
round. The file lives in ``<results>/.partial/`` and is removed when the run's Parquet file is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from albench._atomic import atomic_write

__all__ = ["Checkpoint", "checkpoint_path", "load_checkpoint", "save_checkpoint"]


@dataclass
class Checkpoint:
    """What a run needs to continue: its canonical spec (to refuse a mismatch), rows, and each training
    stage's weights (``{"model": state_dict, "ema": state_dict or None}`` per stage)."""

    spec: dict[str, Any]
    rows: list[dict[str, Any]]
    stages: list[dict[str, Any]]


def checkpoint_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / ".partial" / f"{run_id}.pt"


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: the file on disk is always a complete checkpoint."""
    payload = {"spec": checkpoint.spec, "rows": checkpoint.rows, "stages": checkpoint.stages}
    atomic_write(path, lambda temporary: torch.save(payload, temporary))


def load_checkpoint(path: Path, spec: dict[str, Any]) -> Checkpoint | None:
    """The checkpoint at ``path`` if it is readable and belongs to ``spec``; otherwise ``None``."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or foreign file: start the run over
        return None
    if not isinstance(payload, dict) or payload.get("spec") != spec or "stages" not in payload:
        return None
    return Checkpoint(payload["spec"], list(payload["rows"]), list(payload["stages"]))
