"""Names and ids never wrap in any command's tables: piped into another program (80 columns) or printed on a
narrow terminal, every component name, strategy label, run id and title stays whole on one line, so
``albench plugins | grep deeplabv3-resnet50`` finds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.make_fixtures import fixture_run_id
from typer.testing import CliRunner

from albench.cli import app
from albench.cli._common import err, out
from albench.host.registry import load_registry

RUNS = str(Path(__file__).parent / "fixtures" / "runs")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


@pytest.fixture
def narrow(monkeypatch):
    """A 30-column terminal for the CLI's consoles (rich would otherwise squeeze tables into it)."""
    for console in (out, err):
        monkeypatch.setattr(console, "width", 30)


def _grep(text: str, needle: str) -> bool:
    """What ``grep -F needle`` answers: does one line contain it?"""
    return any(needle in line for line in text.splitlines())


def test_plugins_piped_at_80_columns_keeps_every_name_whole():
    env = {**os.environ, "COLUMNS": "80", "ALBENCH_LOAD_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-c", "from albench.cli import main; main()", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _grep(done.stdout, "deeplabv3-resnet50")
    for registration in load_registry().registrations():
        assert _grep(done.stdout, registration.name), registration.name
        assert _grep(done.stdout, registration.plugin), registration.plugin


def test_leaderboard_and_reports_on_a_narrow_terminal(narrow):
    for args in (
        ["leaderboard"],
        ["leaderboard", "--by", "aggregation"],
        ["report", "ablations", "--format", "table"],
        ["report", "gini", "--format", "table"],
        ["report", "runs"],
    ):
        result = runner.invoke(app, [*args, "-r", RUNS])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip()
        needles = ["oreal (max)", "bvsb (mean)", "AuALC (%) · backbone tiny-deeplab · dominant labels"]
        if "--by" in args:
            needles = ["oreal", "AuALC (%) · backbone tiny-deeplab · dominant labels · aggregation max"]
        elif args[-1] == "runs":
            needles = ["oreal(aggregation=mean)", fixture_run_id("toy", "oreal(aggregation=mean)", 1), "in progress"]
        elif "gini" in args:
            needles = ["Table 4 style: 1 − Gini of the final labeled set · backbone tiny-deeplab · dominant labels"]
        for needle in needles:
            assert _grep(result.stdout, needle), (args, needle, result.stdout)
        # notes go to stderr on lines of their own, never wrapped either
        if args[0] == "leaderboard":
            assert _grep(result.stderr, "† not averaged, incomplete: oreal seed 2 on toy: 2 of 3 rounds")


def test_run_summary_and_superpixel_stats_on_a_narrow_terminal(narrow, tmp_path, tiny_protocol_file):
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
            "oreal",
            "--seed",
            "0",
            "--set",
            "strategy.aggregation=mean",
        ],
    )
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "results").glob("*.parquet")
    assert _grep(result.stdout, "oreal(aggregation=mean) · toy(") and _grep(result.stdout, f"run {path.stem}")
    assert _grep(result.stdout, "query s")
    stats = runner.invoke(
        app,
        [
            "superpixels",
            "stats",
            "--set",
            "dataset.num_images=20",
            "--set",
            "dataset.image_size=32",
            "--set",
            "superpixels.n_segments=16",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert stats.exit_code == 0, stats.output
    assert _grep(stats.stdout, "dominant-label mIoU over the pool (%)")
    assert _grep(stats.stdout, "measured (paper convention: background out, absent = 1)")
