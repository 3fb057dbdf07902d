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


def authors_walk(labeled_order: np.ndarray, labeled_round: np.ndarray | None, region_image: np.ndarray) -> np.ndarray:
    """Positions in ``labeled_order`` in the order the OREAL authors' code walks the labeled regions.

    Images in pool order (global ids are image-major). Within an image, the code's per-image list of region
    ids: the initial set's regions in labeling order, then after each query ``list(set(list + picks))``
    (simple_AL ``main.py``), whose order is CPython's set order over the local superpixel ids, reproduced here
    with a Python set built the same way.
    """
    order = np.asarray(labeled_order, dtype=np.int64)
    rounds = (
        np.zeros(len(order), dtype=np.int64) if labeled_round is None else np.asarray(labeled_round, dtype=np.int64)
    )
    images = np.asarray(region_image, dtype=np.int64)[order]
    local = order - np.searchsorted(region_image, images, side="left")
    position = {(int(i), int(k)): p for p, (i, k) in enumerate(zip(images, local, strict=True))}
    lists: dict[int, list[int]] = {}
    for round_index in np.unique(rounds):
        picks: dict[int, list[int]] = {}
        for p in np.flatnonzero(rounds == round_index):
            picks.setdefault(int(images[p]), []).append(int(local[p]))
        for image, ids in picks.items():
            lists[image] = ids if round_index == 0 else list(set(lists.get(image, []) + ids))
    return np.asarray([position[(image, k)] for image in sorted(lists) for k in lists[image]], dtype=np.int64)


def first_seen_rank(named: np.ndarray, unrecorded: int | None) -> np.ndarray:
    """rank[c]: position of class c when classes are listed by first appearance in ``named`` (``(L, C) bool``,
    rows in walk order, classes of a row in index order; ``unrecorded`` skipped), then the classes never seen,
    in index order."""
    named = np.asarray(named, dtype=bool).copy()
    num_classes = named.shape[1]
    if unrecorded is not None:
        named[:, unrecorded] = False
    seen = named.any(axis=0)
    first_row = np.where(seen, named.argmax(axis=0) if len(named) else 0, len(named))
    listed = np.lexsort((np.arange(num_classes), first_row))
    rank = np.empty(num_classes, dtype=np.int64)
    rank[listed] = np.arange(num_classes)
    return rank


def index_rank(num_classes: int, last: int | None) -> np.ndarray:
    """rank[c]: classes in index order, with ``last`` (if any) moved to the end."""
    listed = [c for c in range(num_classes) if c != last] + ([] if last is None else [last])
    rank = np.empty(num_classes, dtype=np.int64)
    rank[listed] = np.arange(num_classes)
    return rank


def interleave(lists: list[np.ndarray]) -> np.ndarray:
    """First element of each list, then the second of each, ...; exhausted lists are skipped."""
    longest = max((len(items) for items in lists), default=0)
    order = [int(items[turn]) for turn in range(longest) for items in lists if turn < len(items)]
    return np.asarray(order, dtype=np.int64)


class Oreal(Strategy):
    """OREAL (Wu et al.): per-class batches ranked by one-vs-rest entropy, sized to balance the classes."""

    name = "oreal"
    version = "3"
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
        background = self._oversampled_background(context)
        if self.params.tie_order == "index":
            counts = context.labeled_class_counts.astype(np.int64).copy()
            if background is not None:
                counts[background] = 0
            delta, _ = allocate_items(counts, context.budget)
            return delta, [int(c) for c in np.flatnonzero(delta)]
        named = context.named_classes()
        counts = named.sum(axis=0).astype(np.int64)
        if background is not None:
            counts[background] = 0
        if context.unit_cost:
            walk = authors_walk(context.labeled_order, context.labeled_round, context.region_image)
            rank = first_seen_rank(named[walk], background)
        else:
            rank = index_rank(context.num_classes, background)
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
