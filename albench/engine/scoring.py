"""The scoring engine: one streamed pass over the pool, reducing pixel scores to per-superpixel statistics.

Strategies declare what they need (:class:`RegionStatistic`, :class:`PoolStatistic`); the engine runs the
model image batch by image batch, computes each declared pixel score from the softmax and reduces it per
superpixel on the model's device. Only the per-superpixel results are kept, so memory is
O(superpixels x channels), never O(pixels in the pool).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from albench.engine._label_runs import EMPTY_CODE, LabelRuns, from_order_codes, label_runs, runs_max, runs_sum
from albench.statistics import Aggregation, PixelScore, PoolStatistic, RegionStatistic

__all__ = ["ScoreAccumulator", "aggregate_by_superpixel"]


def _float32_order(values: torch.Tensor, nonnegative: bool) -> torch.Tensor:
    """float32 → int64 in [0, 2³²) with the same order: the IEEE bits, negative ones reflected."""
    bits = values.view(torch.int32).to(torch.int64)
    if nonnegative:
        return bits & 0x7FFFFFFF  # −0.0 becomes +0.0
    return torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits) + 2**31


def _from_float32_order(order: torch.Tensor, nonnegative: bool) -> torch.Tensor:
    bits = order if nonnegative else order - 2**31
    bits = bits if nonnegative else torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return bits.to(torch.int32).view(torch.float32)


def _sorted_within_groups(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``values (N, K)`` reordered, column by column, by group and then by value.

    float32 values sort once, as the int64 key group·2³² + (order-preserving bits of the value); other
    dtypes sort by value, then stably by group.
    """
    if values.dtype == torch.float32:
        nonnegative = bool(values.amin() >= 0) if values.numel() else True
        columns = []
        for start in range(0, values.shape[1], 4):  # a few channels at a time: int64 keys are 2x the values
            keys = groups.unsqueeze(1) * 2**32 + _float32_order(values[:, start : start + 4], nonnegative)
            columns.append(_from_float32_order(torch.sort(keys, dim=0).values & 0xFFFFFFFF, nonnegative))
        return torch.cat(columns, dim=1)
    sorted_values, order = torch.sort(values, dim=0, stable=True)
    _, regroup = torch.sort(groups[order], dim=0, stable=True)
    return torch.gather(sorted_values, 0, regroup)


