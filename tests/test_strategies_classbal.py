"""Revisiting SP (ClassBal) and PixelBal: one-pass partial statistics, weights applied after the pass, by hand."""

import math

import numpy as np
import pytest
import torch
from albench_plugins.strategies.pixelbal import PixelBal, PixelBalParams
from albench_plugins.strategies.revisiting_sp import RevisitingSp, RevisitingSpParams
from test_strategies_uncertainty import engine_stats

from albench.errors import ParameterError
from albench.params import resolve_params
from albench.statistics import PoolStatistic
from albench.testing import selection_context

# ---------------------------------------------------------------- Revisiting SP

# Predicted pixels per class for 5 regions → d(s): 0, 0 (tie 2/2 → lowest), 1, 2, 1.
PREDICTED = np.array([[5, 1, 0], [2, 2, 0], [0, 3, 1], [0, 0, 4], [1, 4, 0]], dtype=float)
BVSB = np.array([0.5, 0.9, 0.3, 0.5, 0.6])
# π = [2/5, 2/5, 1/5] over all 5 regions (the labeled one included) → w = exp(−π) = [0.670320, 0.670320, 0.818731]


def revisiting_context(budget, labeled=(1,)):
    return selection_context(
        num_regions=5,
        num_classes=3,
        budget=budget,
        labeled=list(labeled),
        region_stats={"bvsb": BVSB[:, None], "predicted_pixels": PREDICTED},
    )


def test_revisiting_sp_oreal_paper_weights_the_raw_bvsb():
    # u·w_d = [0.5·0.670320, 0.9·0.670320, 0.3·0.670320, 0.5·0.818731, 0.6·0.670320]
    strategy = RevisitingSp(RevisitingSpParams(variant="oreal-paper"))
    scores = strategy.scores(revisiting_context(2))
    assert scores.tolist() == pytest.approx([0.335160, 0.603288, 0.201096, 0.409365, 0.402192], abs=1e-6)
    assert strategy.select(revisiting_context(2)).tolist() == [3, 4]  # region 1 is labeled


def test_revisiting_sp_original_min_max_normalises_over_the_whole_pool():
    # ũ = (u − 0.3)/(0.9 − 0.3) over all regions, labeled region 1 (u = 0.9) included: [1/3, 1, 0, 1/3, 1/2]
    strategy = RevisitingSp(RevisitingSpParams())
    scores = strategy.scores(revisiting_context(2))
    assert scores.tolist() == pytest.approx([0.223440, 0.670320, 0.0, 0.272910, 0.335160], abs=1e-6)
    # the offset favours the higher u, so region 4 now beats region 3
    assert strategy.select(revisiting_context(2)).tolist() == [4, 3]


def test_revisiting_sp_weights_class_zero_like_any_other():
    # The OREAL authors' copy gives class-0 regions weight 0 (a bug); neither variant does.
    scores = RevisitingSp(RevisitingSpParams(variant="oreal-paper")).scores(revisiting_context(2))
    assert scores[0] == pytest.approx(0.5 * math.exp(-0.4))


def test_revisiting_sp_engine_counts_predicted_pixels_per_region():
    stats, _ = engine_stats(RevisitingSp(RevisitingSpParams(aggregation="max")))
    # region 0: argmax 0, 0; region 1: argmax 1, and [0.4, 0.4, 0.2] ties to class 0
    assert stats["predicted_pixels"].tolist() == [[2, 0, 0], [1, 1, 0]]
    assert stats["bvsb"][:, 0].tolist() == pytest.approx([0.6, 1.0], abs=1e-6)


def test_revisiting_sp_all_equal_uncertainty_normalises_to_zero():
    context = selection_context(
        num_regions=2,
        num_classes=2,
        budget=1,
        region_stats={"bvsb": np.array([[0.4], [0.4]]), "predicted_pixels": np.array([[1.0, 0], [0, 1.0]])},
    )
    assert RevisitingSp(RevisitingSpParams()).scores(context).tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- PixelBal

