"""What a strategy declares it needs from the model: pixel scores and their reductions over the pool.

A :class:`PixelScore` turns the softmax into per-pixel values; a :class:`RegionStatistic` reduces one over
each superpixel, a :class:`PoolStatistic` averages one over every pixel of the pool. The scoring engine
(:mod:`albench.engine.scoring`) computes them all in one streamed pass per round.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "PERCENTILE_METHODS",
    "Aggregation",
    "PercentileMethod",
    "PixelScore",
    "PoolStatistic",
    "RegionAggregation",
    "RegionStatistic",
]

#: How the engine reduces a pixel score over a superpixel (``sum`` serves means and pool-weighted scores).
Aggregation = Literal["max", "mean", "p95", "sum"]
#: The aggregations a strategy offers its users: the paper's mean_agg, max_agg and 95th percentile.
RegionAggregation = Literal["max", "mean", "p95"]
#: How ``p95`` picks between order statistics: NumPy's names and rules (``numpy.percentile(method=...)``).
#: ``linear`` (NumPy's default) interpolates between the two order statistics around the 95 % position;
#: the others return one of the region's values.
PercentileMethod = Literal["linear", "lower", "higher", "nearest", "inverted_cdf"]
PERCENTILE_METHODS: tuple[str, ...] = ("linear", "lower", "higher", "nearest", "inverted_cdf")


class PixelScore(ABC):
    """A pixel-level score with one or more channels, computed from the softmax.

    The engine's results are exact: a region's maximum is bit for bit the maximum of :meth:`compute`'s values
    over its pixels, a percentile the NumPy percentile of those values. A score may make maxima cheaper by
    declaring an elementwise key (:attr:`elementwise_key` and :attr:`key_tolerance`).
    """

    name: str = "score"

    @abstractmethod
    def channels(self, num_classes: int) -> int:
        """How many channels :meth:`compute` returns for ``num_classes`` classes."""

    @abstractmethod
    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` pixel probabilities → ``(N, K)`` scores."""

    #: Optional: a numba-compiled scalar function f of one probability, with f(p) ≥ 0 or NaN for every
    #: p in [0, 1], such that channel c's score depends on p_c alone and is, up to float rounding, increasing
    #: in f(p_c). ``compute`` must then also accept a single column ``(N, 1)`` and score it as that channel.
    #: The CPU engine fuses f into its run maximum (the probabilities are read once) and scores only the
    #: pixels whose key may still hold the maximal score (:attr:`key_tolerance`).
    elementwise_key: Callable[[float], float] | None = None

    #: With :attr:`elementwise_key`: how far below a region's maximal key, in units in the last place of the
    #: float32 key, a pixel's key may lie and the pixel still score at least as high (a promise the score's
    #: author proves for the rounding of ``compute``). Keys of 0 must score as p = 0 does and no higher than
    #: any larger key. ``None``: the engine does not use the key.
    key_tolerance: int | None = None


@dataclass(frozen=True)
class RegionStatistic:
    """A pixel score reduced over each superpixel: the result has shape ``(R, K)``.

    With ``by_predicted_class`` the reduction is split by each pixel's argmax class, giving ``(R, K, C)``
    (only ``sum`` and ``max``): strategies whose weights depend on a pool statistic apply them after the
    pass instead of scoring the pool twice. For ``sum`` divide by the region size to get a mean.
    ``percentile_method`` says how ``p95`` reads the 95th percentile (see :data:`PercentileMethod`).
    """

    name: str
    score: PixelScore
    aggregation: Aggregation
    by_predicted_class: bool = False
    percentile_method: PercentileMethod = "linear"

    def __post_init__(self) -> None:
        if self.by_predicted_class and self.aggregation not in ("sum", "max"):
            raise ValueError(f"by_predicted_class supports 'sum' and 'max', not {self.aggregation!r}")
        if self.percentile_method not in PERCENTILE_METHODS:
            raise ValueError(
                f"percentile_method must be one of {', '.join(PERCENTILE_METHODS)}, not {self.percentile_method!r}"
            )


@dataclass(frozen=True)
class PoolStatistic:
    """A pixel score averaged over every pixel of the pool: the result has shape ``(K,)``."""

    name: str
    score: PixelScore
