"""p95 per superpixel with NumPy's percentile methods: hand-computed rules, and equality with numpy.percentile."""

import math

import numpy as np
import pytest
import torch
from albench_plugins.strategies.bvsb import BvsbParams, BvsbStrategy
from albench_plugins.strategies.cbal import Cbal, CbalParams
from albench_plugins.strategies.entropy import EntropyParams, EntropyStrategy
from albench_plugins.strategies.oreal import Oreal, OrealParams
from albench_plugins.strategies.pixelbal import PixelBal, PixelBalParams
from albench_plugins.strategies.revisiting_sp import RevisitingSp, RevisitingSpParams

from albench.engine.percentile import grouped_percentile
from albench.engine.scoring import ScoreAccumulator
from albench.errors import ParameterError
from albench.params import resolve_params
from albench.statistics import PERCENTILE_METHODS, RegionStatistic
from albench.uncertainty import OvrEntropy

METHODS = list(PERCENTILE_METHODS)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # Values 1..7 in one region: n = 7, 0.95·(n − 1) = 5.7.
        ("linear", 6.7),  # 6 + 0.7·(7 − 6), NumPy's default
        ("lower", 6.0),  # floor(5.7) = 5 → the sixth value
        ("higher", 7.0),  # ceil(5.7) = 6
        ("nearest", 7.0),  # round(5.7) = 6
        ("inverted_cdf", 7.0),  # 0.95·7 − 1 = 5.65, not whole → index 6
    ],
)
def test_each_method_hand_computed(method, expected):
    values = torch.tensor([[4.0], [1.0], [7.0], [2.0], [6.0], [3.0], [5.0]], dtype=torch.float64)
    result = grouped_percentile(values, torch.zeros(7, dtype=torch.long), 1, 95.0, method)
    assert result.item() == pytest.approx(expected)


def test_nearest_rounds_half_to_even_and_inverted_cdf_takes_the_lower_value_on_a_whole_index():
    # n = 11: 0.95·10 = 9.5 → nearest rounds to 10 (even); n = 20: 0.95·20 − 1 = 18 exactly → index 18.
    eleven = torch.arange(11, dtype=torch.float64).unsqueeze(1)
    assert grouped_percentile(eleven, torch.zeros(11, dtype=torch.long), 1, 95.0, "nearest").item() == 10.0
    twenty = torch.arange(20, dtype=torch.float64).unsqueeze(1)
    assert grouped_percentile(twenty, torch.zeros(20, dtype=torch.long), 1, 95.0, "inverted_cdf").item() == 18.0


def test_linear_interpolates_in_float32_for_float32_values_as_numpy_does():
    # a = 0.1f, b = 0.3f, weight 0.95 (n = 2): NumPy ≥ 2 computes b − (b − a)·float32(0.05) in float32.
    values = np.array([0.1, 0.3], dtype=np.float32)
    expected = np.percentile(values, 95)
    assert expected.dtype == np.float32
    result = grouped_percentile(torch.from_numpy(values).unsqueeze(1), torch.zeros(2, dtype=torch.long), 1)
    assert result.dtype == torch.float64 and result.item() == float(expected)
    assert float(expected) != np.percentile(values.astype(np.float64), 95)  # float64 arithmetic differs here


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_numpy_percentile_on_random_groups(method, dtype, seed):
    rng = np.random.default_rng(seed)
    n, groups = 3000, 71
    values = rng.normal(size=(n, 3)).astype(dtype)
    values[rng.random((n, 3)) < 0.1] = 0.0  # ties and both zeros
    values[rng.random((n, 3)) < 0.05] = -0.0
    values[:, 2] = np.round(values[:, 2], 1)  # many ties
    labels = rng.integers(0, groups - 2, n)  # the last two groups stay empty
    labels[:5] = groups - 3  # a group of five values... and others of one or two:
    labels[5] = groups - 4
    result = grouped_percentile(torch.from_numpy(values), torch.from_numpy(labels), groups, 95.0, method).numpy()
    for group in range(groups):
        members = values[labels == group]
        if len(members) == 0:
            assert np.isnan(result[group]).all()
        else:
            assert result[group].tolist() == np.percentile(members, 95, axis=0, method=method).tolist()


@pytest.mark.parametrize("method", METHODS)
def test_nan_makes_the_group_nan_and_infinities_follow_numpy(method):
    values = np.array([[1.0], [np.nan], [2.0], [np.inf], [3.0], [-np.inf], [np.inf], [np.inf]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    result = grouped_percentile(torch.from_numpy(values), torch.from_numpy(labels), 4, 95.0, method).numpy()
    with np.errstate(invalid="ignore"):
        expected = [np.percentile(values[labels == g], 95, axis=0, method=method) for g in range(4)]
    assert np.array_equal(result, np.array(expected, dtype=np.float64), equal_nan=True)


@pytest.mark.parametrize("method", METHODS)
def test_the_engine_passes_the_method_through(method):
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(torch.randn(1, 3, 9, 13, generator=g) * 3, dim=1)
    labels = torch.arange(9 * 13).reshape(1, 9, 13) % 5
    accumulator = ScoreAccumulator([RegionStatistic("p", OvrEntropy(), "p95", percentile_method=method)], 3)
    accumulator.add(probs, labels, [5])
    values = OvrEntropy().compute(probs[0].permute(1, 2, 0).reshape(-1, 3)).numpy()
    flat = labels.reshape(-1).numpy()
    expected = np.stack([np.percentile(values[flat == r], 95, axis=0, method=method) for r in range(5)])
    assert accumulator.region_results()["p"].tolist() == expected.astype(np.float64).tolist()


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        (EntropyStrategy, EntropyParams),
        (BvsbStrategy, BvsbParams),
        (Cbal, CbalParams),
        (Oreal, OrealParams),
        (RevisitingSp, RevisitingSpParams),
    ],
)
def test_every_strategy_with_p95_offers_the_method(strategy, params):
    chosen = strategy(params(aggregation="p95", percentile_method="higher"))
    methods = {
        s.percentile_method for s in chosen.statistics(3) if isinstance(s, RegionStatistic) and s.aggregation == "p95"
    }
    assert methods == {"higher"}
    assert params().percentile_method == "linear"


def test_pixelbal_passes_the_method_to_its_second_pass():
    strategy = PixelBal(PixelBalParams(aggregation="p95", percentile_method="inverted_cdf"))
    (statistic,) = strategy.second_pass(3, {"class_prior": np.array([0.2, 0.3, 0.5])})
    assert statistic.percentile_method == "inverted_cdf"


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(
        ParameterError,
        match=r"strategy 'oreal': parameter 'percentile_method' must be 'linear' \| "
        r"'lower' \| 'higher' \| 'nearest' \| 'inverted_cdf', got 'median'",
    ):
        resolve_params(OrealParams, {"percentile_method": "median"}, owner="strategy 'oreal'")
    with pytest.raises(
        ValueError,
        match=r"percentile_method must be one of linear, lower, higher, nearest, "
        r"inverted_cdf, not 'midpoint'",
    ):
        RegionStatistic("p", OvrEntropy(), "p95", percentile_method="midpoint")  # type: ignore[arg-type]


def test_empty_and_single_value_groups():
    values = torch.tensor([[2.5]], dtype=torch.float32)
    for method in METHODS:
        result = grouped_percentile(values, torch.tensor([1]), 2, 95.0, method)
        assert math.isnan(result[0, 0]) and result[1, 0].item() == 2.5
