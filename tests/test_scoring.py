"""The superpixel scoring engine: hand-computed reductions, and agreement with a naive per-region loop."""

import math
import weakref

import numpy as np
import pytest
import torch

from albench.engine._label_runs import EMPTY_CODE, from_order_codes, label_runs, runs_max, runs_sum, to_order_codes
from albench.engine.scoring import ScoreAccumulator, aggregate_by_superpixel
from albench.statistics import PixelScore, PoolStatistic, RegionStatistic
from albench.uncertainty import OvrEntropy, ovr_entropy


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
    naive_p95 = np.stack([np.percentile(v[g == r], 95, axis=0) for r in range(n)])  # float32, as NumPy does
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


# --- the CPU run engine (albench.engine._label_runs) against hand-computed runs and a naive per-region loop ---


class Shifted(PixelScore):
    """Probabilities minus ½: negative values."""

    def channels(self, num_classes):
        return num_classes

    def compute(self, probs):
        return probs - 0.5


def test_label_runs_hand_computed():
    # Raster order 3 3 5 | 5 5 7 (two rows of three): runs 3 3 · 5 5 5 (across the row end) · 7.
    runs = label_runs(np.array([[3, 3, 5], [5, 5, 7]]), offset=10)
    assert runs.starts.tolist() == [0, 2, 5] and runs.regions.tolist() == [13, 15, 17] and runs.num_pixels == 6


def test_runs_max_and_sum_hand_computed():
    # Region 0 holds 0.5, 0.25 and 2.0 (two runs), region 1 holds 1.0 and 0.75.
    runs = label_runs(np.array([[0, 0, 1, 1, 0]]))
    values = np.array([[0.5, 0.25, 1.0, 0.75, 2.0]], dtype=np.float32)
    codes = np.full((2, 1), EMPTY_CODE, dtype=np.int32)
    runs_max(values, runs, codes)
    assert from_order_codes(codes).tolist() == [[2.0], [1.0]]
    sums = np.zeros((1, 2))
    runs_sum(values, runs, sums)
    assert sums.tolist() == [[2.75, 1.75]]


def test_order_codes_hand_computed():
    # 1.0 is 0x3F800000 = 1065353216; −1.0 is 0xBF800000, reflected to 0xC07FFFFF = −1065353217; 0.0 is 0;
    # NaN is coded 0x7FFFFFFF, above +inf (0x7F800000). −0.0 (0x80000000) reflects to −1, just below +0.0.
    values = np.array([1.0, -1.0, 0.0, np.nan, np.inf, -0.0], dtype=np.float32)
    codes = to_order_codes(values)
    assert codes.tolist() == [1065353216, -1065353217, 0, 2**31 - 1, 2139095040, -1]
    assert np.array_equal(from_order_codes(codes), values, equal_nan=True)
    assert np.isnan(from_order_codes(np.array([EMPTY_CODE])))[0]


def test_runs_max_of_five_channels_groups_four_and_one_hand_computed():
    # Channels are reduced four at a time, then the fifth alone: channel k holds k·[1, 3, 2 | 5, 4].
    runs = label_runs(np.array([[0, 0, 0, 1, 1]]))
    values = (np.arange(5, dtype=np.float32)[:, None] * np.array([1, 3, 2, 5, 4], dtype=np.float32)).copy()
    codes = np.full((3, 5), EMPTY_CODE, dtype=np.int32)  # region 2 stays empty
    runs_max(-values, runs, codes)  # negated: every code reflected, maxima are the smallest magnitudes
    decoded = from_order_codes(codes)
    assert decoded[:2].tolist() == [[-0.0, -1.0, -2.0, -3.0, -4.0], [-0.0, -4.0, -8.0, -12.0, -16.0]]
    assert np.isnan(decoded[2]).all()


def test_runs_max_propagates_nan_like_torch_amax():
    runs = label_runs(np.array([[0, 0, 1]]))
    codes = np.full((2, 1), EMPTY_CODE, dtype=np.int32)
    runs_max(np.array([[0.1, np.nan, 0.3]], dtype=np.float32), runs, codes)
    maxima = from_order_codes(codes)
    assert np.isnan(maxima[0, 0]) and maxima[1, 0] == np.float32(0.3)


