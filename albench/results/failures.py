"""Failed runs, on record: ``<results>/.failed/<run_id>.txt`` holds what failed and the full traceback.

A run that fails (a plugin raising, bad input, a worker that died) fails alone: the sweep goes on, and at
the end lists the failed runs with the command that reruns only them. The record is removed when the run
later finishes.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from albench._atomic import atomic_write

__all__ = ["FailureRecord", "clear_failure", "failure_path", "read_failure", "record_failure"]


def failure_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / ".failed" / f"{run_id}.txt"


@dataclass(frozen=True)
class FailureRecord:
    run_id: str
    what: str
    error: str
    details: str

    @property
    def summary(self) -> str:
        """The error's last line: for Python tracebacks, the exception and its message."""
        lines = [line for line in self.error.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else "(no message)"


def record_failure(results_dir: Path, run_id: str, what: str, error: str) -> Path:
    """Write the failure record of ``run_id``; ``what`` describes the run, ``error`` is the traceback."""
    path = failure_path(results_dir, run_id)
    header = (
        f"run {run_id}: {what}\nfailed on host {socket.gethostname()} at {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n\n"
    )

    def write(temporary: Path) -> None:
        temporary.write_text(header + error.rstrip() + "\n")

    atomic_write(path, write)
    return path


def read_failure(results_dir: Path, run_id: str) -> FailureRecord | None:
    try:
        text = failure_path(results_dir, run_id).read_text()
    except FileNotFoundError:
        return None
    head, _, error = text.partition("\n\n")
    what = head.splitlines()[0].partition(": ")[2] if head else ""
    return FailureRecord(run_id, what, error, head)


def clear_failure(results_dir: Path, run_id: str) -> None:
    failure_path(results_dir, run_id).unlink(missing_ok=True)
