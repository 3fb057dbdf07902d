"""The command line end to end: run, leaderboard (every format), plugins, and the error messages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from albench.cli import app
from albench.cli.run import parse_seeds, parse_settings
from albench.errors import ParameterError

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def _run(tmp_path: Path, protocol: Path, *args: str):
    return runner.invoke(
        app,
        [
            "run",
            "--protocol",
            str(protocol),
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *args,
        ],
    )


@pytest.fixture
def results(tmp_path: Path, tiny_protocol_file: Path) -> Path:
    """Two strategies × two seeds of the tiny benchmark, run through the CLI."""
    result = _run(tmp_path, tiny_protocol_file, "-s", "oreal", "-s", "random", "--seed", "0-1")
    assert result.exit_code == 0, result.output
    return tmp_path / "results"


def test_run_writes_one_file_per_run_and_prints_a_round_summary(results: Path, tmp_path, tiny_protocol_file):
    files = sorted(results.glob("*.parquet"))
    assert len(files) == 4
    again = _run(tmp_path, tiny_protocol_file, "-s", "oreal", "--seed", "0")
    assert again.exit_code == 0
    assert "skipped: results exist" in again.stderr
    assert "round" in again.stdout and "mIoU" in again.stdout


def _by_hand(results: Path) -> dict[str, float]:
    """Mean AuALC per strategy, recomputed from the Parquet rows with the trapezoid rule."""
    per_strategy: dict[str, list[float]] = {}
    for path in results.glob("*.parquet"):
        rows = sorted(pq.read_table(path).to_pylist(), key=lambda r: r["round"])
        miou = [100 * r["miou"] for r in rows]
        area = sum((a + b) / 2 for a, b in zip(miou, miou[1:])) / (len(miou) - 1)
        per_strategy.setdefault(rows[0]["strategy"], []).append(area)
    return {s: sum(v) / len(v) for s, v in per_strategy.items()}


def test_leaderboard_csv_and_json_agree_with_a_hand_recomputation(results: Path):
    expected = _by_hand(results)
    csv_result = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "csv"])
    assert csv_result.exit_code == 0, csv_result.output
    rows = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    # one table with the aggregation in the label (oreal aggregates by max; random has none), one column
    # (toy), no Average
    assert {(r["strategy"], r["aggregation"], r["column"]) for r in rows} == {
        ("oreal (max)", "max", "toy"),
        ("random", "", "toy"),
    }
    for row in rows:
        assert float(row["mean"]) == pytest.approx(expected[row["strategy_label"]], abs=1e-3)
        assert row["n"] == "2" and row["seeds"] == "0 1" and row["incomplete_runs"] == "0"
        assert row["metric"] == "aualc"
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert float(rows[0]["mean"]) >= float(rows[1]["mean"])
    assert rows[0]["bold"] == "true"  # best (ties share the mark: the tiny runs may all score 0)
    json_result = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "json"])
    assert json.loads(json_result.stdout)["records"] == [_typed(r) for r in rows]


def _typed(row: dict[str, str]) -> dict[str, object]:
    """The CSV strings as the JSON types."""
    typed: dict[str, object] = {}
    for key, value in row.items():
        if key in ("rank", "n", "incomplete_runs", "unconverged_runs"):
            typed[key] = int(value)
        elif key in ("mean", "std"):
            typed[key] = float(value) if value else None
        elif key in ("bold", "underline"):
            typed[key] = value == "true"
        else:
            typed[key] = None if value == "" else value
    return typed


def test_leaderboard_markdown_and_table(results: Path):
    markdown = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "markdown"])
    assert markdown.exit_code == 0
    lines = markdown.stdout.splitlines()
    assert lines[0] == "### AuALC (%) · backbone tiny-deeplab · dominant labels"
    assert lines[2] == "| strategy | toy |"
    assert lines[4].startswith("| oreal (max) | ") or lines[4].startswith("| random | ")
    assert lines[4].split(" | ")[1].startswith("**")  # the best is bold
    table = runner.invoke(app, ["leaderboard", "-r", str(results)])
    assert table.exit_code == 0 and "oreal" in table.stdout and "random" in table.stdout


def test_plugins_lists_every_builtin_component():
    result = runner.invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0
    components = json.loads(result.stdout)["components"]
    names = {(c["kind"], c["name"]) for c in components}
    assert names >= {
        ("dataset", "toy"),
        ("backbone", "tiny-deeplab"),
        ("superpixels", "slic"),
        ("labeling", "dominant"),
        ("labeling", "weak"),
        ("labeling", "precise"),
        ("strategy", "oreal"),
        ("strategy", "random"),
        ("strategy", "full"),
    }
    assert {c["distribution"] for c in components} == {"albench"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "orel"], "unknown strategy 'orel'. Did you mean 'oreal'?"),
        (["-s", "oreal", "--dataset", "voc"], "unknown dataset 'voc'."),
        (
            ["-s", "oreal", "--set", "strategy.aggregation=median"],
            "strategy 'oreal': parameter 'aggregation' must be 'max' | 'mean' | 'p95', got 'median'",
        ),
        (["-s", "oreal", "--set", "strategy.lambda=2"], "no chosen strategy (oreal) has a parameter 'lambda'"),
        (
            ["-s", "oreal", "-s", "random", "--set", "strategy.agregation=mean"],
            "has a parameter 'agregation'. Did you mean 'aggregation'?",
        ),
        (["-s", "oreal(aggregation=median)"], "parameter 'aggregation' must be 'max' | 'mean' | 'p95', got 'median'"),
        (["-s", "oreal(aggregation)"], "'aggregation' is not PARAM=VALUE"),
        (["-s", "oreal", "--set", "model.depth=3"], "unknown kind 'model'"),
        (["-s", "oreal", "--set", "aggregation"], "expected KIND.PARAMETER=VALUE"),
        (["-s", "oreal", "--seed", "x"], "--seed 'x': expected an integer"),
        (["-s", "oreal", "--budget", "100000"], "but the pool of dataset 'toy' has only"),
        (["-s", "oreal", "--device", "cuda:7"], "device 'cuda:7' requested"),
        ([], "pass at least one --strategy"),
    ],
)
def test_run_errors_are_one_clear_line_and_write_nothing(tmp_path, tiny_protocol_file, args, message):
    result = _run(tmp_path, tiny_protocol_file, *args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    assert not list((tmp_path / "results").rglob("*.parquet"))


def test_leaderboard_of_a_missing_directory(tmp_path):
    result = runner.invoke(app, ["leaderboard", "-r", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "results directory" in result.stderr and "does not exist" in result.stderr


def test_leaderboard_sets_an_unreadable_results_file_aside(tmp_path):
    (tmp_path / "broken.parquet").write_text("not parquet")
    result = runner.invoke(app, ["leaderboard", "-r", str(tmp_path)])
    message = " ".join(result.stderr.split())
    assert f"set aside {tmp_path / 'broken.parquet'}: not readable Parquet" in message, message
    assert f"moved to {tmp_path / '.quarantine' / 'broken.parquet'}" in message
    assert "Traceback" not in result.output and not (tmp_path / "broken.parquet").exists()


def test_seed_and_setting_parsers():
    assert parse_seeds(["0", "2-4", "7,9", "3"]) == (0, 2, 3, 4, 7, 9)
    assert parse_settings(["strategy.aggregation=mean", "protocol.steps=5"]) == {
        "strategy": {"aggregation": "mean"},
        "protocol": {"steps": "5"},
    }
    with pytest.raises(ParameterError, match="the range ends before it starts"):
        parse_seeds(["4-2"])


def test_leaderboard_reads_files_from_before_a_column_was_added(results: Path):
    path = next(results.glob("*.parquet"))
    table = pq.read_table(path)
    # As an albench from before that column (and before checksums) wrote it.
    footer = {k: v for k, v in table.schema.metadata.items() if k != b"albench.checksum"}
    pq.write_table(table.drop_columns(["aggregation"]).replace_schema_metadata(footer), path)
    result = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 2
    assert "set aside" not in result.stderr and not (results / ".quarantine").exists()


def test_leaderboard_skips_a_parquet_file_that_is_not_albench_results(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"x": [1]}), tmp_path / "other.parquet")
    result = runner.invoke(app, ["leaderboard", "-r", str(tmp_path)])
    message = " ".join(result.stderr.split())
    assert f"skipped {tmp_path / 'other.parquet'}: not an albench results file (no run_id," in message, message
    assert (tmp_path / "other.parquet").exists() and not (tmp_path / ".quarantine").exists()