def test_runs_max_refuses_other_dtypes():
    runs = label_runs(np.array([[0, 1]]))
    with pytest.raises(TypeError, match="float32 values and int32 codes, not float64"):
        runs_max(np.zeros((1, 2)), runs, np.full((2, 1), EMPTY_CODE, dtype=np.int32))


def test_the_engine_takes_the_generic_path_for_float64_probabilities():
    probs = torch.tensor([0.9, 0.1, 0.8, 0.3], dtype=torch.float64).reshape(1, 1, 1, 4)
    acc = ScoreAccumulator([RegionStatistic("max", Identity(), "max")], 1)
    acc.add(probs, torch.tensor([[[0, 0, 1, 1]]]), [2])
    assert acc.region_results()["max"][:, 0].tolist() == [0.9, 0.8]


def test_a_nan_probability_makes_its_region_nan_through_the_key():
    # Region 0 holds p = 0.2 and NaN for the single class, region 1 holds 0.5: OVR entropies NaN and ln 2.
    probs = torch.tensor([0.2, math.nan, 0.5]).reshape(1, 1, 1, 3)
    acc = ScoreAccumulator([RegionStatistic("s", OvrEntropy(), "max")], 1)
    acc.add(probs, torch.tensor([[[0, 0, 1]]]), [2])
    scores = acc.region_results()["s"][:, 0]
    assert math.isnan(scores[0]) and scores[1] == pytest.approx(math.log(2), abs=1e-6)


def test_block_max_of_a_column_hand_computed():
    # Probabilities of one class down one column, regions 0 0 1 1 1 2 2 2: maxima 0.9, 0.8, 0.7.
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2]).reshape(1, 8, 1)
    p = torch.tensor([0.9, 0.1, 0.8, 0.3, 0.2, 0.7, 0.0, 0.4]).reshape(1, 1, 8, 1)
    acc = ScoreAccumulator([RegionStatistic("max", Identity(), "max"), RegionStatistic("sum", Identity(), "sum")], 1)
    acc.add(p, labels, [3])
    assert acc.region_results()["max"][:, 0].tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert acc.region_results()["sum"][:, 0].tolist() == pytest.approx([1.0, 1.3, 1.1])


def _irregular_labels(g, height, width, regions):
    """Nearest of ``regions`` random seeds under a random warp: irregular, compact, some regions split."""
    seeds = torch.rand(regions, 2, generator=g) * torch.tensor([height, width])
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    warp = torch.rand(2, height, width, generator=g) * 3
    points = torch.stack([yy + warp[0], xx + warp[1]], dim=-1).reshape(-1, 1, 2)
    labels = ((points - seeds) ** 2).sum(-1).argmin(dim=1).reshape(height, width)
    return labels


def _random_batch(seed, images=3, height=37, width=29, classes=4, regions=15):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(images, classes, height, width, generator=g) * 3, dim=1)
    labels = torch.stack([_irregular_labels(g, height, width, regions) for _ in range(images)])
    counts = [regions + 2] * images  # two declared regions per image stay empty
    return probs, labels, counts


def _naive(values_per_image, labels, counts, how):
    """The published-code way: one boolean mask per region, reduced with NumPy."""
    rows = []
    for values, lab, count in zip(values_per_image, labels.numpy(), counts, strict=True):
        flat = values.reshape(values.shape[0], -1)
        for r in range(count):
            mask = lab.reshape(-1) == r
            if not mask.any():  # an empty region: NaN, except a sum of nothing, 0
                rows.append(np.full(flat.shape[0], 0.0 if how == "sum" else np.nan))
            elif how == "max":
                rows.append(flat[:, mask].max(axis=1))
            elif how == "p95":  # NumPy on the values in their own dtype (float32: a float32 interpolation)
                rows.append(np.percentile(flat[:, mask], 95, axis=1))
            elif how == "mean":
                rows.append(flat[:, mask].astype(np.float64).mean(axis=1))
            else:
                rows.append(flat[:, mask].astype(np.float64).sum(axis=1))
    return np.stack(rows)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("how", ["max", "p95", "mean", "sum"])
