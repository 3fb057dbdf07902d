"""``entropy``: the regions whose pixels the model is least sure of, by Shannon entropy (SPEC.md §Strategies).

Pixel score H(x) = −Σ_c p_c(x) ln p_c(x) (Shannon 1948; 0·ln 0 = 0), reduced over the region's pixels P(s)
by ``aggregation`` (mean in the paper's baselines); the highest-scoring unlabeled regions are taken, in
score order until the click budget is spent. The OREAL authors' copy adds ε = 1e-7 inside the logarithm,
which lowers H by at most C·1e-7 nats per pixel, so there is no ``variant``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from albench import RegionStatistic, Register, ScoredStrategy, SelectionContext, hookimpl
from albench.statistics import RegionAggregation
from albench.uncertainty import ShannonEntropy


@dataclass(frozen=True)
class EntropyParams:
    """Parameters of ``entropy``.

    Attributes:
        aggregation: how H(x) is reduced over a region: mean (the paper's baselines), max or p95.
    """

    aggregation: RegionAggregation = "mean"


class EntropyStrategy(ScoredStrategy):
    """Shannon entropy aggregated over each region; highest first."""

    name = "entropy"
    version = "1"
    Params = EntropyParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        return (RegionStatistic("entropy", ShannonEntropy(), self.params.aggregation),)

    def scores(self, context: SelectionContext) -> np.ndarray:
        return context.region_stats["entropy"][:, 0]


@hookimpl
def register_strategies(register: Register) -> None:
    register(EntropyStrategy)
