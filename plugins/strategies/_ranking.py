"""What the score-ordered strategies share: the parameter types, and spending the click budget in score order."""

from __future__ import annotations

from typing import Literal

import numpy as np

from albench import SelectionContext
from albench.selection import take_within_budget, top_k

__all__ = ["RegionAggregation", "Variant", "spend_in_score_order"]

# How pixel scores are reduced over a superpixel (SPEC.md §Strategies: mean_agg, max_agg, 95th percentile).
RegionAggregation = Literal["max", "mean", "p95"]
# A baseline as its authors published it, or as the OREAL authors' copy computed it (SPEC.md §Two flavours).
Variant = Literal["original", "oreal-paper"]


def spend_in_score_order(context: SelectionContext, scores: np.ndarray) -> np.ndarray:
    """The unlabeled regions in descending score (ties: lowest id; NaN last), as far as the click budget goes.

    With one click per region these are the Q best regions. Otherwise regions are taken in score order until
    the next one no longer fits (or, with ``context.overshoot``, until one crosses the budget).
    """
    candidates = context.unlabeled_ids()
    if context.unit_cost:
        return top_k(scores, context.budget, candidates)
    # A region costs at least one click unless it is all void, so budget + 1 regions nearly always suffice;
    # look further only when every region ranked so far fitted.
    wanted = context.budget + 1
    while True:
        order = top_k(scores, wanted, candidates)
        taken = take_within_budget(order, context.region_cost(order), context.budget, overshoot=context.overshoot)
        if len(taken) < len(order) or len(order) == len(candidates):
            return taken
        wanted *= 2
