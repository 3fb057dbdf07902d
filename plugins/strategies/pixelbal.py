"""``pixelbal``: BvSB with pixel-wise class-balancing weights (1 + ν·π_c)^(−2) (Hwang et al. 2023).

Formula, the computation (one pass for mean and max; p95 takes a second pass over the pool once the pool
prior π is known, and is then the exact p95 of u·w) and the variants: docs/strategies.md#pixelbal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from albench_plugins.strategies._variant import Variant

from albench import PixelScore, PoolStatistic, RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import spend_in_score_order
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import BvsbRatio, Probabilities, bvsb_ratio

# The softmax temperature each variant uses when ``temperature`` is not set.
VARIANT_TEMPERATURE = {"original": 0.1, "oreal-paper": 1.0}


@dataclass(frozen=True)
class PixelBalParams:
    """Parameters of ``pixelbal``.

    Attributes:
        aggregation: mean (the paper), max or p95 (exact, in a second pass over the pool).
        nu: ν of the weights (6 for Cityscapes, 12 otherwise).
        temperature: T of the softmax; unset, the variant's (0.1 original, 1 oreal-paper).
        variant: ``original`` (Hwang et al.) or ``oreal-paper``.
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "mean"
    nu: float = 12.0
    temperature: float | None = None
    variant: Variant = "original"
    percentile_method: PercentileMethod = "linear"

    def __post_init__(self) -> None:
        if self.nu < 0:
            raise ValueError(f"parameter 'nu' must be at least 0, got {self.nu}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"parameter 'temperature' must be positive, got {self.temperature}")


def pixelbal_weights(class_prior: np.ndarray, nu: float) -> np.ndarray:
    """w_c = (1 + ν·π_c)^(−2)."""
    weights: np.ndarray = (1.0 + nu * np.asarray(class_prior, dtype=np.float64)) ** -2
    return weights


class WeightedBvsb(PixelScore):
    """One channel: v(x) = u(x)·w_{argmax p(x)} in float64, u the BvSB ratio at temperature T (the argmax does
    not depend on T). The same products as ``max_c w_c·M_c(s)``, so max and p95 score the same pixel values."""

    def __init__(self, temperature: float, weights: np.ndarray) -> None:
        self.temperature = temperature
        self.weights = np.asarray(weights, dtype=np.float64)
        self.name = f"pixelbal-v(T={temperature:g})"

    def channels(self, num_classes: int) -> int:
        return 1

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        weights = torch.as_tensor(self.weights, dtype=torch.float64, device=probs.device)
        uncertainty = bvsb_ratio(probs, self.temperature).to(torch.float64)
        weighted: torch.Tensor = (uncertainty * weights[probs.argmax(dim=1)]).unsqueeze(1)
        return weighted


class PixelBal(Strategy):
    """Hwang et al.'s PixelBal: BvSB weighted per pixel by the predicted class's (1 + ν·π)^(−2)."""

    name = "pixelbal"
    version = "2"  # 2: p95 is the exact p95(u·w) of a second pass (1: p95(u)·w̄)
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
        if aggregation == "mean":
            return (RegionStatistic("bvsb_sum_by_class", bvsb, "sum", by_predicted_class=True), prior)
        return (prior,)  # p95: the weights first, the percentile in the second pass

    def second_pass(self, num_classes: int, pool_stats: Mapping[str, np.ndarray]) -> tuple[RegionStatistic, ...]:
        """For p95: the percentile of v = u·w over each region, once π (hence w) is known."""
        if self.params.aggregation != "p95":
            return ()
        weights = pixelbal_weights(pool_stats["class_prior"], self.params.nu)
        score = WeightedBvsb(self.temperature, weights)
        return (RegionStatistic("weighted_bvsb_p95", score, "p95", percentile_method=self.params.percentile_method),)

    def scores(self, context: SelectionContext) -> np.ndarray:
        """The region score of every pool region (see docs/strategies.md#pixelbal for each aggregation)."""
        weights = pixelbal_weights(context.pool_stats["class_prior"], self.params.nu)
        if self.params.aggregation == "max":
            maxima = context.region_stats["bvsb_max_by_class"][:, 0, :]  # (R, C); −inf where no pixel
            result: np.ndarray = (maxima * weights).max(axis=1)
            return result
        if self.params.aggregation == "p95":
            result = np.asarray(context.region_stats["weighted_bvsb_p95"][:, 0], dtype=np.float64)
            return result
        sums = context.region_stats["bvsb_sum_by_class"][:, 0, :].astype(np.float64)  # (R, C)
        result = (sums @ weights) / np.maximum(context.region_sizes, 1)
        return result

    def select(self, context: SelectionContext) -> np.ndarray:
        return spend_in_score_order(context, self.scores(context))


@hookimpl
def register_strategies(register: Register) -> None:
    register(PixelBal)
