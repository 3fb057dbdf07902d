"""``oreal``: one-vs-rest entropy with class balancing (Wu et al., SPEC.md §Strategies, OREAL).

1. Score: H_c(s) = max over the region's pixels of H_c(x) = −p_c ln(p_c + ε) − (1 − p_c) ln(1 − p_c + ε),
   natural log, ε = 1e-7 (``aggregation`` picks max, or mean / the 95th percentile for the ablations).
2. Items per class: δ = ITEMSPERCLASS(n, Q) (supplementary Algorithm 1): Q times, c ← argmin_c (n_c + δ_c),
   δ_c += 1. n_c = labeled regions whose dominant ground-truth class is c; with ``background_oversampling``
   and a background class b, n_b = 0 (supplementary §2.2), so background gets the first picks.
3. Selection: class by class, the δ_c unlabeled regions not yet picked this round with the highest H_c(s). A
   region picked for class c may be of another class; the next round's n compensates (supplementary Fig. 2).
4. Weak labels (a region costs one click per class present, supplementary §3.5): the per-class lists of step 3
   are interleaved round-robin (first of each class, then second of each, ...) and taken in that order until
   the click budget is spent. As in the authors' code the lists are built first, class by class, so a region
   belongs to the list of the first class that picked it.

``tie_order`` picks whose rules decide the class counts, the ties of step 2 and the class order of steps 3-4:

- ``index`` (default, SPEC.md): n_c counts dominant classes; ties go to the lowest class index; classes are
  visited in index order. The rule is stated in the paper's terms and does not depend on the order in which
  regions happened to be labeled, so it is the default (README §OREAL).
- ``first-seen``: the authors' query step (simple_AL ``other_queries.py: class_entropy_patch_query`` and
  ``class_entropy_patch_multiClass_query``, ``utils.py: balance_classes``; docs/conformance.md):
  n_c counts every labeled region whose label names c (the labeling scheme's ``named_classes``: the dominant
  class, or every class present for ``weak`` and ``precise``); the background is never counted under
  oversampling. Ties go to the classes in the order the code first meets them, then to the classes never met
  in index order, and classes pick in the order they first received an item. The code meets classes by
  walking the labeled images in pool order and, within an image, its list of labeled regions: the initial
  set in labeling order, and after every query ``list(set(previous + picks))`` (``main.py``; CPython's set
  order, see :func:`authors_walk`), then the classes of a region in index order. With weak labels the code
  records every class on the first labeled image, so the order is simply the index order, background last.

Ablations (supplementary §2.3): ``aggregation=mean`` (OREAL mean), ``score=prob-entropy`` (p_c·H instead of
H_c), ``background_oversampling=false`` (OREAL δ), ``aggregation=p95`` (OREAL 95%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from albench_plugins.strategies._ranking import RegionAggregation

from albench import RegionStatistic, SelectionContext, Strategy, hookimpl
from albench.hookspecs import Register
from albench.selection import allocate_items, take_within_budget, top_k
from albench.uncertainty import OvrEntropy, ProbTimesEntropy


@dataclass(frozen=True)
class OrealParams:
    """``aggregation``: max (the paper), mean or p95 (ablations). ``score``: ``ovr`` (one-vs-rest entropy)
    or ``prob-entropy`` (p_c·H, the Prob×Entropy ablation). ``background_oversampling``: set n_b = 0
    (off: the δ ablation). ``tie_order``: ``index`` (SPEC.md) or ``first-seen`` (the authors' code)."""

    aggregation: RegionAggregation = "max"
    score: Literal["ovr", "prob-entropy"] = "ovr"
    background_oversampling: bool = True
    tie_order: Literal["index", "first-seen"] = "index"


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
        return (RegionStatistic("class_scores", score, self.params.aggregation),)

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
