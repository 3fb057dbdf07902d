"""The context-sampling oracles: foreground picks with probability p, context = touching background regions."""

import numpy as np
import pytest
from albench_plugins.strategies.context_sampling import (
    ForegroundContextOracle,
    ForegroundContextParams,
    ForegroundOracle,
    ForegroundParams,
)

from albench.errors import ComponentError, ParameterError
from albench.params import resolve_params
from albench.testing import selection_context

# Background 0, void 255. Region 6 is labeled. Unlabeled foreground: 1 (class 1), 3 (class 2).
# Unlabeled others: 0, 2, 4, 7 (background) and 5 (void).
TRUTH = [0, 1, 0, 2, 0, 255, 1, 0]
EDGES = [(1, 0), (1, 2), (1, 3), (3, 4), (3, 5), (6, 7)]


def oracle_context(budget, seed=0, background=0, truth=TRUTH, costs=None):
    return selection_context(
        num_regions=8,
        num_classes=3,
        budget=budget,
        labeled=[6],
        labeled_classes=[1],
        ground_truth=truth,
        background_class=background,
        edges=EDGES,
        seed=seed,
        costs=costs,
    )


def foreground(p=0.9):
    return ForegroundOracle(ForegroundParams(foreground_probability=p))


def with_context(p=0.9, per_region=None):
    return ForegroundContextOracle(ForegroundContextParams(foreground_probability=p, context_per_region=per_region))


@pytest.mark.parametrize("seed", range(5))
def test_foreground_with_p_one_takes_all_foreground_first(seed):
    selected = foreground(1.0).select(oracle_context(4, seed)).tolist()
    assert set(selected[:2]) == {1, 3} and set(selected[2:]) <= {0, 2, 4, 5, 7} and len(selected) == 4


@pytest.mark.parametrize("seed", range(5))
def test_foreground_with_p_zero_takes_foreground_only_when_the_rest_runs_out(seed):
    selected = foreground(0.0).select(oracle_context(6, seed)).tolist()
    assert set(selected[:5]) == {0, 2, 4, 5, 7} and selected[5] in (1, 3)


def test_foreground_probability_sets_the_share_of_foreground_picks():
    rng = np.random.default_rng(1)
    truth = rng.choice([0, 1, 2], size=2000, p=[0.5, 0.25, 0.25])
    context = selection_context(num_regions=2000, num_classes=3, budget=400, ground_truth=truth, background_class=0)
    selected = foreground(0.8).select(context)
    share = np.mean(truth[selected] != 0)
    assert 0.74 < share < 0.86  # 400 Bernoulli(0.8) draws: 0.8 ± 3 standard deviations (0.02 each)


@pytest.mark.parametrize("seed", range(5))
def test_foreground_context_follows_each_foreground_pick_with_its_background_neighbours(seed):
    selected = with_context(1.0).select(oracle_context(6, seed)).tolist()
    # region 1 touches background 0 and 2 (3 is foreground); region 3 touches background 4 (5 is void)
    blocks = {1: {0, 2}, 3: {4}}
    first = selected[0]
    assert first in blocks
    size = len(blocks[first])
    assert set(selected[1 : 1 + size]) == blocks[first]
    second = selected[1 + size]
    assert second == ({1, 3} - {first}).pop()
    assert set(selected[2 + size : 2 + size + len(blocks[second])]) == blocks[second]
    assert selected[-1] in (5, 7)  # then the other regions (void 5, background 7 that touches no pick)


def test_foreground_context_caps_the_context_per_region():
    selected = with_context(1.0, per_region=1).select(oracle_context(4, seed=0)).tolist()
    blocks = {1: {0, 2}, 3: {4}}
    assert selected[0] in blocks and selected[1] in blocks[selected[0]] and selected[2] in blocks
    no_context = with_context(1.0, per_region=0).select(oracle_context(2, seed=0)).tolist()
    assert set(no_context) == {1, 3}


def test_oracles_spend_the_click_budget():
    costs = [1, 2, 1, 2, 1, 0, 1, 1]
    for strategy in (foreground(1.0), with_context(1.0)):
        selected = strategy.select(oracle_context(3, costs=costs))
        assert np.asarray(costs)[selected].sum() <= 3 and 6 not in selected.tolist()


def test_oracles_need_a_background_class_and_the_ground_truth():
    with pytest.raises(
        ComponentError,
        match=r"strategy 'foreground' separates foreground from background, but the "
        r"dataset declares no background class",
    ):
        foreground().select(oracle_context(2, background=None))
    no_truth = selection_context(num_regions=3, num_classes=2, budget=1, background_class=0)
    with pytest.raises(
        ComponentError,
        match=r"strategy 'foreground-context' reads the ground truth, but the "
        r"selection context carries none",
    ):
        with_context().select(no_truth)


def test_oracle_parameters_are_checked():
    with pytest.raises(ParameterError, match=r"parameter 'foreground_probability' must be in \[0, 1\], got 1.5"):
        resolve_params(ForegroundParams, {"foreground_probability": "1.5"}, owner="strategy 'foreground'")
    with pytest.raises(ParameterError, match=r"parameter 'context_per_region' must be at least 0, got -1"):
        resolve_params(ForegroundContextParams, {"context_per_region": "-1"}, owner="strategy 'foreground-context'")
    assert resolve_params(ForegroundContextParams, {"context_per_region": "none"}, owner="x").context_per_region is None


def test_oracles_declare_that_they_read_the_ground_truth():
    assert ForegroundOracle.uses_ground_truth and ForegroundContextOracle.uses_ground_truth
    assert foreground().statistics(3) == ()
