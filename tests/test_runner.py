"""The runner: determinism, identical round 0, resuming, skipping, and bad input leaving nothing behind."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import TINY_CONFIG

import albench
from albench import Strategy, hookimpl
from albench.errors import ProtocolError, SelectionError
from albench.host.registry import load_registry
from albench.results.store import ENVIRONMENT_COLUMNS
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run

IDENTITY_COLUMNS = {"run_id", "strategy", "strategy_params", "strategy_version", "strategy_label", "aggregation"}


def _nan_safe(value):
    """NaN != NaN, so compare NaNs by name."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, list):
        return [_nan_safe(v) for v in value]
    return value


def _values(table, drop=()):
    """The table's computed columns as Python values (timings and environment left out)."""
    keep = [c for c in table.column_names if c not in ENVIRONMENT_COLUMNS and c not in drop]
    return [{k: _nan_safe(v) for k, v in row.items()} for row in table.select(keep).to_pylist()]


def _run(registry, options, strategy="oreal", seed=0, config=TINY_CONFIG):
    return execute_run(resolve_run(registry, config, strategy, seed), registry, options)


def test_same_run_twice_gives_identical_values(registry, tmp_path):
    first = _run(registry, RunOptions(tmp_path / "a", tmp_path / "cache-a"))
    second = _run(registry, RunOptions(tmp_path / "b", tmp_path / "cache-b"))
    assert first.spec.run_id == second.spec.run_id
    assert _values(first.table) == _values(second.table)
    assert len(first.table) == TINY_CONFIG.protocol.rounds


def test_random_and_oreal_share_round_zero(registry, options):
    oreal = _values(_run(registry, options, "oreal").table, drop=IDENTITY_COLUMNS)
    random = _values(_run(registry, options, "random").table, drop=IDENTITY_COLUMNS)
    assert oreal[0] == random[0]
    assert oreal[1]["added_superpixel"] != random[1]["added_superpixel"]


def test_rows_record_the_labeled_set_and_the_confusion_matrix(registry, options):
    table = _run(registry, options).table
    rows = table.to_pylist()
    budget = TINY_CONFIG.protocol.budget
    assert [r["labeled_regions"] for r in rows] == [budget, 2 * budget, 3 * budget]
    assert [r["clicks_spent"] for r in rows] == [budget, 2 * budget, 3 * budget]
    assert all(len(r["added_image"]) == budget for r in rows)
    for row in rows:
        c = row["num_classes"]
        assert len(row["confusion"]) == c * c and sum(row["labeled_per_class"]) <= row["labeled_regions"]
        assert row["class_names"][0] == "background" and row["background_class"] == 0
    added = {(i, s) for r in rows for i, s in zip(r["added_image"], r["added_superpixel"])}
    assert len(added) == 3 * budget  # no region labeled twice


def test_existing_results_are_skipped_unless_forced(registry, options):
    first = _run(registry, options)
    assert first.status == "completed"
    assert _run(registry, options).status == "skipped"
    forced = execute_run(first.spec, registry, dataclasses.replace(options, force=True))
    assert forced.status == "completed"
    assert _values(forced.table) == _values(first.table)


def test_budget_larger_than_the_pool_fails_before_training_and_writes_nothing(registry, options):
    config = dataclasses.replace(TINY_CONFIG, protocol=TINY_CONFIG.protocol.replace(budget=100000))
    with pytest.raises(
        ProtocolError,
        match=r"budget 100000 × 3 rounds needs 300000 regions, but the pool of dataset 'toy' has only \d+ superpixels",
    ):
        _run(registry, options, config=config)
    assert not list(options.results_dir.rglob("*.parquet")) and not list(options.results_dir.rglob("*.pt"))


class RelabelingStrategy(Strategy):
    """Breaks the rules: returns a region that is already labeled."""

    name = "relabeler"

    def select(self, context):
        return np.flatnonzero(context.labeled)[:1]


class CrashOnce(Strategy):
    """Random, except that it dies once in round 2 (a crash that is not albench's error)."""

    name = "crash-once"
    crashes_left = 0

    def select(self, context):
        if context.round == 1 and CrashOnce.crashes_left:
            CrashOnce.crashes_left -= 1
            raise RuntimeError("simulated crash")
        return context.generator.choice(context.unlabeled_ids(), size=context.budget, replace=False)


class TestPlugin:
    @hookimpl
    def register_strategies(self, register):
        register(RelabelingStrategy)
        register(CrashOnce)


@pytest.fixture
def test_registry():
    return load_registry(entry_points=False, extra=(TestPlugin(),))


def test_strategy_returning_a_labeled_region_is_named_and_leaves_nothing(test_registry, options):
    with pytest.raises(SelectionError, match=r"strategy 'relabeler' returned region \d+, which is already labeled"):
        _run(test_registry, options, "relabeler")
    assert not list(options.results_dir.rglob("*.parquet")) and not list(options.results_dir.rglob("*.pt"))


def test_a_crashed_run_resumes_after_its_last_complete_round(test_registry, options, tmp_path):
    CrashOnce.crashes_left = 1
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(test_registry, options, "crash-once")
    assert not list(options.results_dir.glob("*.parquet"))
    (checkpoint,) = (options.results_dir / ".partial").glob("*.pt")
    resumed = _run(test_registry, options, "crash-once")
    assert resumed.status == "resumed" and not checkpoint.exists()
    uninterrupted = _run(test_registry, RunOptions(tmp_path / "clean", tmp_path / "clean-cache"), "crash-once")
    assert _values(resumed.table) == _values(uninterrupted.table)


def test_a_checkpoint_from_before_the_distribution_columns_resumes(test_registry, options, tmp_path):
    from albench.run.checkpoint import load_checkpoint, save_checkpoint

    CrashOnce.crashes_left = 1
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(test_registry, options, "crash-once")
    (path,) = (options.results_dir / ".partial").glob("*.pt")
    payload = torch.load(path, weights_only=True)
    old = load_checkpoint(path, payload["spec"])
    for row in old.rows:
        for kind in ("dataset", "backbone", "superpixels", "labeling", "strategy"):
            del row[f"{kind}_distribution"]
    save_checkpoint(path, old)
    resumed = _run(test_registry, options, "crash-once")
    assert resumed.status == "resumed"
    assert set(resumed.table.column("dataset_distribution").to_pylist()) == {f"albench {albench.__version__}"}


def test_results_file_carries_the_spec_and_split(registry, options):
    from albench.results.store import file_metadata

    outcome = _run(registry, options)
    metadata = file_metadata(outcome.path)
    assert metadata["spec"] == outcome.spec.canonical()
    assert len(metadata["split"]["pool"]) == pq.read_table(outcome.path).column("pool_images")[0].as_py()


def test_rows_record_the_pools_dominant_label_quality(registry, options):
    from albench.run.label_quality import label_quality
    from albench.run.superpixel_cache import SuperpixelStore

    outcome = _run(registry, options)
    spec = outcome.spec
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    method = registry.create("superpixels", "slic", spec.superpixels.params).instance
    store = SuperpixelStore(options.cache_dir, dataset, method, spec.dataset, spec.superpixels)
    expected = label_quality(store, list(dataset.split(0).pool)).miou("standard")
    assert outcome.table.column("label_quality").to_pylist() == [expected] * TINY_CONFIG.protocol.rounds
    assert 0.0 < expected < 1.0
