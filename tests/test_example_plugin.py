"""examples/albench-example-strategy installed with pip into a temporary site, as a user would install it:
it shows in ``albench plugins`` with its parameter, runs, ranks in the leaderboard, and its own tests (which
use the contract kit through albench's pytest plugin) pass there. Beside it, two deliberately broken plugin
distributions are named clearly and break no other command; ``albench run --strict`` makes them fatal.
Everything is offline: ``--no-index --no-build-isolation``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from albench.cli import app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "albench-example-strategy"
runner = CliRunner()

BROKEN_IMPORT = """\
raise ImportError("albench-broken-import needs a GPU library that is not installed\\nsecond line of detail")
"""
BROKEN_CONTRACT = """\
from dataclasses import dataclass

from albench import Register, ScoredStrategy, hookimpl


@dataclass(frozen=True)
class NeedsAValue:
    weight: float  # no default: albench refuses the Params when the plugin registers


class Weighted(ScoredStrategy):
    name, Params = "weighted", NeedsAValue

    def scores(self, context):
        return context.region_sizes * self.params.weight


@hookimpl
def register_strategies(register: Register) -> None:
    register(Weighted)
"""


def _package(root: Path, distribution: str, version: str, module: str, source: str) -> Path:
    """A minimal plugin distribution: pyproject with an ``albench`` entry point, one module."""
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(source)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools>=70.1"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{distribution}"\nversion = "{version}"\n\n'
        f'[project.entry-points.albench]\n{module} = "{module}"\n\n[tool.setuptools]\npackages = ["{module}"]\n'
    )
    return root


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the site the distributions were installed into, the copied example package with its tests)."""
    work = tmp_path_factory.mktemp("example")
    example = shutil.copytree(
        EXAMPLE, work / "albench-example-strategy", ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__")
    )
    broken_import = _package(
        work / "broken-import", "albench-broken-import", "0.2", "albench_broken_import", BROKEN_IMPORT
    )
    broken_contract = _package(
        work / "broken-contract", "albench-broken-contract", "1.4", "albench_broken_contract", BROKEN_CONTRACT
    )
    site = work / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            "--target",
            str(site),
            str(example),
            str(broken_import),
            str(broken_contract),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    return site, example


@pytest.fixture
def site(installed, monkeypatch) -> Path:
    site, _ = installed
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ALBENCH_LOAD_PLUGINS", raising=False)
    return site


def test_plugins_lists_the_example_with_its_parameter_and_names_the_broken_plugins(site):
    result = runner.invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    (example,) = [c for c in listing["components"] if c["name"] == "entropy-per-click"]
    assert (example["kind"], example["distribution"], example["distribution_version"], example["version"]) == (
        "strategy",
        "albench-example-strategy",
        "0.1.0",
        "1",
    )
    assert example["parameters"] == [
        {
            "name": "aggregation",
            "type": "'max' | 'mean' | 'p95'",
            "default": "mean",
            "doc": "how a region's pixel entropies are reduced: mean, max or p95.",
        }
    ]
    summaries = sorted(b["summary"] for b in listing["broken"])
    assert summaries == [
        "plugin 'albench_broken_contract' (albench-broken-contract 1.4): TypeError: strategy 'weighted': every "
        "`Params` field needs a default (NeedsAValue.__init__() missing 1 required positional argument: 'weight')",
        "plugin 'albench_broken_import' (albench-broken-import 0.2): ImportError: albench-broken-import needs a GPU "
        "library that is not installed",
    ]
    table = runner.invoke(app, ["plugins", "entropy-per-click"])
    assert table.exit_code == 0, table.output
    assert "  aggregation: 'max' | 'mean' | 'p95' = 'mean'  how a region's pixel entropies are reduced" in table.stdout
    assert "2 plugin(s) failed to load" in table.stderr and "(albench-broken-import 0.2): ImportError" in table.stderr
    assert "second line of detail" not in table.stderr  # the first line of the error only


def test_the_example_runs_under_weak_labels_and_ranks_in_the_leaderboard(site, tmp_path, tiny_protocol_file):
    results = tmp_path / "results"
    run = runner.invoke(
        app,
        [
            "run",
            "-s",
            "entropy-per-click",
            "-s",
            "random",
            "--labeling",
            "weak",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(results),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert run.exit_code == 0, run.output
    assert "warning: plugin 'albench_broken_import' (albench-broken-import 0.2)" in run.stderr
    tables = {pq.read_table(p).column("strategy")[0].as_py(): pq.read_table(p) for p in results.glob("*.parquet")}
    example = tables["entropy-per-click"]
    assert example.column("strategy_label").to_pylist() == ["entropy-per-click"] * 3
    assert example.column("strategy_version").to_pylist() == ["1"] * 3
    assert example.column("strategy_distribution").to_pylist() == ["albench-example-strategy 0.1.0"] * 3
    assert max(example.column("clicks_round").to_pylist()) <= 8  # the tiny protocol's budget, in clicks
    board = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "json"])
    assert board.exit_code == 0, board.output
    labels = {record["strategy"] for record in json.loads(board.stdout)["records"]}
    assert "entropy-per-click (mean)" in labels and "random" in labels  # one table: aggregation in the label


def test_strict_makes_a_broken_plugin_fatal_before_anything_runs(site, tmp_path, tiny_protocol_file):
    results = tmp_path / "results"
    run = runner.invoke(
        app,
        [
            "run",
            "-s",
            "entropy-per-click",
            "--strict",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(results),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert run.exit_code == 1
    message = run.stderr.replace("\n", " ")
    assert message.startswith(
        "error: --strict: 2 plugin(s) failed to load: plugin 'albench_broken_import' "
        "(albench-broken-import 0.2): ImportError: albench-broken-import needs a GPU library"
    )
    assert "plugin 'albench_broken_contract' (albench-broken-contract 1.4): TypeError: strategy 'weighted'" in message
    assert not results.exists()
    only_good = runner.invoke(
        app,
        [
            "run",
            "-s",
            "entropy-per-click",
            "--strict",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(results),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        env={"ALBENCH_LOAD_PLUGINS": "albench-example-strategy"},
    )
    assert only_good.exit_code == 0, only_good.output


def test_the_examples_own_tests_pass_where_it_is_installed(installed):
    site, example = installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
