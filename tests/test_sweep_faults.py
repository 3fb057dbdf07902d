"""The sweep rows of the fault table, each reproduced: kill anything at any moment, rerun the same command,
nothing lost, nothing duplicated, the same numbers.

SIGKILL of the driver (twice, at random moments: the acceptance test), SIGKILL of a worker, two sweeps on
one results directory. (Slurm and Ray rows: tests/test_sweep_integration.py; a stale lock from a dead host
and an unknown component in a grid: test_sweep_locks.py and test_sweep.py.)
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from sweep_helpers import FAULT_GRID_TOML, result_values, sweep_process, uninterrupted_values, write_grid
from typer.testing import CliRunner

from albench.components import TaskEnded
from albench.host.registry import load_registry
from albench.run.runner import RunOptions
from albench.sweep.driver import run_tasks
from albench.sweep.grid import expand_grid, load_grid
from albench.sweep.task import RunResult, RunTask

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """The acceptance grid, uninterrupted, inline."""
    values = uninterrupted_values(tmp_path_factory.mktemp("reference"))
    assert len(values) == 12
    return values


@pytest.fixture(scope="module")
def fault_reference(tmp_path_factory) -> dict[str, str]:
    """The fault grid, uninterrupted, inline."""
    return uninterrupted_values(tmp_path_factory.mktemp("fault-reference"), FAULT_GRID_TOML)


def _wait_for(condition, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _progress(results: Path) -> int:
    """Files written so far: checkpoints and results (each round and each run end writes one)."""
    return sum(1 for _ in results.rglob("*.p*")) if results.exists() else 0


def test_a_sweep_killed_twice_at_random_moments_ends_equal_to_an_uninterrupted_one(tmp_path, reference):
    """Acceptance: the 12-run grid through the local executor, its driver SIGKILLed twice (its workers die
    with it) at random moments after work began, then rerun to the end."""
    grid = write_grid(tmp_path)
    results, cache = tmp_path / "results", tmp_path / "cache"
    moments = random.Random(12).sample(range(1, 8), 2)  # files written before each kill
    for moment in moments:
        start = _progress(results)
        process = sweep_process(grid, results, cache, "-e", "local", "--workers", "2")
        _wait_for(lambda s=start, m=moment, p=process: _progress(results) >= s + m or p.poll() is not None)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(list(results.glob("*.parquet"))) < 12, "the kills came too late to interrupt anything"
    final = sweep_process(grid, results, cache, "-e", "local", "--workers", "2")
    assert final.wait(timeout=600) == 0, (tmp_path / "sweep.log").read_text()
    assert result_values(results) == reference
    # no checkpoint or lock is left (a write killed half-way may leave a hidden temporary file: never read)
    assert not list((results / ".partial").glob("*.pt")) and not list((results / ".locks").glob("*.lock"))
    log = (tmp_path / "sweep.log").read_text()
    assert "took over the stale lock" in log or "resuming run" in log


def test_a_worker_killed_mid_run_fails_that_run_alone_and_a_rerun_resumes_it(tmp_path, fault_reference):
    grid = write_grid(tmp_path, FAULT_GRID_TOML)
    registry = load_registry(entry_points=False)
    results = tmp_path / "results"
    options = RunOptions(results_dir=results, cache_dir=tmp_path / "cache")
    tasks = [RunTask(spec, options) for spec in expand_grid(registry, load_grid(grid))][:3]
    victim = tasks[1].key

    class KillOneWorker:
        """Wraps the local executor: SIGKILLs the worker running ``victim`` once it checkpointed a round."""

        def __init__(self) -> None:
            self.inner = registry.create("executor", "local", {"workers": 2}).instance

        def run(self, tasks):
            import threading

            def killer() -> None:
                partial = results / ".partial" / f"{victim}.pt"
                lock = results / ".locks" / f"{victim}.lock"
                _wait_for(partial.exists)
                import json

                os.kill(json.loads(lock.read_text())["pid"], signal.SIGKILL)

            threading.Thread(target=killer, daemon=True).start()
            yield from self.inner.run(tasks)

    summary = run_tasks(tasks, KillOneWorker())  # type: ignore[arg-type]
    statuses = {r.run_id: r.status for r in summary.results}
    assert statuses.pop(victim) == "failed"
    assert set(statuses.values()) == {"completed"}
    (failed,) = summary.failed
    assert "killed by SIGKILL" in failed.message
    assert "killed by SIGKILL" in (results / ".failed" / f"{victim}.txt").read_text()
    assert (results / ".partial" / f"{victim}.pt").exists()  # its finished rounds are kept
    again = run_tasks(tasks, registry.create("executor", "inline", {}).instance)
    assert {r.run_id: r.status for r in again.results}[victim] == "resumed"
    values = result_values(results)
    assert values == {key: fault_reference[key] for key in values} and len(values) == 3
    assert not (results / ".failed" / f"{victim}.txt").exists()


def test_two_sweeps_on_one_results_directory_run_each_run_once(tmp_path, reference):
    grid = write_grid(tmp_path)
    results, cache = tmp_path / "results", tmp_path / "cache"
    first = sweep_process(grid, results, cache)
    second = sweep_process(grid, results, cache)
    assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0, (tmp_path / "sweep.log").read_text()
    assert result_values(results) == reference
    log = (tmp_path / "sweep.log").read_text()
    completed = log.count(" completed ") + log.count(" resumed ")
    assert completed == 12, log  # each run computed by exactly one of the two sweeps
    assert "running elsewhere" in log or "skipped" in log


def test_the_driver_records_a_task_the_executor_lost(tmp_path, registry):
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random"]\nseeds = [0]')
    options = RunOptions(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache")
    (task,) = [RunTask(spec, options) for spec in expand_grid(registry, load_grid(grid))]

    class LosesEverything:
        def run(self, tasks):
            for t in tasks:
                yield TaskEnded(t.key, error="Ray task lost (NodeDiedError): the node died")

    summary = run_tasks([task], LosesEverything())  # type: ignore[arg-type]
    (result,) = summary.results
    assert isinstance(result, RunResult) and result.status == "failed"
    assert result.message == "Ray task lost (NodeDiedError): the node died"
    assert "the node died" in (tmp_path / "results" / ".failed" / f"{task.key}.txt").read_text()
