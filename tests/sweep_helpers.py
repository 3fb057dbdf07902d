"""Helpers of the sweep tests: the acceptance grid on the tiny benchmark, and result values to compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
from conftest import TINY_PROTOCOL_TOML

from albench.results.store import ENVIRONMENT_COLUMNS

# The acceptance grid: oreal, oreal(aggregation=mean), random × 2 seeds × 2 labeling schemes = 12 runs.
GRID_TOML = """
title = "acceptance grid"
protocol = "tiny.toml"
labeling = ["dominant", "weak"]
strategies = ["oreal", "oreal(aggregation=mean)", "random"]
seeds = [0, 1]
"""


# The fault tests' grid: 4 runs of 8 rounds each. A test signals or kills a run once it checkpointed its first
# round; the seven rounds left keep it running well after the signal arrives, however fast the machine.
FAULT_GRID_TOML = """
title = "fault grid"
protocol = "faults.toml"
labeling = ["dominant"]
strategies = ["oreal", "random"]
seeds = [0, 1]
"""
FAULT_PROTOCOL_TOML = TINY_PROTOCOL_TOML.replace("rounds = 3", "rounds = 8")
assert FAULT_PROTOCOL_TOML != TINY_PROTOCOL_TOML


def write_grid(folder: Path, text: str = GRID_TOML, name: str = "grid.toml") -> Path:
    (folder / "tiny.toml").write_text(TINY_PROTOCOL_TOML)
    (folder / "faults.toml").write_text(FAULT_PROTOCOL_TOML)
    path = folder / name
    path.write_text(text)
    return path


def uninterrupted_values(folder: Path, text: str = GRID_TOML) -> dict[str, str]:
    """The result values of the grid ``text`` swept inline, start to end, in ``folder``."""
    from typer.testing import CliRunner

    from albench.cli import app

    grid = write_grid(folder, text)
    command = ["sweep", str(grid), "-r", str(folder / "results"), "--cache-dir", str(folder / "cache")]
    result = CliRunner().invoke(app, command, env={"ALBENCH_LOAD_PLUGINS": ""})
    assert result.exit_code == 0, result.output
    return result_values(folder / "results")


def result_values(results: Path) -> dict[str, str]:
    """Each run file's rows without the columns that say where and how fast it ran, as canonical JSON
    (NaN compares equal to NaN there)."""
    values = {}
    for path in sorted(results.glob("*.parquet")):
        table = pq.read_table(path)
        table = table.drop_columns([c for c in ENVIRONMENT_COLUMNS if c in table.column_names])
        values[path.stem] = json.dumps(sorted(table.to_pylist(), key=lambda r: r["round"]), sort_keys=True)
    return values


def sweep_process(
    grid: Path, results: Path | str, cache: Path, *args: str, log_dir: Path | None = None
) -> subprocess.Popen[str]:
    """``albench sweep`` in its own process (so that it can be killed), output to ``sweep.log`` in ``log_dir``
    (default: next to ``results``)."""
    folder = log_dir or Path(results).parent
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "sweep.log", "a")  # noqa: SIM115 - the child process holds it
    command = [
        sys.executable,
        "-c",
        "from albench.cli import main; main()",
        "sweep",
        str(grid),
        "-r",
        str(results),
        "--cache-dir",
        str(cache),
        *args,
    ]
    env = {**os.environ, "ALBENCH_LOAD_PLUGINS": ""}
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)


def signal_run_when_checkpointed(results: Path, run_id: str, signum: int, rounds: int = 1) -> threading.Thread:
    """In the background: once ``run_id`` has checkpointed ``rounds`` rounds (each a new checkpoint file, seen
    by its inode), send ``signum`` to the process holding its lock (the process running it, wherever the
    executor put it)."""

    def act() -> None:
        partial = results / ".partial" / f"{run_id}.pt"
        lock = results / ".locks" / f"{run_id}.lock"
        seen: set[int] = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                seen.add(partial.stat().st_ino)
            except OSError:
                pass
            if len(seen) >= rounds and lock.exists():
                try:
                    pid = json.loads(lock.read_text())["pid"]
                except (ValueError, KeyError, OSError):
                    time.sleep(0.02)
                    continue
                os.kill(pid, signum)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread
