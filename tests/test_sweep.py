"""``albench sweep``: grid files, their checks, the plan, failure isolation and the rerun command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from sweep_helpers import GRID_TOML, result_values, write_grid
from typer.testing import CliRunner

from albench import SelectionContext, Strategy, hookimpl
from albench.cli import app
from albench.host.registry import load_registry
from albench.results.failures import failure_path
from albench.results.locks import RunLock
from albench.run.checkpoint import checkpoint_path
from albench.sweep.grid import expand_grid, load_grid

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def _sweep(tmp_path: Path, grid: Path, *args: str):
    return runner.invoke(
        app, ["sweep", str(grid), "-r", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), *args]
    )


def test_a_grid_expands_to_its_cross_product_with_normalised_labels(tmp_path, registry):
    grid = load_grid(write_grid(tmp_path, GRID_TOML.replace('"oreal",', '"oreal(aggregation=max)",')))
    specs = expand_grid(registry, grid)
    assert len(specs) == len({s.run_id for s in specs}) == 12
    assert [(s.labeling.name, s.strategy.label, s.seed) for s in specs[:6]] == [
        ("dominant", "oreal", 0),
        ("dominant", "oreal", 1),
        ("dominant", "oreal(aggregation=mean)", 0),
        ("dominant", "oreal(aggregation=mean)", 1),
        ("dominant", "random", 0),
        ("dominant", "random", 1),
    ]
    assert {s.dataset.params["num_images"] for s in specs} == {20}  # the protocol file's dataset


def test_grid_axes_take_labels_and_protocol_settings(tmp_path, registry):
    grid = load_grid(
        write_grid(
            tmp_path,
            """
