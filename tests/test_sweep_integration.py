"""The acceptance grid through submitit (its local executor: real subprocesses and pickles) and a local Ray,
and the fault-table rows of those engines: a Slurm job preempted (USR2: checkpoint and requeue), sent
SIGTERM, SIGKILLed; a Ray worker lost mid-run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from integration import require
from sweep_helpers import (
    FAULT_GRID_TOML,
    result_values,
    signal_run_when_checkpointed,
    uninterrupted_values,
    write_grid,
)
from typer.testing import CliRunner

from albench.cli import app
from albench.host.registry import load_registry
from albench.run.runner import RunOptions
from albench.sweep.driver import run_tasks
from albench.sweep.grid import expand_grid, load_grid
from albench.sweep.task import RunTask

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """The acceptance grid, uninterrupted, inline."""
    return uninterrupted_values(tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def fault_reference(tmp_path_factory) -> dict[str, str]:
    """The fault grid (runs long enough to be signalled mid-run), uninterrupted, inline."""
    return uninterrupted_values(tmp_path_factory.mktemp("fault-reference"), FAULT_GRID_TOML)


def _slurm_options(tmp_path: Path) -> list[str]:
    return [
        "-e",
        "slurm",
        "-o",
        "cluster=local",
        "-o",
        f"folder={tmp_path / 'submitit'}",
        "-o",
        "gpus=0",
        "-o",
        "cpus=1",
        "-o",
        "poll_s=0.5",
    ]


def _fault_tasks(tmp_path: Path, count: int) -> list[RunTask]:
    registry = load_registry(entry_points=False)
    options = RunOptions(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache")
    grid = load_grid(write_grid(tmp_path, FAULT_GRID_TOML))
    return [RunTask(spec, options) for spec in expand_grid(registry, grid)][:count]


def _slurm(tmp_path: Path):
    registry = load_registry(entry_points=False)
    return registry.create(
        "executor",
        "slurm",
        {"cluster": "local", "folder": str(tmp_path / "submitit"), "gpus": 0, "cpus": 1, "poll_s": 0.5},
    ).instance


def test_the_grid_through_submitit_gives_the_same_values(tmp_path, reference):
    require("submitit", "the slurm executor's tests need submitit: pip install 'albench[slurm]'")
    grid = write_grid(tmp_path)
    result = runner.invoke(
        app,
        [
            "sweep",
            str(grid),
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *_slurm_options(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "12 runs: 12 completed" in result.stderr
    assert result_values(tmp_path / "results") == reference
    assert list((tmp_path / "submitit").glob("*_submitted.pkl"))  # went through submitit's pickles


def test_a_preempted_slurm_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path, fault_reference):
    require("submitit", "the slurm executor's tests need submitit: pip install 'albench[slurm]'")
    tasks = _fault_tasks(tmp_path, 2)
    victim = tasks[0].key
    # USR2 is what Slurm sends before preempting or timing out a submitit job (--signal=USR2@delay). Sent after
    # the second checkpoint: during the first query numba compiles the scoring kernels, and a handler that runs
    # inside llvmlite's ctypes callback has its SystemExit swallowed. On Slurm, submitit's `scontrol requeue`
    # ends the job anyway; submitit's local executor requeues only on that exit, so the run would go on.
    signal_run_when_checkpointed(tmp_path / "results", victim, signal.SIGUSR2, rounds=2)
    summary = run_tasks(tasks, _slurm(tmp_path))
    statuses = {r.run_id: r.status for r in summary.results}
    assert statuses == {victim: "resumed", tasks[1].key: "completed"}
    values = result_values(tmp_path / "results")
    assert values == {key: fault_reference[key] for key in values}
    logs = "".join(p.read_text() for p in (tmp_path / "submitit").glob("*_log.*"))
    assert "Requeued job" in logs or "requeue" in logs.lower()


def test_a_slurm_job_sent_sigterm_goes_on(tmp_path, fault_reference):
    require("submitit", "the slurm executor's tests need submitit: pip install 'albench[slurm]'")
    tasks = _fault_tasks(tmp_path, 1)
    signal_run_when_checkpointed(tmp_path / "results", tasks[0].key, signal.SIGTERM)
    summary = run_tasks(tasks, _slurm(tmp_path))
    assert [r.status for r in summary.results] == ["completed"]
    assert result_values(tmp_path / "results") == {tasks[0].key: fault_reference[tasks[0].key]}


def test_a_killed_slurm_job_is_reported_and_the_rerun_resumes_it(tmp_path, fault_reference):
    require("submitit", "the slurm executor's tests need submitit: pip install 'albench[slurm]'")
    tasks = _fault_tasks(tmp_path, 2)
    victim = tasks[0].key
    signal_run_when_checkpointed(tmp_path / "results", victim, signal.SIGKILL)
    summary = run_tasks(tasks, _slurm(tmp_path))
    (failed,) = summary.failed
    assert failed.run_id == victim and "ended without a result" in failed.message
    assert (tmp_path / "results" / ".partial" / f"{victim}.pt").exists()
    again = run_tasks(tasks, _slurm(tmp_path))
    assert {r.run_id: r.status for r in again.results} == {victim: "resumed", tasks[1].key: "skipped"}
    values = result_values(tmp_path / "results")
    assert values == {key: fault_reference[key] for key in values} and len(values) == 2


def test_the_grid_through_a_local_ray_gives_the_same_values(tmp_path, reference):
    require("ray", "the ray executor's tests need Ray: pip install 'albench[ray]'")
    grid = write_grid(tmp_path)
    result = runner.invoke(
        app,
        [
            "sweep",
            str(grid),
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "-e",
            "ray",
            "-o",
            "local_cpus=2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "12 runs: 12 completed" in result.stderr
    assert result_values(tmp_path / "results") == reference


def test_a_ray_worker_lost_mid_run_is_retried_and_resumes(tmp_path, fault_reference):
    require("ray", "the ray executor's tests need Ray: pip install 'albench[ray]'")
    tasks = _fault_tasks(tmp_path, 2)
    victim = tasks[0].key
    signal_run_when_checkpointed(tmp_path / "results", victim, signal.SIGKILL)
    registry = load_registry(entry_points=False)
    executor = registry.create("executor", "ray", {"local_cpus": 2, "max_retries": 2}).instance
    summary = run_tasks(tasks, executor)
    assert {r.run_id: r.status for r in summary.results} == {victim: "resumed", tasks[1].key: "completed"}
    values = result_values(tmp_path / "results")
    assert values == {key: fault_reference[key] for key in values}
