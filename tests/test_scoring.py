"""The superpixel scoring engine: hand-computed reductions, and agreement with a naive per-region loop."""

import math

import numpy as np
import pytest
import torch

from albench.scoring import PixelScore, PoolStatistic, RegionStatistic, ScoreAccumulator, aggregate_by_superpixel
from albench.uncertainty import OvrEntropy


class Identity(PixelScore):
    """The probabilities themselves, so the reductions can be checked against plain NumPy."""

    def channels(self, num_classes):
        return num_classes

    def compute(self, probs):
        return probs


def _h(p):
    return -(p * math.log(p + 1e-7) + (1 - p) * math.log(1 - p + 1e-7))


def test_ovr_entropy_max_and_mean_per_superpixel_hand_computed():
    # One 2x2 image, two classes, superpixels [[0, 0], [1, 1]].
    # Pixel p(class 0): 0.9, 0.6 | 0.2, 0.5  → H: 0.325083, 0.673012 | 0.500402, 0.693147
    p0 = torch.tensor([[0.9, 0.6], [0.2, 0.5]])
    probs = torch.stack([p0, 1 - p0])[None]
    superpixels = torch.tensor([[[0, 0], [1, 1]]])
    stats = [RegionStatistic("max", OvrEntropy(), "max"), RegionStatistic("mean", OvrEntropy(), "mean")]
    acc = ScoreAccumulator(stats, num_classes=2)
    acc.add(probs, superpixels, [2])
    result = acc.region_results()
    assert result["max"][:, 0] == pytest.approx([0.673012, 0.693147], abs=1e-6)
    assert result["max"][:, 1] == pytest.approx([0.673012, 0.693147], abs=1e-6)  # H_c is symmetric in p
    assert result["mean"][:, 0] == pytest.approx([(0.325083 + 0.673012) / 2, (0.500402 + 0.693147) / 2], abs=1e-6)
    assert _h(0.6) == pytest.approx(0.673012, abs=1e-6)


def test_pool_statistic_is_the_mean_over_every_pool_pixel():
    probs = torch.tensor([[[[0.2, 0.4]], [[0.8, 0.6]]]])  # one 1x2 image, two classes
    acc = ScoreAccumulator([PoolStatistic("mean_prob", Identity())], num_classes=2)
    acc.add(probs, torch.zeros(1, 1, 2, dtype=torch.long), [1])
    acc.add(probs, torch.zeros(1, 1, 2, dtype=torch.long), [1])
    assert acc.pool_results()["mean_prob"] == pytest.approx([0.3, 0.7])


def test_by_predicted_class_splits_sums_by_argmax():
    # pixels (p0, p1): (0.9, 0.1) (0.3, 0.7) (0.6, 0.4) in one region → argmax 0, 1, 0
    probs = torch.tensor([[0.9, 0.3, 0.6], [0.1, 0.7, 0.4]])[:, None, :][None]
    acc = ScoreAccumulator([RegionStatistic("s", Identity(), "sum", by_predicted_class=True)], num_classes=2)
    acc.add(probs, torch.zeros(1, 1, 3, dtype=torch.long), [1])
    grouped = acc.region_results()["s"]  # (R, K, C): channel k summed over pixels predicted class c
    assert grouped.shape == (1, 2, 2)
    assert grouped[0, 0].tolist() == pytest.approx([1.5, 0.3])
    assert grouped[0, 1].tolist() == pytest.approx([0.5, 0.7])


def _random_maps(seed, n_pixels=5000, n_regions=97, k=3):
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(n_pixels, k, generator=g)
    groups = torch.randint(0, n_regions, (n_pixels,), generator=g)
    return values, groups, n_regions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_matches_a_naive_loop(seed):
    values, groups, n = _random_maps(seed)
    v, g = values.numpy(), groups.numpy()
    naive_max = np.stack([v[g == r].max(axis=0) for r in range(n)])
    naive_p95 = np.stack([np.percentile(v[g == r].astype(np.float64), 95, axis=0) for r in range(n)])
    naive_mean = np.stack([v[g == r].astype(np.float64).mean(axis=0) for r in range(n)])
    assert np.array_equal(aggregate_by_superpixel(values, groups, n, "max").numpy(), naive_max)
    assert np.array_equal(aggregate_by_superpixel(values, groups, n, "p95").numpy(), naive_p95)
    assert np.allclose(aggregate_by_superpixel(values, groups, n, "mean").numpy(), naive_mean, atol=1e-6, rtol=0)


def test_empty_regions_are_nan():
    values = torch.tensor([[1.0], [2.0]])
    groups = torch.tensor([0, 2])
    for how in ("max", "mean", "p95"):
        out = aggregate_by_superpixel(values, groups, 3, how)
        assert math.isnan(out[1, 0]) and out[0, 0] == 1.0 and out[2, 0] == 2.0


def test_ovr_fast_path_matches_direct_entropy_reduction():
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(4000, 5, generator=g) * 2, dim=1)
    groups = torch.randint(0, 50, (4000,), generator=g)
    score = OvrEntropy()
    direct = score.compute(probs)
    for how in ("max", "p95"):
        fast = aggregate_by_superpixel(score.order_key(probs), groups, 50, how, to_value=score.from_order_key)
        slow = aggregate_by_superpixel(direct, groups, 50, how)
        assert torch.allclose(fast, slow, atol=1e-5, rtol=0)
