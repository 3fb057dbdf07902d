"""``oreal``: one-vs-rest entropy with class balancing (SPEC.md §Strategies, OREAL).

1. Score: H_c(s) = max over the region's pixels of H_c(x) = −p_c ln(p_c + ε) − (1 − p_c) ln(1 − p_c + ε),
   natural log, ε = 1e-7 (``aggregation`` picks max, mean or the 95th percentile).
2. Items per class: δ = ITEMSPERCLASS(n, Q) (supplementary Algorithm 1), n_c = labeled regions whose
   dominant ground-truth class is c; with ``background_oversampling`` and a background class b, n_b = 0
   (supplementary §2.2), so background gets the first picks.
3. Selection: for c = 0…C−1 in order, the δ_c unlabeled regions not yet picked this round with the highest
   H_c(s). When regions cost one click per class (weak labels), the per-class ranked lists are interleaved
   round-robin instead and taken until the click budget is spent (supplementary §3.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from albench import RegionStatistic, SelectionContext, Strategy, hookimpl
from albench.hookspecs import Register
from albench.selection import items_per_class, take_within_budget, top_k
from albench.uncertainty import OvrEntropy, ProbTimesEntropy


@dataclass(frozen=True)
class OrealParams:
    """``aggregation``: max (the paper), mean or p95 (ablations). ``score``: ``ovr`` (one-vs-rest entropy)
    or ``prob-entropy`` (p_c·H, the Prob×Entropy ablation). ``background_oversampling``: set n_b = 0
    (off: the δ ablation)."""

    aggregation: Literal["max", "mean", "p95"] = "max"
    score: Literal["ovr", "prob-entropy"] = "ovr"
    background_oversampling: bool = True


class Oreal(Strategy):
    """OREAL (Wu et al.): per-class batches ranked by one-vs-rest entropy, sized to balance the classes."""

    name = "oreal"
    version = "1"
    Params = OrealParams

    def statistics(self, num_classes: int) -> tuple[RegionStatistic, ...]:
        score = OvrEntropy() if self.params.score == "ovr" else ProbTimesEntropy()
        return (RegionStatistic("class_scores", score, self.params.aggregation),)

    def items_per_class(self, context: SelectionContext) -> np.ndarray:
        """δ for this round, with background oversampling applied to the counts."""
        counts = context.labeled_class_counts.copy()
        if self.params.background_oversampling and context.background_class is not None:
            counts[context.background_class] = 0
        return items_per_class(counts, context.budget)

    def select(self, context: SelectionContext) -> np.ndarray:
        scores = context.region_stats["class_scores"]
        delta = self.items_per_class(context)
        taken = context.labeled.copy()
        if context.unit_cost:
            picked: list[np.ndarray] = []
            for c in np.flatnonzero(delta):
                chosen = top_k(scores[:, c], int(delta[c]), candidates=np.flatnonzero(~taken))
                taken[chosen] = True
                picked.append(chosen)
            return np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
        # Round-robin over the per-class ranked lists (weak labels: a region costs one click per class).
        unlabeled = np.flatnonzero(~taken)
        ranked = {int(c): list(top_k(scores[:, c], int(delta[c]) + context.budget, candidates=unlabeled))
                  for c in np.flatnonzero(delta)}
        order: list[int] = []
        for turn in range(int(delta.max(initial=0))):
            for c, candidates in ranked.items():
                if turn >= delta[c]:
                    continue
                while candidates and taken[candidates[0]]:
                    candidates.pop(0)
                if candidates:
                    region = candidates.pop(0)
                    taken[region] = True
                    order.append(region)
        ids = np.asarray(order, dtype=np.int64)
        return take_within_budget(ids, context.region_cost(ids), context.budget, overshoot=context.overshoot)


@hookimpl
def register_strategies(register: Register) -> None:
    register(Oreal)