def test_accumulator_matches_a_naive_loop_on_multi_image_batches(seed, how):
    probs, labels, counts = _random_batch(seed)
    acc = ScoreAccumulator([RegionStatistic("p", Identity(), how), RegionStatistic("neg", Shifted(), how)], 4)
    acc.add(probs[:2], labels[:2], counts[:2])  # two batches: global ids continue across them
    acc.add(probs[2:], labels[2:], counts[2:])
    result = acc.region_results()
    for name, values in (("p", probs.numpy()), ("neg", probs.numpy() - 0.5)):
        naive = _naive(values, labels, counts, how)
        assert result[name].shape == naive.shape == (sum(counts), 4)
        if how in ("max", "p95"):
            assert np.array_equal(result[name], naive, equal_nan=True)
        else:
            assert np.allclose(result[name], naive, atol=1e-6, rtol=0, equal_nan=True)


@pytest.mark.parametrize("classes", [1, 3, 5, 9])
def test_max_over_any_number_of_channels_matches_a_naive_loop(classes):
    # The run kernel takes channels four at a time, then one by one: fewer than four, a remainder, both.
    probs, labels, counts = _random_batch(classes, images=2, classes=classes)
    acc = ScoreAccumulator(
        [RegionStatistic("p", Identity(), "max"), RegionStatistic("ovr", OvrEntropy(), "max")], classes
    )
    acc.add(probs, labels, counts)
    result = acc.region_results()
    assert np.array_equal(result["p"], _naive(probs.numpy(), labels, counts, "max"), equal_nan=True)
    naive_ovr = _naive(ovr_entropy(probs.double()).numpy(), labels, counts, "max")
    assert np.allclose(result["ovr"], naive_ovr, atol=1e-6, rtol=0, equal_nan=True)


@pytest.mark.parametrize("how", ["max", "p95", "mean"])
def test_ovr_entropy_through_the_engine_matches_a_naive_float64_loop(how):
    probs, labels, counts = _random_batch(5, images=2, height=41, width=33)
    acc = ScoreAccumulator([RegionStatistic("ovr", OvrEntropy(), how)], 4)
    acc.add(probs, labels, counts)
    naive = _naive(ovr_entropy(probs.double()).numpy(), labels, counts, how)
    assert np.allclose(acc.region_results()["ovr"], naive, atol=1e-6, rtol=0, equal_nan=True)


@pytest.mark.parametrize("how", ["max", "sum"])
def test_split_by_predicted_class_matches_a_naive_loop(how):
    probs, labels, counts = _random_batch(7, images=2)
    acc = ScoreAccumulator([RegionStatistic("s", Identity(), how, by_predicted_class=True)], 4)
    acc.add(probs, labels, counts)
    result = acc.region_results()["s"]  # (R, K, C): channel k over the pixels predicted as class c
    predicted = probs.argmax(dim=1).numpy()
    for c in range(4):
        rows = []  # a region with no pixel predicted as c: -inf for max, 0 for sum
        for p, pred, lab, count in zip(probs.numpy(), predicted, labels.numpy(), counts, strict=True):
            flat = p.reshape(4, -1).astype(np.float64)
            for r in range(count):
                mask = (lab.reshape(-1) == r) & (pred.reshape(-1) == c)
                if how == "max":
                    rows.append(np.max(flat, axis=1, where=mask[None], initial=-np.inf))
                else:
                    rows.append(flat[:, mask].sum(axis=1))
        naive = np.stack(rows)
        if how == "max":
            assert np.array_equal(result[:, :, c], naive)
        else:
            assert np.allclose(result[:, :, c], naive, atol=1e-6, rtol=0)


