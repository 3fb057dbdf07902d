"""``bvsb``: best versus second best (Joshi et al. 2009), as the OREAL paper's baseline (SPEC.md §Strategies).

Pixel uncertainty u(x) = p₍₂₎(x) / p₍₁₎(x), the ratio of the second-highest to the highest class probability
(in (0, 1], higher = more uncertain); region score = u aggregated over P(s) (``aggregation``, mean in the
paper's baseline); highest first, in score order until the click budget is spent.

``measure = "margin"`` scores 1 − (p₍₁₎ − p₍₂₎) instead, Joshi et al.'s margin (with two classes it orders
pixels as the ratio does; with more it does not). The OREAL authors' copy, Cai et al.'s and Hwang et al.'s
code all use the ratio at T = 1, so there is no ``variant``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from albench import RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import spend_in_score_order
from albench.statistics import RegionAggregation
from albench.uncertainty import BvsbMargin, BvsbRatio


@dataclass(frozen=True)
class BvsbParams:
    """Parameters of ``bvsb``.

    Attributes:
        aggregation: mean (the paper's baseline), max or p95.
        measure: ``ratio`` p₍₂₎/p₍₁₎ or ``margin`` 1 − (p₍₁₎ − p₍₂₎).
    """

    aggregation: RegionAggregation = "mean"
    measure: Literal["ratio", "margin"] = "ratio"


class BvsbStrategy(Strategy):
    """Best-versus-second-best uncertainty aggregated over each region; highest first."""

    name = "bvsb"
    version = "1"
    Params = BvsbParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        score = BvsbRatio() if self.params.measure == "ratio" else BvsbMargin()
        return (RegionStatistic("bvsb", score, self.params.aggregation),)

    def select(self, context: SelectionContext) -> np.ndarray:
        return spend_in_score_order(context, context.region_stats["bvsb"][:, 0])


@hookimpl
def register_strategies(register: Register) -> None:
    register(BvsbStrategy)
