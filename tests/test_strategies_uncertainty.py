"""Entropy and BvSB: the pixel scores, the engine's per-superpixel numbers, and the selection, all by hand."""

import math

import numpy as np
import pytest
import torch
from albench_plugins.strategies.bvsb import BvsbParams, BvsbStrategy
from albench_plugins.strategies.entropy import EntropyParams, EntropyStrategy

from albench.engine.scoring import ScoreAccumulator
from albench.testing import selection_context
from albench.uncertainty import (
    BvsbMargin,
    BvsbRatio,
    PredictedClass,
    Probabilities,
    ShannonEntropy,
    bvsb_ratio,
    tempered,
)

# One 1×4 image, three classes, superpixels [0, 0, 1, 1]. Per pixel, by hand:
#   p                   u = p(2)/p(1)   H = −Σ p ln p
#   [0.5, 0.3, 0.2]     0.6             0.5·0.693147 + 0.3·1.203973 + 0.2·1.609438 = 1.029653
#   [0.8, 0.1, 0.1]     0.125           0.8·0.223144 + 2·0.1·2.302585             = 0.639032
#   [0.1, 0.7, 0.2]     2/7 = 0.285714  0.1·2.302585 + 0.7·0.356675 + 0.2·1.609438 = 0.801819
#   [0.4, 0.4, 0.2]     1.0             2·0.4·0.916291 + 0.2·1.609438             = 1.054920
PIXELS = [[0.5, 0.3, 0.2], [0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.4, 0.4, 0.2]]


def tiny_map():
    probs = torch.tensor(PIXELS, dtype=torch.float32).T.reshape(1, 3, 1, 4)
    superpixels = torch.tensor([[[0, 0, 1, 1]]])
    return probs, superpixels


def engine_stats(strategy, num_classes=3):
    """The strategy's statistics on the tiny map, with the second pass when it declares one (as the runner)."""
    probs, superpixels = tiny_map()
    accumulator = ScoreAccumulator(strategy.statistics(num_classes), num_classes)
    accumulator.add(probs, superpixels, [2])
    region_stats, pool_stats = accumulator.region_results(), accumulator.pool_results()
    second_pass = strategy.second_pass(num_classes, pool_stats)
    if second_pass:
        again = ScoreAccumulator(second_pass, num_classes)
        again.add(probs, superpixels, [2])
        region_stats = {**region_stats, **again.region_results()}
    return region_stats, pool_stats


def test_bvsb_ratio_and_margin_hand_computed():
    probs = torch.tensor(PIXELS, dtype=torch.float64)
    assert bvsb_ratio(probs).tolist() == pytest.approx([0.6, 0.125, 2 / 7, 1.0])
    # margin p(1) − p(2): 0.2, 0.7, 0.5, 0 → uncertainty 1 − margin
    assert BvsbMargin().compute(probs)[:, 0].tolist() == pytest.approx([0.8, 0.3, 0.5, 1.0])


def test_temperature_sharpens_the_softmax_exactly():
    # softmax(z/T) ∝ p^(1/T): at T = 0.5, [0.5, 0.3, 0.2] → [0.25, 0.09, 0.04] / 0.38
    p = torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64)
    assert tempered(p, 0.5)[0].tolist() == pytest.approx([0.657895, 0.236842, 0.105263], abs=1e-6)
    assert Probabilities(0.5).compute(p)[0].tolist() == pytest.approx([0.657895, 0.236842, 0.105263], abs=1e-6)
    assert tempered(p, 1.0) is p
    # and the BvSB ratio at T = 0.5 is the square of the ratio: 0.09 / 0.25 = 0.6² = 0.36
    assert BvsbRatio(0.5).compute(p)[0, 0].item() == pytest.approx(0.36)


def test_predicted_class_is_one_hot_with_ties_to_the_lowest_class():
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])
    assert PredictedClass().compute(probs).tolist() == [[0, 1, 0], [1, 0, 0]]


