"""Training that converges, visibly: per-round convergence columns, the run's output, the leaderboard mark,
and the class-weighted loss (issue #13)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import TINY_CONFIG
from torch import nn

from albench.cli._tables import records
from albench.losses import class_weights, dense_loss
from albench.results.leaderboard import leaderboard, parse_metric
from albench.results.runs import load_runs
from albench.results.store import SCHEMA, read_results
from albench.results.tables import cell_suffix, cell_text
from albench.run.progress import NullProgress
from albench.run.runner import RunOptions, _distributions, _instantiate, _Run, execute_run
from albench.run.spec import resolve_run
from albench.run.training import (
    EarlyStopping,
    LabeledImages,
    StageModel,
    TrainingReport,
    convergence_columns,
    describe_training,
    train_round,
)

FIXTURES = Path(__file__).parent / "fixtures"


# ------------------------------------------------------------------ what a round's training report says


def test_a_round_stopped_by_patience_converged_one_stopped_by_the_cap_did_not():
    stopped = TrainingReport(steps=300, stop="patience", val_steps=(100, 200, 300), val_scores=(0.4, 0.5, 0.45))
    capped = TrainingReport(steps=300, stop="step-cap", val_steps=(100, 200, 300), val_scores=(0.4, 0.5, 0.6))
    blind = TrainingReport(steps=250, stop="step-cap")
    assert stopped.converged is True and stopped.best == 0.5 and stopped.best_step == 200 and stopped.last == 0.45
    assert capped.converged is False and capped.best_step == 300
    assert blind.converged is None and blind.best is None
    assert convergence_columns([stopped, capped]) == {
        "converged": False,
        "train_stop": ["patience", "step-cap"],
        "train_steps": [300, 300],
        "val_best": [0.5, 0.6],
        "val_best_step": [200, 300],
        "val_last": [0.45, 0.6],
    }
    assert convergence_columns([stopped])["converged"] is True
    assert convergence_columns([stopped, blind])["converged"] is None


def test_the_run_output_says_whether_training_converged_and_why_it_stopped():
    stopped = TrainingReport(steps=300, stop="patience", val_steps=(100, 200, 300), val_scores=(0.4, 0.5, 0.45))
    capped = TrainingReport(steps=300, stop="step-cap", val_steps=(100, 200, 300), val_scores=(0.4, 0.5, 0.6))
    assert describe_training([stopped]) == "converged: stopped at step 300, validation mIoU best 50.0 at step 200"
    assert describe_training([capped]) == (
        "NOT converged: the 300-step cap ended training with validation mIoU 60.0 (best 60.0 at step 300)"
    )
    assert describe_training([TrainingReport(steps=250, stop="step-cap")]) == (
        "trained 250 steps, convergence unknown (no validation: set protocol.patience)"
    )
    assert describe_training([stopped, capped], ["partial", "pseudo"]).startswith("partial: converged")


def test_early_stopping_keeps_the_validation_curve():
    stage = StageModel(nn.Linear(1, 1, bias=False), ema_decay=None)
    scores = iter([0.1, 0.3, 0.2])
    stopper = EarlyStopping(stage, lambda model: next(scores), patience=5)
    for _ in range(3):
        stopper.check()
    assert stopper.scores == [0.1, 0.3, 0.2]


def test_a_run_records_convergence_per_round(registry, tmp_path):
    # patience 1, a check every 2 steps, a cap of 6 steps: each round stops early or at the cap, and says which
    protocol = TINY_CONFIG.protocol.replace(steps=6, patience=1, eval_every=2)
    spec = resolve_run(registry, dataclasses.replace(TINY_CONFIG, protocol=protocol), "random", 0)
    logged: list[str] = []

    class Recorder(NullProgress):
        def log(self, message: str) -> None:
            logged.append(message)

    table = execute_run(spec, registry, RunOptions(tmp_path / "r", tmp_path / "c"), progress=Recorder()).table
    for row in table.to_pylist():
        (stop,) = row["train_stop"]
        (steps,) = row["train_steps"]
        assert stop in ("patience", "step-cap") and row["converged"] == (stop == "patience")
        assert steps == 6 or stop == "patience"
        assert row["val_best"][0] >= row["val_last"][0] and row["val_best_step"][0] % 2 == 0
    assert sum("converged: stopped at step" in m or "NOT converged" in m for m in logged) == table.num_rows


CONVERGENCE_COLUMNS = ("converged", "train_stop", "train_steps", "val_best", "val_best_step", "val_last")


def test_results_files_without_the_convergence_columns_read_as_null(tmp_path):
    # A file as albench wrote it before these columns (and before checksums): a fixture without them.
    fixture = next((FIXTURES / "runs").glob("*.parquet"))
    table = pq.read_table(fixture).drop_columns(list(CONVERGENCE_COLUMNS))
    metadata = {k: v for k, v in table.schema.metadata.items() if k != b"albench.checksum"}
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / fixture.name)
    assert "converged" not in pq.read_schema(tmp_path / fixture.name).names
    table = read_results(tmp_path).table
    assert table.schema == SCHEMA
    assert set(table.column("converged").to_pylist()) == {None}
    assert set(map(str, table.column("train_stop").to_pylist())) == {"None"}


# ------------------------------------------------------------------ the leaderboard's mark


def test_the_leaderboard_marks_cells_with_unconverged_rounds():
    runs = load_runs(FIXTURES / "runs").runs
    assert all(r.unconverged_rounds == 0 for r in runs)  # older files: nothing known, nothing marked
    target = next(r for r in runs if (r.dataset, r.strategy_label, r.seed) == ("toy", "oreal", 0))
    marked = replace(target, converged=(True, False, None))
    grids = leaderboard([marked if r is target else r for r in runs], parse_metric("aualc"))
    grid = next(g for g in grids if any(c.fields.get("dataset") == "toy" for c in g.columns))
    (column,) = [c for c in grid.columns if c.fields.get("dataset") == "toy"]
    cell = grid.cell("oreal (max)", column.key)
    assert cell.unconverged == 1 and cell.mean == pytest.approx(51.25)  # still averaged
    assert grid.cell("random", column.key).unconverged == 0
    assert any(n.startswith("‡ averaged, but training did not converge in 1 of 3 rounds") for n in grid.notes)
    record = next(r for r in records([grid]) if r["strategy"] == "oreal (max)" and r["column"] == column.header)
    assert record["unconverged_runs"] == 1
    assert not cell_text(cell, 2).endswith("‡")  # the mark is the cell's suffix, as every format renders it
    assert cell_suffix(cell, False).endswith(" ‡") and "‡" not in cell_suffix(grid.cell("random", column.key), False)


# ------------------------------------------------------------------ the class-weighted loss


def test_class_weights_by_hand():
    # n = [4, 1, 0]: f = [.8, .2, 0]. inverse-sqrt: w ∝ f^(−1/2), w1 = 2·w0; Σ f·w = .8·w0 + .2·2·w0 = 1 → w0 = 5/6
    assert class_weights(np.array([4, 1, 0]), "inverse-sqrt") == pytest.approx([5 / 6, 5 / 3, 0.0])
    # inverse: f·w the same for every class present: .5 each → w = [.5/.8, .5/.2] = [.625, 2.5]
    assert class_weights(np.array([4, 1, 0]), "inverse") == pytest.approx([0.625, 2.5, 0.0])
    assert class_weights(np.array([4, 1, 0]), "none").tolist() == [1.0, 1.0, 1.0]
    assert class_weights(np.zeros(3), "inverse-sqrt").tolist() == [1.0, 1.0, 1.0]


def test_weighted_dense_loss_by_hand():
    # two classes, zero logits: −log p = ln 2 at every pixel; targets 0, 0, 1 and one ignored pixel
    logits = torch.zeros(1, 2, 1, 4)
    target = torch.tensor([[[0, 0, 1, 255]]])
    assert dense_loss(logits, target, 255).item() == pytest.approx(math.log(2))
    # weights (1, 4): (ln2 + ln2 + 4·ln2) / 3 = 2·ln2
    weighted = dense_loss(logits, target, 255, class_weights=torch.tensor([1.0, 4.0]))
    assert weighted.item() == pytest.approx(2 * math.log(2))


def test_training_weighs_the_loss_by_the_labeled_pixels_classes(registry, tmp_path):
    protocol = TINY_CONFIG.protocol.replace(class_weights="inverse-sqrt", steps=2)
    spec = resolve_run(registry, dataclasses.replace(TINY_CONFIG, protocol=protocol), "random", 0)
    run = _Run(
        spec,
        _instantiate(registry, spec, None),
        RunOptions(tmp_path / "r", tmp_path / "c"),
        NullProgress(),
        distributions=_distributions(registry, spec),
    )
    run.pool.mark_labeled(run.query(0))
    items = [(run.split.pool[i], local) for i, local in run.pool.labeled_by_image().items()]
    stage = run.stages[0]
    data = LabeledImages(run.parts.dataset, run.store, stage, items, augment=False)
    counts = data.class_pixel_counts(run.parts.dataset.num_classes)
    by_hand = sum(
        np.bincount(t[t != run.parts.dataset.ignore_index], minlength=len(counts))
        for t in (data.target(image_id, labeled) for image_id, labeled in items)
    )
    assert counts.tolist() == by_hand.tolist() and counts.sum() > 0
    seen = []
    loss = stage.loss

    def recording_loss(*args, **kwargs):
        seen.append(kwargs.get("class_weights"))
        return loss(*args, **kwargs)

    stage.loss = recording_loss
    train_round(
        run.models[0],
        data,
        protocol,
        seed=1,
        device=torch.device("cpu"),
        progress=NullProgress(),
        description="train",
    )
    assert len(seen) == 2 and seen[0].tolist() == pytest.approx(class_weights(counts, "inverse-sqrt").tolist())
    assert '"class_weights": "inverse-sqrt"' in json.dumps(dataclasses.asdict(spec.protocol))
    assert spec.protocol_hash != resolve_run(registry, TINY_CONFIG, "random", 0).protocol_hash


def test_the_run_command_prints_convergence_per_round(tmp_path, tiny_protocol_file, monkeypatch):
    from typer.testing import CliRunner

    from albench.cli import app

    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--protocol",
            str(tiny_protocol_file),
            "-s",
            "random",
            "-r",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
            "--set",
            "protocol.patience=1",
            "--set",
            "protocol.eval_every=2",
            "--set",
            "protocol.steps=4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "converged" in result.stdout  # the summary's column
    lines = [line for line in result.stderr.splitlines() if "random seed 0 round" in line]
    assert len(lines) == 3 and all("converged: stopped at step" in m or "NOT converged" in m for m in lines)
    # without validation nothing is known, and the summary says so
    plain = CliRunner().invoke(
        app,
        [
            "run",
            "--protocol",
            str(tiny_protocol_file),
            "-s",
            "random",
            "-r",
            str(tmp_path / "p"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert plain.exit_code == 0 and "convergence unknown" in plain.stderr