# π = [0.5, 0.25, 0.25], ν = 12 → w = (1 + 12π)^(−2) = [1/49, 1/16, 1/16]
PRIOR = np.array([0.5, 0.25, 0.25])
SUMS = np.array([[2.0, 0, 0], [0, 0.4, 0], [1.0, 0.2, 0.2], [0, 0, 0.8]])[:, None, :]  # S_c(s), (R, 1, C)
SIZES = np.array([4, 4, 4, 8])
MAXIMA = np.array([[0.9, -np.inf, -np.inf], [-np.inf, 0.5, -np.inf], [0.6, 0.2, 0.1], [-np.inf, -np.inf, 0.3]])[
    :, None, :
]
P95 = np.array([0.8, 0.4, 0.5, 0.3])[:, None]  # the second pass's p95(u·w), as the engine would return it


def pixelbal_context(budget):
    return selection_context(
        num_regions=4,
        num_classes=3,
        budget=budget,
        region_sizes=SIZES,
        pool_stats={"class_prior": PRIOR},
        region_stats={"bvsb_sum_by_class": SUMS, "bvsb_max_by_class": MAXIMA, "weighted_bvsb_p95": P95},
    )


def test_pixelbal_mean_applies_the_weights_to_per_class_sums():
    # Σ_c w_c S_c / |s|: [2/49/4, 0.4/16/4, (1/49 + 0.4/16)/4, 0.8/16/8]
    strategy = PixelBal(PixelBalParams())
    assert strategy.scores(pixelbal_context(3)).tolist() == pytest.approx(
        [0.010204, 0.00625, 0.011352, 0.00625], abs=1e-6
    )
    # region 2 first although its unweighted mean (0.35) is below region 0's (0.5); the tie 1/3 goes to 1
    assert strategy.select(pixelbal_context(3)).tolist() == [2, 0, 1]


def test_pixelbal_max_is_the_largest_weighted_per_class_maximum():
    # max_c w_c M_c: [0.9/49, 0.5/16, max(0.6/49, 0.2/16, 0.1/16), 0.3/16]
    strategy = PixelBal(PixelBalParams(aggregation="max"))
    assert strategy.scores(pixelbal_context(2)).tolist() == pytest.approx(
        [0.018367, 0.03125, 0.0125, 0.01875], abs=1e-6
    )
    assert strategy.select(pixelbal_context(2)).tolist() == [1, 3]


def test_pixelbal_p95_scores_the_second_pass_percentile():
    strategy = PixelBal(PixelBalParams(aggregation="p95"))
    assert strategy.scores(pixelbal_context(3)).tolist() == [0.8, 0.4, 0.5, 0.3]
    assert strategy.select(pixelbal_context(2)).tolist() == [0, 2]


def test_pixelbal_p95_takes_the_prior_first_and_the_weighted_percentile_in_a_second_pass():
    strategy = PixelBal(PixelBalParams(aggregation="p95", percentile_method="nearest", variant="oreal-paper"))
    (prior,) = strategy.statistics(3)
    assert isinstance(prior, PoolStatistic) and prior.name == "class_prior"
    (second,) = strategy.second_pass(3, {"class_prior": PRIOR})
    assert (second.name, second.aggregation, second.percentile_method) == ("weighted_bvsb_p95", "p95", "nearest")
    assert second.score.weights.tolist() == pytest.approx([1 / 49, 1 / 16, 1 / 16])
    # v = u·w_argmax in float64: pixel (0.5, 0.3, 0.2) → 0.6/49; (0.1, 0.2, 0.7) → (2/7)/16
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert second.score.compute(probs)[:, 0].tolist() == pytest.approx([0.6 / 49, 2 / 7 / 16], rel=1e-6)
    assert PixelBal(PixelBalParams()).second_pass(3, {"class_prior": PRIOR}) == ()
    assert PixelBal(PixelBalParams(aggregation="max")).second_pass(3, {"class_prior": PRIOR}) == ()


