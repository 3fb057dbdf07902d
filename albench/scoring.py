"""The scoring engine: one streamed pass over the pool, reducing pixel scores to per-superpixel statistics.

Strategies declare what they need (:class:`RegionStatistic`, :class:`PoolStatistic`); the engine runs the
model image batch by image batch, computes each declared pixel score from the softmax and reduces it per
superpixel on the model's device. Only the per-superpixel results are kept, so memory is
O(superpixels x channels), never O(pixels in the pool).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

__all__ = [
    "Aggregation",
    "PixelScore",
    "PoolStatistic",
    "RegionStatistic",
    "ScoreAccumulator",
    "aggregate_by_superpixel",
]

Aggregation = Literal["max", "mean", "p95", "sum"]


class PixelScore(ABC):
    """A pixel-level score with one or more channels, computed from the softmax.

    Scores whose order statistics can be taken on a cheaper monotone key may implement
    :meth:`order_key` and :meth:`from_order_key`: the engine then reduces the key and applies the
    expensive transform to the reduced values only.
    """

    name: str = "score"

    @abstractmethod
    def channels(self, num_classes: int) -> int:
        """How many channels :meth:`compute` returns for ``num_classes`` classes."""

    @abstractmethod
    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` pixel probabilities → ``(N, K)`` scores."""

    def order_key(self, probs: torch.Tensor) -> torch.Tensor | None:
        """A ``(N, K)`` key, strictly increasing in the score channel by channel, or ``None``."""
        return None

    def from_order_key(self, key: torch.Tensor) -> torch.Tensor:
        """Map reduced keys back to scores (only called when :meth:`order_key` is implemented)."""
        raise NotImplementedError


@dataclass(frozen=True)
class RegionStatistic:
    """A pixel score reduced over each superpixel: the result has shape ``(R, K)``.

    With ``by_predicted_class`` the reduction is split by each pixel's argmax class, giving ``(R, K, C)``
    (only ``sum`` and ``max``): strategies whose weights depend on a pool statistic apply them after the
    pass instead of scoring the pool twice. For ``sum`` divide by the region size to get a mean.
    """

    name: str
    score: PixelScore
    aggregation: Aggregation
    by_predicted_class: bool = False

    def __post_init__(self) -> None:
        if self.by_predicted_class and self.aggregation not in ("sum", "max"):
            raise ValueError(f"by_predicted_class supports 'sum' and 'max', not {self.aggregation!r}")


@dataclass(frozen=True)
class PoolStatistic:
    """A pixel score averaged over every pixel of the pool: the result has shape ``(K,)``."""

    name: str
    score: PixelScore


def _percentile_sorted(values: torch.Tensor, offsets: torch.Tensor, counts: torch.Tensor, q: float) -> torch.Tensor:
    """NumPy's default (linear) percentile of each segment of values sorted within segments.

    ``values (M, K)`` are sorted within each segment; returns ``(G, K)``, NaN for empty segments.
    """
    position = (counts - 1).clamp(min=0).to(torch.float64) * (q / 100.0)
    lower = position.floor()
    frac = (position - lower).unsqueeze(1)
    lo_idx = (offsets + lower.long()).clamp(max=max(values.shape[0] - 1, 0))
    hi_idx = (offsets + position.ceil().long()).clamp(max=max(values.shape[0] - 1, 0))
    a = values[lo_idx].to(torch.float64)
    b = values[hi_idx].to(torch.float64)
    diff = b - a
    # NumPy's _lerp: a + d*t below t = 0.5, b - d*(1 - t) from there, for symmetry.
    result = torch.where(frac >= 0.5, b - diff * (1 - frac), a + diff * frac)
    result[counts == 0] = math.nan
    return result


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
        # Sort by value, then stably by group: values end up sorted inside each group's segment.
        sorted_values, order = torch.sort(values, dim=0, stable=True)
        group_per_column = groups[order]
        _, regroup = torch.sort(group_per_column, dim=0, stable=True)
        segmented = torch.gather(sorted_values, 0, regroup)
        counts = torch.bincount(groups, minlength=num_groups)
        offsets = torch.cumsum(counts, 0) - counts
        if to_value is None:
            return _percentile_sorted(segmented, offsets, counts, 95.0)
        # Interpolate between the two bracketing order statistics in score space, not key space.
        position = (counts - 1).clamp(min=0).to(torch.float64) * 0.95
        last = max(n - 1, 0)
        lo = torch.gather(segmented, 0, (offsets + position.floor().long()).clamp(max=last).unsqueeze(1).expand(-1, k))
        hi = torch.gather(segmented, 0, (offsets + position.ceil().long()).clamp(max=last).unsqueeze(1).expand(-1, k))
        a, b = to_value(lo).to(torch.float64), to_value(hi).to(torch.float64)
        frac = (position - position.floor()).unsqueeze(1)
        result = torch.where(frac >= 0.5, b - (b - a) * (1 - frac), a + (b - a) * frac)
        result[counts == 0] = math.nan
        return result
    raise ValueError(f"unknown aggregation {how!r}")