def test_the_accumulator_keeps_per_region_arrays_only():
    # Memory is O(superpixels x channels): after a batch, the accumulator holds one (R, K) float64 array per
    # statistic and batch, and no reference to the batch's pixels.
    probs, labels, counts = _random_batch(3)
    stats = [
        RegionStatistic("max", OvrEntropy(), "max"),
        RegionStatistic("mean", Identity(), "mean"),
        PoolStatistic("prior", Identity()),
    ]
    acc = ScoreAccumulator(stats, 4)
    acc.add(probs, labels, counts)
    watched = weakref.ref(probs)
    del probs
    assert watched() is None
    arrays = [a for parts in acc._region_parts.values() for a in parts] + list(acc._pool_sums.values())
    stored = sum(a.nbytes if isinstance(a, np.ndarray) else a.element_size() * a.numel() for a in arrays)
    assert stored == 2 * sum(counts) * 4 * 8 + 4 * 8


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_percentile_of_signed_values_and_zeros_matches_numpy(dtype):
    # Negative values, both zeros and repeated values: the float32 path sorts IEEE bits, so it must keep
    # the order of numbers, not of bit patterns.
    values = torch.tensor([[-2.0], [-0.0], [0.0], [3.5], [-1e-30], [1e-30], [3.5], [-7.25], [0.5], [0.0]], dtype=dtype)
    groups = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    result = aggregate_by_superpixel(values, groups, 2, "p95").numpy()[:, 0]
    v = values.numpy()[:, 0]
    assert result.tolist() == [np.percentile(v[:5], 95), np.percentile(v[5:], 95)]
    only_zeros = aggregate_by_superpixel(
        torch.tensor([[-0.0], [0.0], [-0.0]], dtype=dtype), torch.zeros(3, dtype=torch.long), 1, "p95"
    )
    assert only_zeros.item() == 0.0


def test_superpixel_ids_outside_the_declared_count_are_rejected():
    acc = ScoreAccumulator([RegionStatistic("max", OvrEntropy(), "max")], 2)
    probs = torch.full((1, 2, 2, 2), 0.5)
    with pytest.raises(ValueError, match=r"image 0 of the batch has superpixel ids 0\.\.3, outside 0\.\.2"):
        acc.add(probs, torch.tensor([[[0, 1], [2, 3]]]), [3])
    with pytest.raises(ValueError, match=r"superpixels \(1, 2, 2\) and 2 region counts do not match"):
        acc.add(probs, torch.tensor([[[0, 1], [1, 0]]]), [2, 2])


def test_percentile_hand_computed():
    # Values 1..5 in one region: position 0.95·(5 − 1) = 3.8, so 4 + 0.8·(5 − 4) = 4.8 (NumPy's linear rule).
    values = torch.tensor([[3.0], [1.0], [5.0], [2.0], [4.0]])
    assert aggregate_by_superpixel(values, torch.zeros(5, dtype=torch.long), 1, "p95").item() == pytest.approx(4.8)


class Odds(PixelScore):
    """p / (1 − p): +inf where p = 1, to check that infinite values stay in their own region."""

    def channels(self, num_classes):
        return num_classes

    def compute(self, probs):
        return probs / (1 - probs)


@pytest.mark.parametrize("how", ["max", "sum"])
def test_infinite_values_stay_in_their_region(how):
    probs, labels, counts = _random_batch(11, images=2, height=40)
    one_hot = torch.rand(probs.shape[0], 1, *probs.shape[2:], generator=torch.Generator().manual_seed(0)) < 0.1
    probs = torch.where(one_hot, torch.nn.functional.one_hot(probs.argmax(1), 4).permute(0, 3, 1, 2).float(), probs)
    acc = ScoreAccumulator([RegionStatistic("odds", Odds(), how)], 4)
    acc.add(probs, labels, counts)
    naive = _naive((probs / (1 - probs)).numpy(), labels, counts, how)
    result = acc.region_results()["odds"]
    assert np.isinf(naive).any() and np.array_equal(np.isinf(result), np.isinf(naive))
    assert np.allclose(
        result, naive, atol=1e-6 if how == "sum" else 0, rtol=1e-6 if how == "sum" else 0, equal_nan=True
    )
