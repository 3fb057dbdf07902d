"""A new user's path: a VOC-layout folder and a `folder`-layout folder, never seen before, run through
``albench run --dataset ... --data-root ...`` with tiny settings and ranked by ``albench leaderboard``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dataset_fixtures import write_folder, write_voc
from typer.testing import CliRunner

from albench.cli import app

runner = CliRunner()

TINY = [
    "protocol.steps=2",
    "protocol.batch_size=2",
    "protocol.eval_batch_size=4",
    "protocol.score_batch_size=4",
    "protocol.threads=1",
    "backbone.width=8",
    "superpixels.n_segments=16",
    "dataset.image_size=32",
]


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def _run(tmp_path: Path, dataset: str, root: Path, *args: str):
    settings = [item for setting in TINY for item in ("--set", setting)]
    return runner.invoke(
        app,
        [
            "run",
            "--dataset",
            dataset,
            "--data-root",
            str(root),
            "-s",
            "oreal",
            "-s",
            "random",
            "--rounds",
            "2",
            "--budget",
            "8",
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *settings,
            *args,
        ],
    )


def _leaderboard(results: Path) -> list[dict[str, str]]:
    result = runner.invoke(app, ["leaderboard", "-r", str(results), "--format", "csv"])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_voc_layout_end_to_end(tmp_path):
    root = write_voc(
        tmp_path / "voc", [f"2007_{i:06d}" for i in range(8)], ["2008_000001", "2008_000002"]
    ).parent.parent
    result = _run(tmp_path, "pascal-voc", root)
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "results").glob("*.parquet"))
    assert len(files) == 2
    table = pq.read_table(files[0])
    rows = table.to_pylist()
    assert [r["round"] for r in rows] == [0, 1] and rows[0]["dataset"] == "pascal-voc"
    assert rows[0]["num_classes"] == 21 and rows[0]["background_class"] == 0
    split = json.loads(table.schema.metadata[b"albench.split"])
    assert split["evaluation"] == ["2008_000001", "2008_000002"]  # the official val set is the test set
    assert json.loads(rows[0]["dataset_params"])["image_size"] == 32
    ranking = _leaderboard(tmp_path / "results")
    assert {r["strategy_label"] for r in ranking} == {"oreal", "random"} and [r["rank"] for r in ranking] == ["1", "2"]


def test_folder_layout_end_to_end(tmp_path):
    root = write_folder(
        tmp_path / "mine",
        ("background", "tool", "organ"),
        {"train": [f"video{v}/frame{f}" for v in range(6) for f in range(2)], "test": ["t0", "t1"]},
        settings='background = "background"\n',
    )
    result = _run(tmp_path, "folder", root)
    assert result.exit_code == 0, result.output
    rows = pq.read_table(next((tmp_path / "results").glob("*.parquet"))).to_pylist()
    assert rows[0]["class_names"] == ["background", "tool", "organ"] and rows[0]["background_class"] == 0
    assert {r["strategy_label"] for r in _leaderboard(tmp_path / "results")} == {"oreal", "random"}


def test_broken_data_gives_one_line_naming_the_file(tmp_path):
    root = write_folder(tmp_path / "mine", ("background", "tool"), {"train": [f"img{i}" for i in range(6)]})
    (root / "masks" / "train" / "img3.png").unlink()
    result = _run(tmp_path, "folder", root)
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert f"has no mask: expected {root / 'masks' / 'train' / 'img3.png'}" in message, result.stderr
    assert "Traceback" not in result.output


def test_missing_data_root_says_how_to_pass_it(tmp_path):
    result = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            "cityscapes",
            "-s",
            "random",
            "-r",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 1
    assert "dataset 'cityscapes' reads files from disk: pass --data-root DIR" in " ".join(result.stderr.split())
