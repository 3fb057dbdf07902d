"""Weak (multi-class) labels, precise labels and the fully labeled reference (issue 5)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from albench_plugins.labeling.dominant import DominantLabeling
from albench_plugins.labeling.precise import PreciseLabeling
from albench_plugins.labeling.weak import PartialLabelStage, WeakLabeling, WeakParams, pseudo_labels, region_class_sets
from conftest import TINY_CONFIG
from hypothesis import given, settings
from hypothesis import strategies as st

from albench.components import RegionLabels
from albench.errors import ComponentError
from albench.run.protocol import ComponentChoice
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run

# A 2x3 image with three regions: region 0 holds classes 1 and 2, region 1 class 0 only, region 2 is void.
SUPERPIXELS = np.array([[0, 0, 1], [0, 2, 1]])
MASK = np.array([[1, 2, 0], [1, 255, 0]])
HISTOGRAM = np.array([[0, 2, 1], [2, 0, 0], [0, 0, 0]])
REGIONS = RegionLabels(SUPERPIXELS, MASK, HISTOGRAM, ignore_index=255)


def test_a_region_costs_one_click_per_class_present():
    weak = WeakLabeling(WeakParams())
    assert weak.region_cost(np.array([3, 1, 2])).tolist() == [3, 1, 2]
    assert weak.region_cost(np.array([0])).tolist() == [1]  # all void: the annotator still looked at it
    assert not weak.unit_cost


def test_class_sets_are_bitmasks_of_the_classes_present():
    assert region_class_sets(HISTOGRAM).tolist() == [0b110, 0b001, 0]


def test_partial_target_holds_class_sets_and_region_ids_of_labeled_pixels():
    target = PartialLabelStage(1.0).target(REGIONS, np.array([0, 2]), None)
    assert target.shape == (2, 2, 3)
    assert target[0].tolist() == [[0b110, 0b110, 0], [0b110, 0, 0]]
    assert target[1].tolist() == [[0, 0, -1], [0, -1, -1]]


def test_pseudo_labels_take_the_best_class_within_the_region_set():
    # class probabilities per pixel (C=3): pixel (0,0) prefers class 0, which region 0 does not contain
    probs = np.zeros((3, 2, 3))
    probs[:, 0, 0] = [0.7, 0.1, 0.2]  # restricted to {1, 2} → 2
    probs[:, 0, 1] = [0.1, 0.6, 0.3]  # → 1
    probs[:, 1, 0] = [0.5, 0.3, 0.2]  # → 1
    probs[:, 0, 2] = [0.1, 0.8, 0.1]  # region 1 = {0} → 0 whatever the model says
    probs[:, 1, 2] = [0.2, 0.2, 0.6]
    labels = pseudo_labels(REGIONS, np.array([0, 1]), probs)
    assert labels.tolist() == [[2, 1, 0], [1, 255, 0]]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_pseudo_labels_never_leave_the_region_class_set(seed):
    rng = np.random.default_rng(seed)
    superpixels = rng.integers(0, 6, size=(8, 9))
    mask = rng.integers(0, 4, size=(8, 9))
    mask[rng.random((8, 9)) < 0.1] = 255
    histogram = np.zeros((6, 4), dtype=np.int64)
    valid = mask < 4
    np.add.at(histogram, (superpixels[valid], mask[valid]), 1)
    regions = RegionLabels(superpixels, mask, histogram, 255)
    labeled = np.flatnonzero(rng.random(6) < 0.6)
    labels = pseudo_labels(regions, labeled, rng.dirichlet(np.ones(4), size=(8, 9)).transpose(2, 0, 1))
    for y, x in zip(*np.nonzero(labels != 255)):
        assert histogram[superpixels[y, x], labels[y, x]] > 0
        assert superpixels[y, x] in labeled


def test_single_class_regions_reduce_exactly_to_dominant_labels():
    rng = np.random.default_rng(0)
    superpixels = np.repeat(np.arange(4), 6).reshape(4, 6)  # one region per row
    mask = np.array([[0] * 6, [2] * 6, [1] * 3 + [255] * 3, [3] * 6])
    histogram = np.zeros((4, 4), dtype=np.int64)
    valid = mask < 4
    np.add.at(histogram, (superpixels[valid], mask[valid]), 1)
    regions = RegionLabels(superpixels, mask, histogram, 255)
    labeled = np.array([0, 2, 3])
    dominant = DominantLabeling(None).render_target(regions, labeled)
    probs = rng.dirichlet(np.ones(4), size=(4, 6)).transpose(2, 0, 1)
    assert np.array_equal(pseudo_labels(regions, labeled, probs), dominant)
    assert np.array_equal(WeakLabeling(WeakParams()).render_target(regions, labeled), dominant)


def test_precise_labels_keep_every_true_pixel_of_labeled_regions():
    target = PreciseLabeling(None).render_target(REGIONS, np.array([0]))
    assert target.tolist() == [[1, 2, 255], [1, 255, 255]]


def test_weak_labels_refuse_too_many_classes():
    with pytest.raises(ComponentError, match="labeling 'weak' supports at most 62 classes"):
        WeakLabeling(WeakParams()).stages(70)


def _weak_run(registry, tmp_path, name, strategy="oreal", labeling="weak"):
    config = dataclasses.replace(TINY_CONFIG, labeling=ComponentChoice(labeling))
    spec = resolve_run(registry, config, strategy, 0)
    return execute_run(spec, registry, RunOptions(tmp_path / name, tmp_path / f"{name}-cache"))


def test_weak_label_run_is_deterministic_and_records_both_stages(registry, tmp_path):
    first = _weak_run(registry, tmp_path, "a").table.to_pylist()
    second = _weak_run(registry, tmp_path, "b").table.to_pylist()
    for a, b in zip(first, second):
        assert a["stage_miou"] == b["stage_miou"] and a["confusion"] == b["confusion"]
        assert a["added_superpixel"] == b["added_superpixel"]
    for row in first:
        assert len(row["stage_miou"]) == 2 and row["miou"] == row["stage_miou"][1]
        assert row["clicks_round"] <= TINY_CONFIG.protocol.budget
    assert first[-1]["labeled_regions"] < 3 * TINY_CONFIG.protocol.budget  # multi-class regions cost more
    assert first[-1]["clicks_spent"] == sum(r["clicks_round"] for r in first)


def test_clicks_spent_are_the_classes_present_in_the_added_regions(registry, tmp_path):
    outcome = _weak_run(registry, tmp_path, "c", strategy="random")
    from albench.run.pool import Pool
    from albench.run.superpixel_cache import SuperpixelStore

    spec = outcome.spec
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    method = registry.create("superpixels", "slic", spec.superpixels.params).instance
    store = SuperpixelStore(tmp_path / "c-cache", dataset, method, spec.dataset, spec.superpixels)
    pool = Pool.build(store, dataset.split(0).pool)
    for row in outcome.table.to_pylist():
        ids = pool.global_ids(row["added_image"], row["added_superpixel"])
        assert row["clicks_round"] == int(np.maximum(pool.region_classes[ids], 1).sum())


def test_full_reference_labels_the_whole_pool_at_round_zero(registry, tmp_path):
    outcome = _weak_run(registry, tmp_path, "full", strategy="full", labeling="precise")
    rows = outcome.table.to_pylist()
    assert rows[0]["labeled_regions"] == rows[0]["pool_regions"] == rows[-1]["labeled_regions"]
    assert all(len(r["added_image"]) == 0 for r in rows[1:])
    assert not math.isnan(rows[-1]["miou"])
