"""The scoring engine: one streamed pass over the pool, reducing pixel scores to per-superpixel statistics.

Strategies declare what they need (:class:`RegionStatistic`, :class:`PoolStatistic`); the engine runs the
model image batch by image batch, computes each declared pixel score from the softmax and reduces it per
superpixel on the model's device. Only the per-superpixel results are kept, so memory is
O(superpixels x channels), never O(pixels in the pool).

Results are exact with respect to the scores as torch computes them on that device: a maximum is the
maximum of :meth:`PixelScore.compute`'s float values over the region's pixels, bit for bit; a percentile is
``numpy.percentile`` of them with the statistic's method; sums and means accumulate in float64. A score's
float values depend on how torch evaluates it on the probabilities it is given: for scores that sum over
the classes (Shannon entropy, p_c·H) the order of that sum, hence the last bit, follows the memory layout
of the probabilities (channel-major or channels-last), as in any torch code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from albench.engine._keyed_max import candidate_maxima, key_candidates
from albench.engine._label_runs import EMPTY_CODE, LabelRuns, from_order_codes, label_runs, runs_max, runs_sum
from albench.engine.percentile import grouped_percentile
from albench.statistics import Aggregation, PercentileMethod, PixelScore, PoolStatistic, RegionStatistic

__all__ = ["ScoreAccumulator", "aggregate_by_superpixel"]


def aggregate_by_superpixel(
    values: torch.Tensor,
    groups: torch.Tensor,
    num_groups: int,
    how: Aggregation,
    *,
    percentile_method: PercentileMethod = "linear",
) -> torch.Tensor:
    """Reduce ``values (N, K)`` over ``groups (N,)`` (ids in ``[0, num_groups)``) → ``(num_groups, K)`` float64.

    ``max`` and ``p95`` are exact (``p95`` is ``numpy.percentile(..., 95, method=percentile_method)``);
    ``mean`` and ``sum`` accumulate in float64. Empty groups give NaN (0 for ``sum``).
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
        out = out.to(torch.float64)
        out[torch.bincount(groups, minlength=num_groups) == 0] = math.nan
        return out
    if how == "p95":
        return grouped_percentile(values, groups, num_groups, 95.0, percentile_method)
    raise ValueError(f"unknown aggregation {how!r}")


class ScoreAccumulator:
    """Collects the declared statistics batch by batch; memory grows with superpixels, not pixels.

    On the CPU, max, mean and sum statistics reduce runs of equal labels (:mod:`albench.engine._label_runs`);
    the maximum of a score with an elementwise key reads only the probabilities and scores the few pixels
    that can hold it (:mod:`albench.engine._keyed_max`). Percentiles, splits by predicted class and every
    statistic on other devices go through :func:`aggregate_by_superpixel` on the scores of every pixel.
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
            raise ValueError(
                f"superpixels {tuple(self.labels.shape)} and {len(self.counts)} region counts do not "
                f"match probabilities {tuple(probs.shape)}: expected (B, H, W) and B counts"
            )
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
        """``(H·W, C)`` probabilities of one image: a view of the map (contiguous when it is channels-last)."""
        return self.probs[image].permute(1, 2, 0).reshape(-1, self.num_classes)

    def pixel_major(self, image: int) -> bool:
        """Whether the image's probabilities lie pixel by pixel in memory (channels-last inference)."""
        return self.probs[image].permute(1, 2, 0).is_contiguous()

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
    """Maxima per region on the CPU, image by image; empty regions are NaN. ``None`` when the probabilities
    or scores are not float32 (the run kernels compare float32 bits): the caller takes the generic path."""
    if batch.probs.dtype != torch.float32:
        return None
    parts = []
    for image, runs in enumerate(batch.runs()):
        maxima = None
        if score.elementwise_key is not None and score.key_tolerance is not None:
            maxima = _keyed_maxima(score, batch, image, runs)
        if maxima is None:  # no key, or a key that flagged an invalid probability: score every pixel
            values = score.compute(batch.pixels(image)).t().detach().numpy()
            if values.dtype != np.float32:
                return None
            codes = np.full((batch.counts[image], values.shape[0]), EMPTY_CODE, dtype=np.int32)
            runs_max(values, _local(runs, batch.offsets[image]), codes)
            maxima = np.where(codes == EMPTY_CODE, np.nan, from_order_codes(codes).astype(np.float64))
        parts.append(maxima)
    return np.concatenate(parts, axis=0)


def _local(runs: LabelRuns, offset: int) -> LabelRuns:
    return LabelRuns(runs.starts, runs.regions - offset, runs.num_pixels)


def _keyed_maxima(score: PixelScore, batch: _Batch, image: int, runs: LabelRuns) -> np.ndarray | None:
    """One image's maxima through the key: the kernels find the candidates, torch scores them, the maximum of
    those scores is the region's (see :mod:`albench.engine._keyed_max`). ``None`` for an invalid key (or
    scores that are not float32): the caller scores every pixel."""
    assert score.elementwise_key is not None and score.key_tolerance is not None
    pixel_major = batch.pixel_major(image)
    probs = batch.pixels(image) if pixel_major else batch.channel_major(image)
    found = key_candidates(
        probs.detach().numpy(),
        runs,
        batch.offsets[image],
        batch.counts[image],
        score.elementwise_key,
        score.key_tolerance,
        pixel_major=pixel_major,
    )
    if found is None:
        return None
    codes, candidates = found
    scores = score.compute(torch.from_numpy(candidates.values).unsqueeze(1))[:, 0]
    if scores.dtype != torch.float32:
        return None
    return candidate_maxima(
        codes,
        candidates,
        scores.detach().numpy(),
        lambda: float(score.compute(torch.zeros(1, 1, dtype=torch.float32))[0, 0]),
    )


def _reduce_generic(stat: RegionStatistic, batch: _Batch) -> torch.Tensor:
    """Image by image through :func:`aggregate_by_superpixel` on every pixel's score (percentiles, class
    splits, other devices)."""
    c = batch.num_classes
    parts = []
    for image in range(batch.size):
        pixel_probs = batch.pixels(image)
        regions = batch.local_regions(image)
        count = batch.counts[image]
        values = stat.score.compute(pixel_probs)
        method = stat.percentile_method
        if stat.by_predicted_class:
            grouped = aggregate_by_superpixel(
                values, regions * c + pixel_probs.argmax(dim=1), count * c, stat.aggregation, percentile_method=method
            )
            if stat.aggregation == "max":
                grouped = torch.nan_to_num(grouped, nan=-math.inf)
            parts.append(grouped.reshape(count, c, -1).permute(0, 2, 1))
        else:
            parts.append(aggregate_by_superpixel(values, regions, count, stat.aggregation, percentile_method=method))
    return torch.cat(parts, dim=0)
