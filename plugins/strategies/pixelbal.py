"""``pixelbal``: BvSB with pixel-wise class-balancing weights (1 + ν·π_c)^(−2) (Hwang et al. 2023).

Formula, the one-pass computation (exact for mean and max, approximate for p95) and the variants:
docs/strategies.md#pixelbal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from albench_plugins.strategies._variant import Variant

from albench import PoolStatistic, RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import spend_in_score_order
from albench.statistics import RegionAggregation
from albench.uncertainty import BvsbRatio, Probabilities

# The softmax temperature each variant uses when ``temperature`` is not set.
VARIANT_TEMPERATURE = {"original": 0.1, "oreal-paper": 1.0}


@dataclass(frozen=True)
class PixelBalParams:
    """Parameters of ``pixelbal``.

    Attributes:
        aggregation: mean (the paper), max or p95 (approximate, see docs/strategies.md).
        nu: ν of the weights (6 for Cityscapes, 12 otherwise).
        temperature: T of the softmax; unset, the variant's (0.1 original, 1 oreal-paper).
        variant: ``original`` (Hwang et al.) or ``oreal-paper``.
    """

    aggregation: RegionAggregation = "mean"
    nu: float = 12.0
    temperature: float | None = None
    variant: Variant = "original"

    def __post_init__(self) -> None:
        if self.nu < 0:
            raise ValueError(f"parameter 'nu' must be at least 0, got {self.nu}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"parameter 'temperature' must be positive, got {self.temperature}")


def pixelbal_weights(class_prior: np.ndarray, nu: float) -> np.ndarray:
    """w_c = (1 + ν·π_c)^(−2)."""
    weights: np.ndarray = (1.0 + nu * np.asarray(class_prior, dtype=np.float64)) ** -2
    return weights


class PixelBal(Strategy):
    """Hwang et al.'s PixelBal: BvSB weighted per pixel by the predicted class's (1 + ν·π)^(−2)."""

    name = "pixelbal"
    version = "1"
    Params = PixelBalParams

    @property
    def temperature(self) -> float:
        """The softmax temperature in use: ``temperature`` if set, else the variant's."""
        if self.params.temperature is not None:
            return float(self.params.temperature)
        return VARIANT_TEMPERATURE[self.params.variant]

    def statistics(self, num_classes: int) -> tuple[RegionStatistic | PoolStatistic, ...]:
        bvsb = BvsbRatio(self.temperature)
        prior = PoolStatistic("class_prior", Probabilities(self.temperature))
        aggregation = self.params.aggregation
        if aggregation == "max":
            return (RegionStatistic("bvsb_max_by_class", bvsb, "max", by_predicted_class=True), prior)
        sums = RegionStatistic("bvsb_sum_by_class", bvsb, "sum", by_predicted_class=True)
        if aggregation == "mean":
            return (sums, prior)
        return (RegionStatistic("bvsb_p95", bvsb, "p95"), sums, prior)

    def scores(self, context: SelectionContext) -> np.ndarray:
        """The region score of every pool region (see the module docstring for each aggregation)."""
        weights = pixelbal_weights(context.pool_stats["class_prior"], self.params.nu)
        if self.params.aggregation == "max":
            maxima = context.region_stats["bvsb_max_by_class"][:, 0, :]  # (R, C); −inf where no pixel
            result: np.ndarray = (maxima * weights).max(axis=1)
            return result
        sums = context.region_stats["bvsb_sum_by_class"][:, 0, :].astype(np.float64)  # (R, C)
        weighted = sums @ weights
        if self.params.aggregation == "mean":
            result = weighted / np.maximum(context.region_sizes, 1)
            return result
        total = sums.sum(axis=1)
        mean_weight = np.divide(weighted, total, out=np.ones_like(weighted), where=total > 0)
        result = context.region_stats["bvsb_p95"][:, 0] * mean_weight
        return result

    def select(self, context: SelectionContext) -> np.ndarray:
        return spend_in_score_order(context, self.scores(context))


@hookimpl
def register_strategies(register: Register) -> None:
    register(PixelBal)