class ScoreAccumulator:
    """Collects the declared statistics batch by batch; memory grows with superpixels, not pixels."""

    def __init__(self, statistics: Sequence[RegionStatistic | PoolStatistic], num_classes: int) -> None:
        self.region_stats = [s for s in statistics if isinstance(s, RegionStatistic)]
        self.pool_stats = [s for s in statistics if isinstance(s, PoolStatistic)]
        self.num_classes = num_classes
        self._region_parts: dict[str, list[np.ndarray]] = {s.name: [] for s in self.region_stats}
        self._pool_sums: dict[str, torch.Tensor] = {}
        self._pool_pixels = 0

    def add(self, probs: torch.Tensor, superpixels: torch.Tensor, regions_per_image: Sequence[int]) -> None:
        """Add a batch: ``probs (B, C, H, W)``, ``superpixels (B, H, W)`` local ids per image."""
        b, c, h, w = probs.shape
        pixel_probs = probs.permute(0, 2, 3, 1).reshape(-1, c)
        counts = torch.as_tensor(regions_per_image, device=probs.device)
        offsets = torch.cumsum(counts, 0) - counts
        regions = (superpixels.reshape(b, -1) + offsets.unsqueeze(1)).reshape(-1)
        num_regions = int(counts.sum())
        predicted: torch.Tensor | None = None
        for stat in self.region_stats:
            key = stat.score.order_key(pixel_probs) if stat.aggregation in ("max", "p95") else None
            values = key if key is not None else stat.score.compute(pixel_probs)
            to_value = stat.score.from_order_key if key is not None else None
            if stat.by_predicted_class:
                if predicted is None:
                    predicted = pixel_probs.argmax(dim=1)
                grouped = aggregate_by_superpixel(
                    values, regions * c + predicted, num_regions * c, stat.aggregation, to_value=to_value
                )
                if stat.aggregation == "max":
                    grouped = torch.nan_to_num(grouped, nan=-math.inf)
                result = grouped.reshape(num_regions, c, -1).permute(0, 2, 1)
            else:
                result = aggregate_by_superpixel(values, regions, num_regions, stat.aggregation, to_value=to_value)
            self._region_parts[stat.name].append(result.cpu().numpy())
        for pool_stat in self.pool_stats:
            total = pool_stat.score.compute(pixel_probs).to(torch.float64).sum(dim=0)
            previous = self._pool_sums.get(pool_stat.name)
            self._pool_sums[pool_stat.name] = total if previous is None else previous + total
        self._pool_pixels += pixel_probs.shape[0]

    def region_results(self) -> dict[str, np.ndarray]:
        """Each region statistic over the whole pool, rows in global region order."""
        return {name: np.concatenate(parts, axis=0) for name, parts in self._region_parts.items() if parts}

    def pool_results(self) -> dict[str, np.ndarray]:
        """Each pool statistic, averaged over all pool pixels."""
        return {name: (total / self._pool_pixels).cpu().numpy() for name, total in self._pool_sums.items()}
