"""``entropy``: the regions whose pixels the model is least sure of, by Shannon entropy aggregated over each
region (docs/strategies.md#entropy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from albench import RegionStatistic, Register, ScoredStrategy, SelectionContext, hookimpl
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import ShannonEntropy


@dataclass(frozen=True)
class EntropyParams:
    """Parameters of ``entropy``.

    Attributes:
        aggregation: how H(x) is reduced over a region: mean (the paper's baselines), max or p95.
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "mean"
    percentile_method: PercentileMethod = "linear"


class EntropyStrategy(ScoredStrategy):
    """Shannon entropy aggregated over each region; highest first."""

    name = "entropy"
    version = "1"
    Params = EntropyParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        return (
            RegionStatistic(
                "entropy", ShannonEntropy(), self.params.aggregation, percentile_method=self.params.percentile_method
            ),
        )

    def scores(self, context: SelectionContext) -> np.ndarray:
        return context.region_stats["entropy"][:, 0]


@hookimpl
def register_strategies(register: Register) -> None:
    register(EntropyStrategy)
