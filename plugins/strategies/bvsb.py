"""``bvsb``: best versus second best (Joshi et al. 2009), the ratio p₍₂₎/p₍₁₎ or the margin aggregated over each
region, as the OREAL paper's baseline (docs/strategies.md#bvsb)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from albench import RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import spend_in_score_order
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import BvsbMargin, BvsbRatio


@dataclass(frozen=True)
class BvsbParams:
    """Parameters of ``bvsb``.

    Attributes:
        aggregation: mean (the paper's baseline), max or p95.
        measure: ``ratio`` p₍₂₎/p₍₁₎ or ``margin`` 1 − (p₍₁₎ − p₍₂₎).
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "mean"
    measure: Literal["ratio", "margin"] = "ratio"
    percentile_method: PercentileMethod = "linear"


class BvsbStrategy(Strategy):
    """Best-versus-second-best uncertainty aggregated over each region; highest first."""

    name = "bvsb"
    version = "1"
    Params = BvsbParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        score = BvsbRatio() if self.params.measure == "ratio" else BvsbMargin()
        return (
            RegionStatistic("bvsb", score, self.params.aggregation, percentile_method=self.params.percentile_method),
        )

    def select(self, context: SelectionContext) -> np.ndarray:
        return spend_in_score_order(context, context.region_stats["bvsb"][:, 0])


@hookimpl
def register_strategies(register: Register) -> None:
    register(BvsbStrategy)