protocol = "tiny.toml"
datasets = ["tiny.toml", { name = "toy", num_images = 12, image_size = 32 }]
backbones = ["tiny-deeplab(width=4)"]
strategies = ["random"]
seeds = "0-2"
[set]
"protocol.rounds" = 2
""",
        )
    )
    specs = expand_grid(registry, grid)
    assert len(specs) == 6
    assert {s.backbone.params["width"] for s in specs} == {4}
    assert {s.protocol.rounds for s in specs} == {2}
    assert sorted({s.dataset.params["num_images"] for s in specs}) == [12, 20]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('strategies = ["random"]\nseed = [0]', "grid.toml: seed: unknown key. Did you mean 'seeds'?"),
        (
            'protocol = "tiny.toml"\nstrategies = ["random", "orel"]',
            "grid.toml: strategies: unknown strategy 'orel'. Did you mean 'oreal'?",
        ),
        (
            'protocol = "tiny.toml"\nstrategies = ["oreal(aggregation=median)"]',
            "grid.toml: strategies[0] (oreal(aggregation=median)): strategy 'oreal': parameter 'aggregation' must be",
        ),
        (
            'protocol = "tiny.toml"\nstrategies = ["random"]\nlabeling = ["dominant", "wek"]',
            "grid.toml: labeling[1] (wek): unknown labeling 'wek'. Did you mean 'weak'?",
        ),
        ('protocol = "tiny.toml"\nstrategies = ["random"]\nseeds = "2-0"', "grid.toml: seeds: '2-0': the range ends"),
        ('strategies = ["random"]\ndatasets = ["missing.toml"]', "grid.toml: datasets[0]: protocol file"),
        (
            'protocol = "tiny.toml"\nstrategies = ["random"]\n[set]\n"model.depth" = 3',
            "grid.toml: set.model.depth: expected",
        ),
        (
            'protocol = "tiny.toml"\nstrategies = ["random"]\n[set]\n"protocol.budget" = 0',
            "grid.toml: protocol (toy): set.protocol: protocol: budget must be at least 1",
        ),
        (
            'protocol = "tiny.toml"\nstrategies = ["random"]\n[set]\n"strategy.nu" = 3',
            "grid.toml: strategies: --set strategy.nu: no chosen strategy (random) has a parameter 'nu'",
        ),
        ('protocol = "tiny.toml"\nstrategies = []', "grid.toml: strategies: the grid needs at least one strategy"),
        (
            'strategies = ["random"]\nprotocol = "tiny.toml"\n[executor]\nname = "inline"\nworkers = 2',
            "executor 'inline' has no parameter 'workers'",
        ),
        (
            'strategies = ["random"]\nprotocol = "tiny.toml"\n[executor]\nname = "lokal"',
            "unknown executor 'lokal'. Did you mean 'local'?",
        ),
    ],
)
def test_grid_errors_name_the_file_and_key_and_run_nothing(tmp_path, text, message):
    result = _sweep(tmp_path, write_grid(tmp_path, text))
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def test_executor_options_are_checked_against_the_executor(tmp_path):
    grid = write_grid(tmp_path)
    result = _sweep(tmp_path, grid, "--workers", "2")
    assert result.exit_code == 1 and "executor 'inline' has no parameter 'workers'" in result.stderr
    result = _sweep(tmp_path, grid, "-e", "local", "--workers", "0")
    assert result.exit_code == 1 and "workers must be at least 1" in result.stderr
    result = _sweep(tmp_path, grid, "-e", "local", "--gpus", "0,x")
    assert result.exit_code == 1 and "--gpus '0,x': expected GPU ids" in result.stderr
    result = _sweep(tmp_path, grid, "-e", "local", "--gpus", "0,1")
    assert result.exit_code == 1 and "--gpus runs one run per GPU: pass --device cuda" in result.stderr


def test_dry_run_counts_every_state_and_estimates_from_finished_runs(tmp_path, registry):
    grid_path = write_grid(tmp_path)
    specs = expand_grid(registry, load_grid(grid_path))
    first = _sweep(tmp_path, grid_path, "--only", f"{specs[0].run_id},{specs[1].run_id}")
    assert first.exit_code == 0, first.output
    results = tmp_path / "results"
    checkpoint_path(results, specs[2].run_id).parent.mkdir(exist_ok=True)
    checkpoint_path(results, specs[2].run_id).write_bytes(b"partial")
    failure_path(results, specs[3].run_id).parent.mkdir(exist_ok=True)
    failure_path(results, specs[3].run_id).write_text("run x: y\n\nboom")
    held = RunLock(results, specs[4].run_id)
    assert held.acquire()
    try:
        plan = runner.invoke(app, ["sweep", str(grid_path), "-r", str(results), "--dry-run"])
    finally:
        held.release()
    assert plan.exit_code == 0, plan.output
    total = next(line for line in plan.stdout.splitlines() if "total" in line)
    assert [cell.strip() for cell in total.split("│")[3:8]] == ["2", "1", "1", "1", "7"]
    assert "(2 runs)" in plan.stdout  # the time per run comes from the two finished ones
    assert "compute left:" in plan.stdout and "per slot on 1 inline slot" in plan.stdout
    assert len(list(results.glob("*.parquet"))) == 2  # a dry run runs nothing


def test_sweep_skips_finished_runs_and_matches_albench_run(tmp_path, tiny_protocol_file):
    grid = write_grid(
        tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random", "oreal(aggregation=mean)"]\nseeds = [0]'
    )
    result = _sweep(tmp_path, grid)
    assert result.exit_code == 0, result.output
    assert "2 runs: 2 completed" in result.stderr
    again = _sweep(tmp_path, grid)
    assert again.exit_code == 0 and "2 runs: 2 skipped" in again.stderr
    by_run = runner.invoke(
        app,
        [
            "run",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(tmp_path / "by-run"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "-s",
            "random",
            "-s",
            "oreal(aggregation=mean)",
            "--seed",
            "0",
        ],
    )
    assert by_run.exit_code == 0, by_run.output
    assert result_values(tmp_path / "by-run") == result_values(tmp_path / "results")
    labels = {json.loads(v)[0]["strategy_label"] for v in result_values(tmp_path / "results").values()}
    assert labels == {"random", "oreal(aggregation=mean)"}


class Explodes(Strategy):
    """A plugin that raises in its second round."""

    name = "explodes"

    def select(self, context: SelectionContext) -> np.ndarray:
        raise RuntimeError("the plugin's own bug")


class ExplodingPlugin:
    @hookimpl
    def register_strategies(self, register):
        register(Explodes)


def test_a_failing_run_fails_alone_and_the_end_says_how_to_rerun_it(tmp_path, monkeypatch):
    registry = load_registry(entry_points=False, extra=(ExplodingPlugin(),))
    monkeypatch.setattr("albench.cli.sweep.load_registry", lambda: registry)
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random", "explodes"]\nseeds = [0, 1]')
    result = _sweep(tmp_path, grid, "--set", "protocol.rounds=2")
    assert result.exit_code == 1
    output = " ".join(result.stderr.split())
    assert "4 runs: 2 completed, 2 failed" in output
    assert "RuntimeError: the plugin's own bug" in output
    assert len(list((tmp_path / "results").glob("*.parquet"))) == 2
    records = sorted((tmp_path / "results" / ".failed").glob("*.txt"))
    assert len(records) == 2
    assert "Traceback" in records[0].read_text() and "the plugin's own bug" in records[0].read_text()
    rerun = result.stderr.splitlines()[-1].strip()
    failed_ids = sorted(path.stem for path in records)
    assert rerun.startswith(f"albench sweep {grid} --set protocol.rounds=2 --results-dir {tmp_path / 'results'}")
    assert rerun.endswith(f"--only {','.join(failed_ids)}") or rerun.endswith(f"--only {','.join(failed_ids[::-1])}")
    # the rerun command runs exactly the failed runs (which fail again: the bug is still there)
    again = runner.invoke(app, rerun.split()[1:])
    assert again.exit_code == 1 and "2 runs: 2 failed" in " ".join(again.stderr.split())


def test_albench_run_reports_a_failing_run_and_goes_on(tmp_path, tiny_protocol_file, monkeypatch):
    registry = load_registry(entry_points=False, extra=(ExplodingPlugin(),))
    monkeypatch.setattr("albench.cli.run.load_registry", lambda: registry)
    result = runner.invoke(
        app,
        [
            "run",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "-s",
            "explodes",
            "-s",
            "random",
            "--rounds",
            "2",
        ],
    )
    assert result.exit_code == 1
    output = " ".join(result.stderr.split())
    assert "2 runs: 1 completed, 1 failed" in output and "--only" in output
    assert len(list((tmp_path / "results").glob("*.parquet"))) == 1


def test_a_finished_rerun_clears_the_failure_record(tmp_path):
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random"]\nseeds = [0]')
    registry = load_registry(entry_points=False)
    (spec,) = expand_grid(registry, load_grid(grid))
    record = failure_path(tmp_path / "results", spec.run_id)
    record.parent.mkdir(parents=True)
    record.write_text("run x: earlier failure\n\nboom")
    assert _sweep(tmp_path, grid).exit_code == 0
    assert not record.exists()


def test_only_names_unknown_runs_plainly(tmp_path):
    result = _sweep(tmp_path, write_grid(tmp_path), "--only", "nope")
    assert result.exit_code == 1 and "--only 'nope' matches no run" in result.stderr


def test_a_run_locked_by_another_worker_is_skipped_and_said_so(tmp_path, registry):
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random"]\nseeds = [0, 1]')
    specs = expand_grid(registry, load_grid(grid))
    held = RunLock(tmp_path / "results", specs[0].run_id)
    assert held.acquire()
    try:
        result = _sweep(tmp_path, grid)
    finally:
        held.release()
    assert result.exit_code == 0, result.output
    output = " ".join(result.stderr.split())
    assert "2 runs: 1 completed, 1 running elsewhere" in output
    assert f"running elsewhere (host {os.uname().nodename}, pid {os.getpid()}" in output


def test_executors_are_plugins_listed_with_the_other_components():
    result = runner.invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0
    components = json.loads(result.stdout)["components"]
    executors = {c["name"]: c for c in components if c["kind"] == "executor"}
    assert set(executors) == {"inline", "local", "slurm", "ray"}
    assert {c["plugin"] for c in executors.values()} == {
        f"albench_plugins.executors.{name}" for name in ("inline", "local", "slurm", "ray")
    }


def test_a_sweep_clears_the_stale_lock_a_finished_run_left(tmp_path, registry):
    """A worker killed between writing its result and releasing its lock leaves a lock on a finished run."""
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random"]\nseeds = [0, 1]')
    assert _sweep(tmp_path, grid).exit_code == 0
    first, second = (spec.run_id for spec in expand_grid(registry, load_grid(grid)))
    results = tmp_path / "results"
    stale = results / ".locks" / f"{first}.lock"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text(
        json.dumps(
            {
                "host": os.uname().nodename,
                "pid": 2**22 + 7,
                "pid_start": None,
                "started": 0.0,
                "owner": "",
                "token": "killed",
            }
        )
    )
    live = RunLock(results, second)
    assert live.acquire()
    try:
        again = _sweep(tmp_path, grid)
    finally:
        live.release()
    assert again.exit_code == 0 and "2 runs: 2 skipped" in again.stderr
    assert not stale.exists()


def test_the_summary_line_counts_runs_in_words():
    from albench.sweep.driver import SweepSummary
    from albench.sweep.task import RunResult

    one = SweepSummary([RunResult("a", "completed", "random seed 0")])
    assert one.line() == "1 run: 1 completed"
    three = SweepSummary([RunResult(k, s, k) for k, s in (("a", "completed"), ("b", "locked"), ("c", "failed"))])
    assert three.line() == "3 runs: 1 completed, 1 running elsewhere, 1 failed"
    assert SweepSummary().line() == "0 runs: nothing to do"


def test_counts_are_written_with_the_plural_only_when_not_one():
    from albench._words import plural

    assert [plural(n, "run") for n in (0, 1, 2)] == ["0 runs", "1 run", "2 runs"]
    assert plural(3, "strategy", "strategies") == "3 strategies" and plural(1, "strategy", "strategies") == "1 strategy"