def test_shannon_entropy_epsilon_sits_inside_the_logarithm():
    p = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    assert ShannonEntropy().compute(p)[0, 0].item() == pytest.approx(math.log(2))
    assert ShannonEntropy(1e-7).compute(p)[0, 0].item() == pytest.approx(-math.log(0.5 + 1e-7), abs=1e-12)


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("mean", [(1.029653 + 0.639032) / 2, (0.801819 + 1.054920) / 2]),
        ("max", [1.029653, 1.054920]),
        # two pixels: the 95th percentile is a + 0.95·(b − a) on the sorted pair
        ("p95", [0.639032 + 0.95 * (1.029653 - 0.639032), 0.801819 + 0.95 * (1.054920 - 0.801819)]),
    ],
)
def test_engine_entropy_per_superpixel(aggregation, expected):
    stats, _ = engine_stats(EntropyStrategy(EntropyParams(aggregation=aggregation)))
    assert stats["entropy"][:, 0].tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("mean", [(0.6 + 0.125) / 2, (2 / 7 + 1.0) / 2]),
        ("max", [0.6, 1.0]),
        ("p95", [0.125 + 0.95 * 0.475, 2 / 7 + 0.95 * (1 - 2 / 7)]),
    ],
)
def test_engine_bvsb_per_superpixel(aggregation, expected):
    stats, _ = engine_stats(BvsbStrategy(BvsbParams(aggregation=aggregation)))
    assert stats["bvsb"][:, 0].tolist() == pytest.approx(expected, abs=1e-6)


def test_engine_bvsb_margin_per_superpixel():
    stats, _ = engine_stats(BvsbStrategy(BvsbParams(measure="margin")))
    assert stats["bvsb"][:, 0].tolist() == pytest.approx([(0.8 + 0.3) / 2, (0.5 + 1.0) / 2], abs=1e-6)


def context(scores, *, budget, labeled=(), costs=None, overshoot=False, name="entropy"):
    return selection_context(
        num_regions=len(scores),
        num_classes=3,
        budget=budget,
        labeled=list(labeled),
        region_stats={name: np.asarray(scores, dtype=float)[:, None]},
        costs=costs,
        overshoot=overshoot,
    )


def test_highest_scores_first_ties_to_the_lowest_id_labeled_skipped():
    scores = [0.2, 0.9, 0.5, 0.9, 0.5]
    strategy = EntropyStrategy(EntropyParams())
    assert strategy.select(context(scores, budget=3)).tolist() == [1, 3, 2]
    assert strategy.select(context(scores, budget=3, labeled=[1])).tolist() == [3, 2, 4]
    assert BvsbStrategy(BvsbParams()).select(context(scores, budget=2, name="bvsb")).tolist() == [1, 3]


def test_weak_labels_spend_clicks_in_score_order():
    scores, costs = [0.2, 0.9, 0.5, 0.8, 0.1], [1, 3, 2, 1, 1]
    strategy = EntropyStrategy(EntropyParams())
    # order 1 (3 clicks), 3 (1) = 4; region 2 (2 more) does not fit a budget of 5 and the selection stops there
    assert strategy.select(context(scores, budget=5, costs=costs)).tolist() == [1, 3]
    # with overshoot the region crossing the budget is kept
    assert strategy.select(context(scores, budget=5, costs=costs, overshoot=True)).tolist() == [1, 3, 2]
    # a budget reached exactly (3 + 1 = 4) stops there without overshoot; with it (the authors' rule: stop
    # once the clicks exceed the budget) region 2 is taken too
    assert strategy.select(context(scores, budget=4, costs=costs)).tolist() == [1, 3]
    assert strategy.select(context(scores, budget=4, costs=costs, overshoot=True)).tolist() == [1, 3, 2]


def test_aggregation_defaults_to_the_papers_mean():
    assert EntropyParams().aggregation == "mean" and BvsbParams().aggregation == "mean"