def aggregate_by_superpixel(
    values: torch.Tensor, groups: torch.Tensor, num_groups: int, how: Aggregation,
    *, to_value: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Reduce ``values (N, K)`` over ``groups (N,)`` (ids in ``[0, num_groups)``) → ``(num_groups, K)``.

    ``max`` and ``p95`` are exact; ``mean`` and ``sum`` accumulate in float64. ``to_value`` maps reduced
    order keys back to scores (see :meth:`PixelScore.order_key`). Empty groups give NaN (0 for ``sum``).
    """
    n, k = values.shape
    device = values.device
    if how in ("sum", "mean"):
        sums = torch.zeros(num_groups, k, dtype=torch.float64, device=device)
        sums.index_add_(0, groups, values.to(torch.float64))
        if how == "sum":
            return sums
        counts = torch.bincount(groups, minlength=num_groups).to(torch.float64).unsqueeze(1)
        return sums / counts
    if how == "max":
        out = torch.full((num_groups, k), -math.inf, dtype=values.dtype, device=device)
        out.scatter_reduce_(0, groups.unsqueeze(1).expand(n, k), values, reduce="amax", include_self=True)
        empty = torch.bincount(groups, minlength=num_groups) == 0
        out = to_value(out) if to_value is not None else out
        out[empty] = math.nan
        return out.to(torch.float64)
    if how == "p95":
        # NumPy's default (linear) percentile: between the order statistics floor(pos) and ceil(pos) of
        # each group, pos = 0.95·(count − 1), interpolated in score space when the values are order keys.
        segmented = _sorted_within_groups(values, groups)
        counts = torch.bincount(groups, minlength=num_groups)
        offsets = torch.cumsum(counts, 0) - counts
        position = (counts - 1).clamp(min=0).to(torch.float64) * 0.95
        last = max(n - 1, 0)
        lo = torch.gather(segmented, 0, (offsets + position.floor().long()).clamp(max=last).unsqueeze(1).expand(-1, k))
        hi = torch.gather(segmented, 0, (offsets + position.ceil().long()).clamp(max=last).unsqueeze(1).expand(-1, k))
        if to_value is not None:
            lo, hi = to_value(lo), to_value(hi)
        a, b = lo.to(torch.float64), hi.to(torch.float64)
        frac = (position - position.floor()).unsqueeze(1)
        # NumPy's _lerp: a + d·t below t = ½, b − d·(1 − t) from there, for symmetry.
        result = torch.where(frac >= 0.5, b - (b - a) * (1 - frac), a + (b - a) * frac)
        result[counts == 0] = math.nan
        return result
    raise ValueError(f"unknown aggregation {how!r}")


class ScoreAccumulator:
    """Collects the declared statistics batch by batch; memory grows with superpixels, not pixels.

    On the CPU, max, mean and sum statistics reduce runs of equal labels (:mod:`albench.engine._label_runs`; max
    reads the order key, fused when the score has an ``elementwise_key``). Percentiles, splits by predicted
    class and every statistic on other devices go through :func:`aggregate_by_superpixel`. Both are exact,
    sums to float64 rounding.
    """

    def __init__(self, statistics: Sequence[RegionStatistic | PoolStatistic], num_classes: int) -> None:
        self.region_stats = [s for s in statistics if isinstance(s, RegionStatistic)]
        self.pool_stats = [s for s in statistics if isinstance(s, PoolStatistic)]
        self.num_classes = num_classes
        self._region_parts: dict[str, list[np.ndarray]] = {s.name: [] for s in self.region_stats}
        self._pool_sums: dict[str, torch.Tensor] = {}
        self._pool_pixels = 0

    def add(self, probs: torch.Tensor, superpixels: torch.Tensor, regions_per_image: Sequence[int]) -> None:
        """Add a batch: ``probs (B, C, H, W)``, ``superpixels (B, H, W)`` local ids per image."""
        batch = _Batch(probs, superpixels, regions_per_image)
        for stat in self.region_stats:
            self._region_parts[stat.name].append(_reduce(stat, batch).cpu().numpy())
        for pool_stat in self.pool_stats:
            for image in range(batch.size):
                total = pool_stat.score.compute(batch.pixels(image)).to(torch.float64).sum(dim=0)
                previous = self._pool_sums.get(pool_stat.name)
                self._pool_sums[pool_stat.name] = total if previous is None else previous + total
        self._pool_pixels += probs.shape[0] * probs.shape[2] * probs.shape[3]

    def region_results(self) -> dict[str, np.ndarray]:
        """Each region statistic over the whole pool, rows in global region order."""
        return {name: np.concatenate(parts, axis=0) for name, parts in self._region_parts.items() if parts}

    def pool_results(self) -> dict[str, np.ndarray]:
        """Each pool statistic, averaged over all pool pixels."""
        return {name: (total / self._pool_pixels).cpu().numpy() for name, total in self._pool_sums.items()}


class _Batch:
    """One batch of images with what every statistic shares: label runs, computed once, on demand."""

    def __init__(self, probs: torch.Tensor, superpixels: torch.Tensor, regions_per_image: Sequence[int]) -> None:
        self.probs = probs
        self.size, self.num_classes = probs.shape[:2]
        self.labels = superpixels.detach().cpu().numpy()
        self.counts = [int(n) for n in regions_per_image]
        if len(self.counts) != self.size or self.labels.shape != (self.size, *probs.shape[2:]):
            raise ValueError(f"superpixels {tuple(self.labels.shape)} and {len(self.counts)} region counts do not "
                             f"match probabilities {tuple(probs.shape)}: expected (B, H, W) and B counts")
        for image, count in enumerate(self.counts):
            low, high = int(self.labels[image].min()), int(self.labels[image].max())
            if low < 0 or high >= count:
                raise ValueError(f"image {image} of the batch has superpixel ids {low}..{high}, outside 0..{count - 1}")
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(int).tolist()
        self.num_regions = self.offsets[-1]
        self._runs: list[LabelRuns] | None = None

    @property
    def on_cpu(self) -> bool:
        return self.probs.device.type == "cpu"

    def pixels(self, image: int) -> torch.Tensor:
        """``(H·W, C)`` probabilities of one image: a view of the channel-major map."""
        return self.probs[image].permute(1, 2, 0).reshape(-1, self.num_classes)

    def channel_major(self, image: int) -> torch.Tensor:
        """``(C, H·W)`` probabilities of one image."""
        return self.probs[image].reshape(self.num_classes, -1)

    def local_regions(self, image: int) -> torch.Tensor:
        return torch.from_numpy(self.labels[image].reshape(-1).astype(np.int64)).to(self.probs.device)

    def runs(self) -> list[LabelRuns]:
        if self._runs is None:
            self._runs = [label_runs(self.labels[i], self.offsets[i]) for i in range(self.size)]
        return self._runs

    def region_sizes(self) -> np.ndarray:
        sizes = [np.bincount(self.labels[i].reshape(-1), minlength=self.counts[i]) for i in range(self.size)]
        return np.concatenate(sizes).astype(np.float64)


def _reduce(stat: RegionStatistic, batch: _Batch) -> torch.Tensor:
    """One statistic over one batch: ``(regions, K)``, or ``(regions, K, C)`` split by predicted class."""
    if stat.by_predicted_class or stat.aggregation == "p95" or not batch.on_cpu:
        return _reduce_generic(stat, batch)
    if stat.aggregation == "max":
        maxima = _runs_maxima(stat.score, batch)
        return _reduce_generic(stat, batch) if maxima is None else torch.from_numpy(maxima)
    sums = np.zeros((stat.score.channels(batch.num_classes), batch.num_regions), dtype=np.float64)
    for image, runs in enumerate(batch.runs()):
        values = stat.score.compute(batch.pixels(image)).t()
        runs_sum(values.detach().numpy(), runs, sums)
    if stat.aggregation == "sum":
        return torch.from_numpy(np.ascontiguousarray(sums.T))
    with np.errstate(invalid="ignore"):  # an empty region's mean is 0 / 0 = NaN, as intended
        return torch.from_numpy(np.ascontiguousarray(sums.T / batch.region_sizes()[:, None]))


def _runs_maxima(score: PixelScore, batch: _Batch) -> np.ndarray | None:
    """Maxima per region on the CPU: of the order key when the score has one (fused when elementwise),
    mapped back to scores at the end; else of the score itself. Empty regions are NaN. ``None`` when the
    values are not float32 (the run kernels compare float32 bits): the caller takes the generic path."""
    codes = np.full((batch.num_regions, score.channels(batch.num_classes)), EMPTY_CODE, dtype=np.int32)
    keyed = False
    for image, runs in enumerate(batch.runs()):
        if score.elementwise_key is not None:
            values, key, keyed = batch.channel_major(image), score.elementwise_key, True
        else:
            order = score.order_key(batch.pixels(image))
            keyed = order is not None
            values, key = (order if order is not None else score.compute(batch.pixels(image))).t(), None
        array = values.detach().numpy()
        if array.dtype != np.float32:
            return None
        runs_max(array, runs, codes, key)
    empty = torch.from_numpy(codes == EMPTY_CODE)
    maxima = torch.from_numpy(from_order_codes(codes))
    if keyed:
        maxima = score.from_order_key(maxima)
    return torch.where(empty, math.nan, maxima.to(torch.float64)).numpy()


def _reduce_generic(stat: RegionStatistic, batch: _Batch) -> torch.Tensor:
    """Image by image through :func:`aggregate_by_superpixel` (percentiles, class splits, other devices)."""
    c = batch.num_classes
    parts = []
    for image in range(batch.size):
        pixel_probs = batch.pixels(image)
        regions = batch.local_regions(image)
        count = batch.counts[image]
        key = stat.score.order_key(pixel_probs) if stat.aggregation in ("max", "p95") else None
        values = key if key is not None else stat.score.compute(pixel_probs)
        to_value = stat.score.from_order_key if key is not None else None
        if stat.by_predicted_class:
            grouped = aggregate_by_superpixel(
                values, regions * c + pixel_probs.argmax(dim=1), count * c, stat.aggregation, to_value=to_value
            )
            if stat.aggregation == "max":
                grouped = torch.nan_to_num(grouped, nan=-math.inf)
            parts.append(grouped.reshape(count, c, -1).permute(0, 2, 1))
        else:
            parts.append(aggregate_by_superpixel(values, regions, count, stat.aggregation, to_value=to_value))
    return torch.cat(parts, dim=0)
