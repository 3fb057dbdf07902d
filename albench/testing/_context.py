"""Build a :class:`SelectionContext` by hand, to test a strategy without a model or a dataset.

Third-party plugin authors can use these in their own tests, as albench's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from albench.adjacency import RegionGraph
from albench.components import SelectionContext

__all__ = ["selection_context"]


def selection_context(
    *,
    num_regions: int,
    num_classes: int,
    budget: int,
    labeled: np.ndarray | list[int] | None = None,
    labeled_classes: np.ndarray | list[int] | None = None,
    class_counts: np.ndarray | list[int] | None = None,
    region_stats: Mapping[str, np.ndarray] | None = None,
    pool_stats: Mapping[str, np.ndarray] | None = None,
    background_class: int | None = None,
    costs: np.ndarray | list[int] | None = None,
    region_sizes: np.ndarray | None = None,
    region_image: np.ndarray | None = None,
    edges: np.ndarray | list[tuple[int, int]] | None = None,
    ground_truth: np.ndarray | list[int] | None = None,
    overshoot: bool = False,
    labeled_round: np.ndarray | list[int] | None = None,
    labeled_class_sets: np.ndarray | list[list[bool]] | None = None,
    seed: int = 0,
    round: int = 0,
    ignore_index: int = 255,
) -> SelectionContext:
    """A context over ``num_regions`` regions.

    ``labeled`` lists the labeled region ids in labeling order and ``labeled_classes`` their dominant
    classes (from which n_c is counted, unless ``class_counts`` gives n_c directly); ``costs`` are clicks per region (default: one each, and
    ``unit_cost``); ``edges`` are global adjacency pairs. ``labeled_round`` gives the round that labeled each
    region of ``labeled``, ``labeled_class_sets`` the ``(L, C)`` classes each label names (default: the
    dominant class).
    """
    order = np.asarray(labeled if labeled is not None else [], dtype=np.int64)
    classes = np.asarray(
        labeled_classes if labeled_classes is not None else [ignore_index] * len(order), dtype=np.int64
    )
    if len(classes) != len(order):
        raise ValueError("labeled_classes must give one class per labeled region")
    mask = np.zeros(num_regions, dtype=bool)
    mask[order] = True
    counted = classes[(classes >= 0) & (classes < num_classes)]
    cost_array = None if costs is None else np.asarray(costs, dtype=np.int64)
    region_cost: Callable[[np.ndarray], np.ndarray]
    if cost_array is None:

        def region_cost(ids: np.ndarray) -> np.ndarray:
            return np.ones(len(ids), dtype=np.int64)
    else:

        def region_cost(ids: np.ndarray) -> np.ndarray:
            return cost_array[np.asarray(ids, dtype=np.int64)]

    pairs = np.asarray(edges if edges is not None else np.empty((0, 2)), dtype=np.int64).reshape(-1, 2)
    extra: dict[str, Any] = {}
    if ground_truth is not None:
        extra["ground_truth"] = np.asarray(ground_truth, dtype=np.int64)
    if labeled_round is not None:
        extra["labeled_round"] = np.asarray(labeled_round, dtype=np.int64)
    if labeled_class_sets is not None:
        extra["labeled_class_sets"] = np.asarray(labeled_class_sets, dtype=bool).reshape(len(order), num_classes)
    return SelectionContext(
        round=round,
        budget=budget,
        num_classes=num_classes,
        background_class=background_class,
        labeled=mask,
        labeled_order=order,
        labeled_classes=classes,
        labeled_class_counts=(
            np.bincount(counted, minlength=num_classes).astype(np.int64)
            if class_counts is None
            else np.asarray(class_counts, dtype=np.int64)
        ),
        region_stats=dict(region_stats or {}),
        pool_stats=dict(pool_stats or {}),
        region_sizes=np.ones(num_regions, dtype=np.int64) if region_sizes is None else region_sizes,
        region_image=np.zeros(num_regions, dtype=np.int64) if region_image is None else region_image,
        region_cost=region_cost,
        unit_cost=cost_array is None,
        overshoot=overshoot,
        graph=RegionGraph.from_edges(num_regions, pairs),
        generator=np.random.default_rng(seed),
        **extra,
    )
