"""The query-strategy component: declares the statistics it needs, then selects regions to annotate."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from albench.adjacency import RegionGraph
from albench.params import NoParams
from albench.statistics import PoolStatistic, RegionStatistic

__all__ = ["ScoredStrategy", "SelectionContext", "Strategy"]


@dataclass(frozen=True)
class SelectionContext:
    """Everything a strategy may use to select regions in one round.

    Regions are numbered globally across the pool (``region_image`` maps each to its pool image). The
    strategy sees ground truth only through the labeled regions (``labeled_class_counts``) and the cost
    the annotator charges (``region_cost``), never the labels of unlabeled regions.

    Attributes:
        round: the round whose model produced the statistics (the selection is labeled for the next).
        budget: clicks to spend.
        num_classes: C.
        background_class: the dataset's background class, or None.
        labeled: ``(R,) bool``, regions already annotated.
        labeled_order: ``(L,) int64``, the labeled regions in the order they were annotated.
        labeled_classes: ``(L,) int64``, the dominant ground-truth class of each region of
            ``labeled_order`` as the annotator reported it (``ignore_index`` for all-void regions).
        labeled_class_counts: ``(C,) int64``, n_c: labeled regions whose dominant ground-truth class is c.
        region_stats: the declared :class:`RegionStatistic` results by name, ``(R, K)`` or ``(R, K, C)``.
        pool_stats: the declared :class:`PoolStatistic` results by name, ``(K,)``.
        region_sizes: ``(R,) int64`` pixels per region.
        region_image: ``(R,) int64`` pool image index of each region.
        region_cost: clicks that annotating each of the given regions costs.
        unit_cost: True when every region costs one click.
        overshoot: whether regions may be added while the clicks spent before them do not exceed the budget, so
            the one that crosses it is kept (the protocol's ``overshoot``; always False with one click per region).
        graph: which regions touch which (built from the superpixel cache on first use).
        generator: the only source of randomness a strategy may use.
        ground_truth: ``(R,) int64`` dominant ground-truth class of every region, only for strategies
            that declare ``uses_ground_truth`` (oracle experiments); ``None`` otherwise.
        labeled_round: ``(L,) int64``, the round whose query labeled each region of ``labeled_order`` (0: the
            initial random set); ``None`` when unknown (then all count as one batch).
        labeled_class_sets: ``(L, C) bool``, the classes the label of each region of ``labeled_order`` names
            (the labeling scheme's :meth:`~albench.components.LabelingScheme.named_classes`: the dominant class,
            or every class present for ``weak`` and ``precise``); ``None``: the one-hot of ``labeled_classes``.
    """

    round: int
    budget: int
    num_classes: int
    background_class: int | None
    labeled: np.ndarray
    labeled_order: np.ndarray
    labeled_classes: np.ndarray
    labeled_class_counts: np.ndarray
    region_stats: Mapping[str, np.ndarray]
    pool_stats: Mapping[str, np.ndarray]
    region_sizes: np.ndarray
    region_image: np.ndarray
    region_cost: Callable[[np.ndarray], np.ndarray]
    unit_cost: bool
    overshoot: bool
    graph: RegionGraph
    generator: np.random.Generator
    ground_truth: np.ndarray | None = None
    labeled_round: np.ndarray | None = None
    labeled_class_sets: np.ndarray | None = None

    @property
    def num_regions(self) -> int:
        return len(self.labeled)

    def named_classes(self) -> np.ndarray:
        """``(L, C) bool``: :attr:`labeled_class_sets`, or the one-hot of ``labeled_classes`` when absent."""
        if self.labeled_class_sets is not None:
            return np.asarray(self.labeled_class_sets, dtype=bool)
        classes = np.asarray(self.labeled_classes, dtype=np.int64)
        named = np.zeros((len(classes), self.num_classes), dtype=bool)
        rows = np.flatnonzero((classes >= 0) & (classes < self.num_classes))
        named[rows, classes[rows]] = True
        return named

    def unlabeled_ids(self) -> np.ndarray:
        """Ids of the regions not yet annotated, ascending."""
        return np.flatnonzero(~self.labeled)


class Strategy(ABC):
    """Base class of query-strategy plugins.

    :meth:`statistics` declares what the scoring engine computes over the pool (nothing for strategies
    that need no model, such as random; :meth:`second_pass` what needs the pool statistics first); :meth:`select` returns region ids in the order the strategy
    wants them annotated. The runner rejects duplicates, already-labeled regions and selections whose
    cost exceeds the budget (see :func:`albench.selection.take_within_budget`).

    ``uses_ground_truth`` marks oracle strategies (such as the context-sampling experiment's), which are
    handed every region's dominant ground-truth class; they are references, not fair competitors.
    ``labels_whole_pool`` marks the fully labeled reference (``full``): its round 0 labels every region,
    whatever the budget, and it selects nothing afterwards.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams
    uses_ground_truth: ClassVar[bool] = False
    labels_whole_pool: ClassVar[bool] = False

    def __init__(self, params: Any) -> None:
        self.params = params

    def statistics(self, num_classes: int) -> Sequence[RegionStatistic | PoolStatistic]:
        """What the engine must compute for :meth:`select`; empty when no model pass is needed."""
        return ()

    def second_pass(self, num_classes: int, pool_stats: Mapping[str, np.ndarray]) -> Sequence[RegionStatistic]:
        """Region statistics whose pixel scores depend on the first pass's pool statistics, computed in a
        second pass over the pool (the runner merges them into ``region_stats``); empty by default.

        Only for what one pass cannot give exactly, such as a percentile of pool-weighted pixel scores: a
        second pass runs the model over the pool again.
        """
        return ()

    @abstractmethod
    def select(self, context: SelectionContext) -> np.ndarray:
        """Region ids to annotate, in priority order, costing at most ``context.budget`` clicks."""


class ScoredStrategy(Strategy):
    """A strategy that gives every region a score: highest first, as far as the click budget goes.

    Write :meth:`scores` only; :meth:`select` spends the budget in score order with
    :func:`albench.selection.spend_in_score_order`, which handles regions that cost several clicks (weak labels)
    and the protocol's ``overshoot``. Ties go to the lowest region id; NaN scores come last.
    """

    @abstractmethod
    def scores(self, context: SelectionContext) -> np.ndarray:
        """``(R,)`` a score for every region of the pool (labeled ones are ignored)."""

    def select(self, context: SelectionContext) -> np.ndarray:
        from albench.selection import spend_in_score_order

        return spend_in_score_order(context, self.scores(context))
