"""Selection building blocks shared by strategies, and the runner's check of what a strategy returned."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from albench.errors import SelectionError

if TYPE_CHECKING:
    from albench.components.strategy import SelectionContext

__all__ = [
    "CostFunction",
    "allocate_items",
    "items_per_class",
    "spend_in_score_order",
    "take_within_budget",
    "top_k",
    "validate_selection",
]

CostFunction = Callable[[np.ndarray], np.ndarray]


def allocate_items(counts: np.ndarray, budget: int, tie_rank: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
    """ITEMSPERCLASS (OREAL supplementary, Algorithm 1) with argmin ties broken by ``tie_rank`` (lower first;
    default: the class index).

    Repeats ``budget`` times: c ← argmin_c (n_c + δ_c), δ_c += 1. Returns δ and the classes in the order
    they first received a pick.
    """
    rank = np.arange(len(counts)) if tie_rank is None else np.asarray(tie_rank)
    delta = np.zeros(len(counts), dtype=np.int64)
    heap = [(int(n), int(rank[c]), c) for c, n in enumerate(counts)]
    heapq.heapify(heap)
    first_picked: list[int] = []
    for _ in range(budget):
        total, order, c = heapq.heappop(heap)
        if delta[c] == 0:
            first_picked.append(c)
        delta[c] += 1
        heapq.heappush(heap, (total + 1, order, c))
    return delta, first_picked


def items_per_class(counts: np.ndarray, budget: int) -> np.ndarray:
    """ITEMSPERCLASS: per-class picks δ that balance n + δ, ties to the lowest class index."""
    return allocate_items(counts, budget)[0]


def top_k(scores: np.ndarray, k: int, candidates: np.ndarray | None = None) -> np.ndarray:
    """Ids of the ``k`` highest scores, best first; ties go to the lowest id; NaN never wins.

    ``candidates`` restricts the choice to those ids. Deterministic, and O(R) rather than a full sort.
    """
    ids = np.arange(len(scores)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    values = np.nan_to_num(scores[ids].astype(np.float64), nan=-np.inf)
    if k <= 0 or len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    if k < len(ids):
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        keep = values >= threshold  # every tie at the threshold, so the stable sort below decides
        ids, values = ids[keep], values[keep]
    order = np.lexsort((ids, -values))
    return ids[order][:k]


def take_within_budget(order: np.ndarray, costs: np.ndarray, budget: int, *, overshoot: bool = False) -> np.ndarray:
    """The longest prefix of ``order`` whose clicks fit in ``budget``.

    With ``overshoot``, regions are taken as long as the clicks spent before them do not exceed the budget,
    so the region that crosses it is kept too, and a budget reached exactly still takes one more region (the
    OREAL authors' ``count_multiClassLabeling_click`` adds a region, then stops once the clicks exceed the budget).
    """
    spent = np.cumsum(costs)
    if overshoot:
        fits = int(np.searchsorted(spent, budget, side="right")) + 1
    else:
        fits = int(np.searchsorted(spent, budget, side="right"))
    return order[: min(fits, len(order))]


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


def validate_selection(
    selection: object,
    *,
    strategy: str,
    labeled: np.ndarray,
    costs_of: CostFunction,
    budget: int,
    overshoot: bool,
) -> np.ndarray:
    """Check a strategy's return value; raise :class:`SelectionError` naming the strategy if it breaks a rule."""
    ids = np.asarray(selection)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise SelectionError(
            f"strategy {strategy!r} must return a 1-D array of integer region ids, "
            f"got shape {ids.shape} and dtype {ids.dtype}"
        )
    ids = ids.astype(np.int64)
    num_regions = len(labeled)
    out_of_range = ids[(ids < 0) | (ids >= num_regions)]
    if out_of_range.size:
        raise SelectionError(
            f"strategy {strategy!r} returned region {int(out_of_range[0])}, outside the pool's "
            f"{num_regions} regions (valid ids are 0..{num_regions - 1})"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise SelectionError(
            f"strategy {strategy!r} returned region {int(unique[counts > 1][0])} more than once in one round"
        )
    already = ids[labeled[ids]]
    if already.size:
        raise SelectionError(f"strategy {strategy!r} returned region {int(already[0])}, which is already labeled")
    costs = costs_of(ids)
    spent = int(costs.sum())
    within = spent <= budget or (overshoot and int(costs[:-1].sum()) <= budget)
    if not within:
        raise SelectionError(
            f"strategy {strategy!r} selected {len(ids)} regions costing {spent} clicks, over the round's "
            f"budget of {budget} clicks"
        )
    return ids