# The engine on the 4-pixel map (T = 1): argmax per pixel 0, 0 | 1, 0; u = 0.6, 0.125 | 2/7, 1.
# π = mean p over the 4 pixels = [1.8, 1.5, 0.7]/4 = [0.45, 0.375, 0.175]
# w = [6.4^−2, 5.5^−2, 3.1^−2] = [0.0244140625, 0.0330578512, 0.1040582726]
W = [0.0244140625, 0.0330578512, 0.1040582726]


def pixelbal_engine(aggregation):
    strategy = PixelBal(PixelBalParams(aggregation=aggregation, variant="oreal-paper"))
    region_stats, pool_stats = engine_stats(strategy)
    context = selection_context(
        num_regions=2,
        num_classes=3,
        budget=1,
        region_sizes=np.array([2, 2]),
        region_stats=region_stats,
        pool_stats=pool_stats,
    )
    return strategy, region_stats, pool_stats, context


def test_pixelbal_engine_keeps_per_class_sums_and_the_pool_prior():
    strategy, region_stats, pool_stats, context = pixelbal_engine("mean")
    assert pool_stats["class_prior"].tolist() == pytest.approx([0.45, 0.375, 0.175], abs=1e-6)
    assert np.allclose(region_stats["bvsb_sum_by_class"][:, 0, :], [[0.725, 0, 0], [1.0, 2 / 7, 0]], atol=1e-6)
    # mean: [0.725·w0/2, (w0 + 2/7·w1)/2]
    assert strategy.scores(context).tolist() == pytest.approx([0.725 * W[0] / 2, (W[0] + 2 / 7 * W[1]) / 2], abs=1e-7)


def test_pixelbal_engine_max_is_exact():
    strategy, region_stats, _, context = pixelbal_engine("max")
    assert np.allclose(region_stats["bvsb_max_by_class"][:, 0, :2], [[0.6, -np.inf], [1.0, 2 / 7]], atol=1e-6)
    assert strategy.scores(context).tolist() == pytest.approx([0.6 * W[0], max(W[0], 2 / 7 * W[1])], abs=1e-7)


def test_pixelbal_engine_p95_is_the_exact_percentile_of_the_weighted_pixel_scores():
    # v = u·w: region 0 holds 0.6·w0 and 0.125·w0; region 1 holds (2/7)·w1 (argmax 1) and 1·w0 (argmax 0).
    # NumPy's linear p95 of two values a < b: position 0.95, so b − (b − a)·0.05.
    strategy, region_stats, _, context = pixelbal_engine("p95")
    pairs = [sorted([0.125 * W[0], 0.6 * W[0]]), sorted([2 / 7 * W[1], W[0]])]
    expected = [b - (b - a) * 0.05 for a, b in pairs]
    assert strategy.scores(context).tolist() == pytest.approx(expected, rel=1e-6)
    assert list(region_stats) == ["weighted_bvsb_p95"]  # the first pass computes the prior only


@pytest.mark.parametrize(
    ("params", "temperature"),
    [
        ({}, 0.1),
        ({"variant": "oreal-paper"}, 1.0),
        ({"temperature": 0.5}, 0.5),
        ({"variant": "oreal-paper", "temperature": 0.2}, 0.2),
    ],
)
def test_pixelbal_temperature_follows_the_variant_unless_set(params, temperature):
    strategy = PixelBal(PixelBalParams(**params))
    assert strategy.temperature == temperature
    prior = next(s for s in strategy.statistics(3) if isinstance(s, PoolStatistic))
    assert prior.score.temperature == temperature


def test_pixelbal_rejects_a_bad_nu_or_temperature():
    with pytest.raises(ParameterError, match=r"strategy 'pixelbal': parameter 'nu' must be at least 0, got -1.0"):
        resolve_params(PixelBalParams, {"nu": "-1"}, owner="strategy 'pixelbal'")
    with pytest.raises(ParameterError, match=r"strategy 'pixelbal': parameter 'temperature' must be positive, got 0.0"):
        resolve_params(PixelBalParams, {"temperature": "0"}, owner="strategy 'pixelbal'")
