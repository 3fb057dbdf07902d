"""``entropy-per-click``: the most uncertain regions per click they cost (weak labels charge per class)."""

from dataclasses import dataclass

import numpy as np
from albench import RegionAggregation, RegionStatistic, Register, ScoredStrategy, SelectionContext, hookimpl
from albench.uncertainty import ShannonEntropy


@dataclass(frozen=True)
class EntropyPerClickParams:
    """Attributes:
    aggregation: how a region's pixel entropies are reduced: mean, max or p95."""

    aggregation: RegionAggregation = "mean"


class EntropyPerClick(ScoredStrategy):
    name, version, Params = "entropy-per-click", "1", EntropyPerClickParams

    def statistics(self, num_classes: int) -> list[RegionStatistic]:
        return [RegionStatistic("entropy", ShannonEntropy(), self.params.aggregation)]

    def scores(self, context: SelectionContext) -> np.ndarray:
        return context.region_stats["entropy"][:, 0] / context.region_cost(np.arange(context.num_regions))


@hookimpl
def register_strategies(register: Register) -> None:
    register(EntropyPerClick)
