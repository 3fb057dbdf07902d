"""``oreal``: one-vs-rest entropy with class balancing (the OREAL paper, Sec. 3; supplementary §2).

Score, ITEMSPERCLASS allocation, per-class selection, the weak-label round-robin, ``tie_order`` and the
ablations: docs/strategies.md#oreal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from albench import RegionStatistic, Register, SelectionContext, Strategy, hookimpl
from albench.selection import allocate_items, take_within_budget, top_k
from albench.statistics import PercentileMethod, RegionAggregation
from albench.uncertainty import OvrEntropy, ProbTimesEntropy


@dataclass(frozen=True)
class OrealParams:
    """Parameters of ``oreal``; each ablation of the paper is one of them.

    Attributes:
        aggregation: max (the paper), mean or p95 (ablations).
        score: ``ovr`` (one-vs-rest entropy) or ``prob-entropy`` (p_c·H, the Prob×Entropy ablation).
        background_oversampling: set n_b = 0 before allocating (off: the δ ablation).
        tie_order: ``index`` (lowest class first) or ``first-seen`` (the authors' code).
        percentile_method: how p95 falls between two pixel values, NumPy's rule of that name (``linear``,
            NumPy's default; ``lower``, ``higher``, ``nearest``, ``inverted_cdf``).
    """

    aggregation: RegionAggregation = "max"
    score: Literal["ovr", "prob-entropy"] = "ovr"
    background_oversampling: bool = True
    tie_order: Literal["index", "first-seen"] = "index"
    percentile_method: PercentileMethod = "linear"


def first_seen_rank(labeled_classes: np.ndarray, num_classes: int, unrecorded: int | None) -> np.ndarray:
    """rank[c]: position of class c when classes are listed by first appearance in ``labeled_classes``
    (void and ``unrecorded`` skipped), followed by the classes never seen, in index order."""
    classes = np.asarray(labeled_classes, dtype=np.int64)
    keep = (classes >= 0) & (classes < num_classes)
    if unrecorded is not None:
        keep &= classes != unrecorded
    classes = classes[keep]
    unique, first = np.unique(classes, return_index=True)
    seen = unique[np.argsort(first, kind="stable")]
    never_seen = np.setdiff1d(np.arange(num_classes), seen)
    rank = np.empty(num_classes, dtype=np.int64)
    rank[np.concatenate([seen, never_seen])] = np.arange(num_classes)
    return rank


def interleave(lists: list[np.ndarray]) -> np.ndarray:
    """First element of each list, then the second of each, ...; exhausted lists are skipped."""
    longest = max((len(items) for items in lists), default=0)
    order = [int(items[turn]) for turn in range(longest) for items in lists if turn < len(items)]
    return np.asarray(order, dtype=np.int64)


class Oreal(Strategy):
    """OREAL (Wu et al.): per-class batches ranked by one-vs-rest entropy, sized to balance the classes."""

    name = "oreal"
    version = "2"
    Params = OrealParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        score = OvrEntropy() if self.params.score == "ovr" else ProbTimesEntropy()
        return (
            RegionStatistic(
                "class_scores", score, self.params.aggregation, percentile_method=self.params.percentile_method
            ),
        )

    def _oversampled_background(self, context: SelectionContext) -> int | None:
        if self.params.background_oversampling and context.background_class is not None:
            return int(context.background_class)
        return None

    def allocation(self, context: SelectionContext) -> tuple[np.ndarray, list[int]]:
        """δ for this round, and the order in which classes pick their regions."""
        counts = context.labeled_class_counts.astype(np.int64).copy()
        background = self._oversampled_background(context)
        if background is not None:
            counts[background] = 0
        if self.params.tie_order == "index":
            delta, _ = allocate_items(counts, context.budget)
            return delta, [int(c) for c in np.flatnonzero(delta)]
        rank = first_seen_rank(context.labeled_classes, context.num_classes, background)
        return allocate_items(counts, context.budget, rank)

    def items_per_class(self, context: SelectionContext) -> np.ndarray:
        """δ for this round, with background oversampling applied to the counts."""
        return self.allocation(context)[0]

    def select(self, context: SelectionContext) -> np.ndarray:
        scores = context.region_stats["class_scores"]
        delta, class_order = self.allocation(context)
        taken = context.labeled.copy()
        per_class: list[np.ndarray] = []
        for c in class_order:
            chosen = top_k(scores[:, c], int(delta[c]), candidates=np.flatnonzero(~taken))
            taken[chosen] = True
            per_class.append(chosen)
        if context.unit_cost:
            return np.concatenate(per_class) if per_class else np.empty(0, dtype=np.int64)
        order = interleave(per_class)
        return take_within_budget(order, context.region_cost(order), context.budget, overshoot=context.overshoot)


@hookimpl
def register_strategies(register: Register) -> None:
    register(Oreal)
