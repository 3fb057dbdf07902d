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

__all__ = ["Aggregation", "PixelScore", "PoolStatistic", "RegionAggregation", "RegionStatistic"]

#: How the engine reduces a pixel score over a superpixel (``sum`` serves means and pool-weighted scores).
Aggregation = Literal["max", "mean", "p95", "sum"]
#: The aggregations a strategy offers its users: the paper's mean_agg, max_agg and 95th percentile.
RegionAggregation = Literal["max", "mean", "p95"]


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

    #: Optional: a numba-compiled scalar function f with ``order_key(probs) == f(probs)`` elementwise (the key
    #: of class c's channel depends on p_c alone) and f(p) ≥ 0 or NaN for every probability p (its float32
    #: bits then order as integers). The CPU engine fuses f into its maximum, so maxima cost one read of the
    #: probabilities. Leave ``None`` when the key is not of that form.
    elementwise_key: Callable[[float], float] | None = None

    def order_key(self, probs: torch.Tensor) -> torch.Tensor | None:
        """A ``(N, K)`` key, strictly increasing in the score channel by channel, or ``None``.

        Keep it elementwise where possible (it is then applied to channel-major maps too) and cheap: max
        statistics read it once per value, which is most of their cost.
        """
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
