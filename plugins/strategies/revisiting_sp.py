"""``revisiting-sp``: BvSB with class-balancing weights exp(−π_{d(s)}) (ClassBal; Cai et al. 2021).

Formula, the one-pass computation and the two variants: docs/strategies.md#revisiting-sp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from albench_plugins.strategies._variant import Variant

from albench import RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import spend_in_score_order
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import BvsbRatio, PredictedClass


@dataclass(frozen=True)
class RevisitingSpParams:
    """Parameters of ``revisiting-sp``.

    Attributes:
        aggregation: how u(x) is reduced over a region (mean in the paper).
        variant: ``original`` (ũ min–max normalised, Cai et al.) or ``oreal-paper`` (raw u, as the OREAL
            authors ran it, their weight-0 bug left out).
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "mean"
    variant: Variant = "original"
    percentile_method: PercentileMethod = "linear"


def dominant_predicted_class(predicted_pixels: np.ndarray) -> np.ndarray:
    """d(s) from ``(R, C)`` per-class predicted-pixel counts: the most frequent class, ties to the lowest."""
    return np.argmax(predicted_pixels, axis=1)


def class_balancing_weights(dominant: np.ndarray, num_classes: int) -> np.ndarray:
    """w_c = exp(−π_c), π_c = share of the regions whose dominant predicted class is c."""
    shares = np.bincount(dominant, minlength=num_classes) / max(len(dominant), 1)
    weights: np.ndarray = np.exp(-shares)
    return weights


def min_max_normalised(values: np.ndarray) -> np.ndarray:
    """(v − min) / (max − min) over the finite values; all zeros when they are all equal."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return values.copy()
    low, high = finite.min(), finite.max()
    if high == low:
        return np.where(np.isfinite(values), 0.0, values)
    normalised: np.ndarray = (values - low) / (high - low)
    return normalised


class RevisitingSp(Strategy):
    """Cai et al.'s ClassBal: BvSB weighted by exp(−share of regions predicted as the region's class)."""

    name = "revisiting-sp"
    version = "1"
    Params = RevisitingSpParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        return (
            RegionStatistic(
                "bvsb", BvsbRatio(), self.params.aggregation, percentile_method=self.params.percentile_method
            ),
            RegionStatistic("predicted_pixels", PredictedClass(), "sum"),
        )

    def scores(self, context: SelectionContext) -> np.ndarray:
        """score(s) = ũ(s) · w_{d(s)} for every pool region."""
        uncertainty = context.region_stats["bvsb"][:, 0].astype(np.float64)
        dominant = dominant_predicted_class(context.region_stats["predicted_pixels"])
        weights = class_balancing_weights(dominant, context.num_classes)
        if self.params.variant == "original":
            uncertainty = min_max_normalised(uncertainty)
        result: np.ndarray = uncertainty * weights[dominant]
        return result

    def select(self, context: SelectionContext) -> np.ndarray:
        return spend_in_score_order(context, self.scores(context))


@hookimpl
def register_strategies(register: Register) -> None:
    register(RevisitingSp)
