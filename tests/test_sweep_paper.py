"""The paper's grids in benchmarks/paper/: each loads, names only real components, has the size its header
says, and the results of a grid render with ``albench report``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sweep_helpers import write_grid
from typer.testing import CliRunner

from albench.cli import app
from albench.run.spec import resolve_component, strategy_params
from albench.sweep.grid import load_grid

PAPER = Path(__file__).parent.parent / "benchmarks" / "paper"
GRIDS = sorted(PAPER.glob("*.toml"))
runner = CliRunner()


def test_there_is_a_grid_per_experiment_of_the_paper():
    assert {path.stem for path in GRIDS} == {
        "table1",
        "table2",
        "table3",
        "table4_fig7",
        "context_sampling",
        "backbones",
    }


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.stem)
def test_a_paper_grid_resolves_and_has_the_size_its_header_says(path, registry):
    grid = load_grid(path)
    for entry in grid.datasets:
        config = entry.config
        for name, params in strategy_params(registry, config, grid.strategies, {}):
            resolve_component(registry, "strategy", name, params)
        for name in grid.backbones or (config.backbone.name,):
            registry.get("backbone", name)
        for name in grid.labeling or (config.labeling.name,):
            registry.get("labeling", name)
        registry.get("dataset", config.dataset.name)
    size = sum(
        len(grid.strategies)
        * len(grid.backbones or [1])
        * len(grid.labeling or [1])
        * len(grid.seeds or entry.config.seeds)
        for entry in grid.datasets
    )
    stated = re.search(r"= (\d+) runs", path.read_text())
    assert stated is not None and int(stated[1]) == size
    assert grid.executor.get("name") == "slurm"


def test_a_grids_results_render_with_albench_report(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")
    grid = write_grid(
        tmp_path,
        'protocol = "tiny.toml"\nstrategies = ["random", "oreal", "oreal(aggregation=mean)"]\n'
        'seeds = [0, 1]\nreport = "ablations"',
    )
    results = tmp_path / "results"
    swept = runner.invoke(app, ["sweep", str(grid), "-r", str(results), "--cache-dir", str(tmp_path / "cache")])
    assert swept.exit_code == 0, swept.output
    report = runner.invoke(app, ["report", "paper", "-r", str(results)])
    assert report.exit_code == 0, report.output
    for label in ("random", "oreal (max)", "oreal (mean)"):  # one table: the aggregation is in the label
        assert f"| {label} |" in report.stdout
