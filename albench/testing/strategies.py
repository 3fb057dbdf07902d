"""``check_strategy``: a query strategy on the tiny pool, under one-click and multi-click (weak) costs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from albench.components import SelectionContext, Strategy
from albench.engine.scoring import ScoreAccumulator
from albench.statistics import PoolStatistic, RegionStatistic
from albench.testing._context import selection_context
from albench.testing._contract import Contract, changed, global_seeds, snapshot
from albench.testing._pool import TinyPool, tiny_pool

__all__ = ["check_strategy"]


@dataclass(frozen=True)
class _Situation:
    """One round the strategy is asked to select for."""

    description: str
    weak: bool  # region costs are the classes present (1–3 clicks), not one click each
    overshoot: bool
    labeled: int  # regions already labeled (a seeded random set); negative: all but that many
    budget: int


_ALL = 10**9  # every region of the pool

_SITUATIONS = (
    _Situation("one click per region (dominant labels)", weak=False, overshoot=False, labeled=10, budget=8),
    _Situation("nothing labeled yet, one click per region", weak=False, overshoot=False, labeled=0, budget=5),
    _Situation("weak labels (1-3 clicks per region)", weak=True, overshoot=False, labeled=10, budget=9),
    _Situation("weak labels with overshoot", weak=True, overshoot=True, labeled=6, budget=7),
    _Situation("a budget above the unlabeled regions left", weak=False, overshoot=False, labeled=-4, budget=12),
    _Situation("every region labeled", weak=False, overshoot=False, labeled=_ALL, budget=8),
)


def _statistics(contract: Contract, strategy: Strategy, num_classes: int) -> Sequence[RegionStatistic | PoolStatistic]:
    with contract.calling("declares its statistics", "statistics(num_classes)"):
        declared = strategy.statistics(num_classes)
    contract.check(
        isinstance(declared, (list, tuple)) and all(isinstance(s, (RegionStatistic, PoolStatistic)) for s in declared),
        "declares its statistics",
        f"statistics() must return a sequence of RegionStatistic and PoolStatistic, got {declared!r}",
    )
    names = [s.name for s in declared]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        contract.fail("declares its statistics", f"statistics() declares the name {twice[0]!r} twice")
    return declared


def _scored(
    contract: Contract, pool: TinyPool, declared: Sequence[RegionStatistic | PoolStatistic]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The declared statistics over the pool, computed by the real scoring engine."""
    with contract.calling("declares statistics the scoring engine computes", "scoring the pool"):
        accumulator = ScoreAccumulator(declared, pool.num_classes)
        accumulator.add(pool.probs, pool.maps, pool.regions_per_image)
        return accumulator.region_results(), accumulator.pool_results()


def _context(
    pool: TinyPool,
    situation: _Situation,
    stats: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    oracle: bool,
    generator_seed: int,
) -> SelectionContext:
    rng = np.random.default_rng(len(situation.description))
    count = min(situation.labeled if situation.labeled >= 0 else pool.num_regions + situation.labeled, pool.num_regions)
    order = rng.permutation(pool.num_regions)[:count]
    dominant = pool.dominant
    return selection_context(
        num_regions=pool.num_regions,
        num_classes=pool.num_classes,
        budget=situation.budget,
        labeled=order,
        labeled_classes=dominant[order],
        region_stats=stats[0],
        pool_stats=stats[1],
        background_class=pool.background_class,
        costs=np.maximum(pool.classes_present, 1) if situation.weak else None,
        region_sizes=pool.region_sizes,
        region_image=pool.region_image,
        edges=pool.edges,
        ground_truth=dominant if oracle else None,
        overshoot=situation.overshoot,
        seed=generator_seed,
        round=1,
        ignore_index=pool.ignore_index,
    )


def _check_selection(
    contract: Contract, selected: Any, context: SelectionContext, where: str, labels_whole_pool: bool
) -> np.ndarray:
    """The runner's rules on a selection, each failure naming its rule."""
    contract.check(
        isinstance(selected, np.ndarray),
        "returns a numpy array",
        f"select() returned {type(selected).__name__} ({where}); return a 1-D numpy array of region ids",
    )
    contract.check(
        selected.ndim == 1 and (selected.size == 0 or np.issubdtype(selected.dtype, np.integer)),
        "returns a 1-D array of integer region ids",
        f"got shape {selected.shape} and dtype {selected.dtype} ({where})",
    )
    ids: np.ndarray = selected.astype(np.int64)
    outside = ids[(ids < 0) | (ids >= context.num_regions)]
    contract.check(
        outside.size == 0,
        "selects regions of the pool",
        f"region {int(outside[0]) if outside.size else -1} is outside the pool's {context.num_regions} "
        f"regions ({where})",
    )
    unique, counts = np.unique(ids, return_counts=True)
    contract.check(
        not (counts > 1).any(),
        "selects no region twice",
        f"region {int(unique[counts > 1][0]) if (counts > 1).any() else -1} is selected more than once ({where})",
    )
    already = ids[context.labeled[ids]]
    contract.check(
        already.size == 0,
        "selects no labeled region",
        f"region {int(already[0]) if already.size else -1} is already labeled ({where})",
    )
    costs = context.region_cost(ids)
    spent = int(costs.sum())
    within = spent <= context.budget or (context.overshoot and int(costs[:-1].sum()) <= context.budget)
    contract.check(
        within,
        "stays within the click budget",
        f"{len(ids)} regions cost {spent} clicks, over the budget of {context.budget} ({where}); "
        f"count context.region_cost(ids), or subclass albench.ScoredStrategy",
    )
    if context.unit_cost and not labels_whole_pool:
        expected = min(context.budget, int((~context.labeled).sum()))
        contract.check(
            len(ids) == expected,
            "spends the whole budget",
            f"selected {len(ids)} regions where {expected} one-click regions fit the budget of "
            f"{context.budget} ({where})",
        )
    return ids


def check_strategy(
    strategy: type[Strategy], params: Mapping[str, Any] | object | None = None, *, seed: int = 0
) -> None:
    """Check a strategy class against the strategy contract; raise :class:`ContractError` naming the broken rule.

    On the tiny built-in pool (three scenes, about 60 regions, a random softmax scored by albench's real
    engine), for one click per region and for weak labels' multi-click costs, with and without overshoot:
    ``statistics()`` declares statistics the engine computes; ``select()`` returns a 1-D integer numpy
    array of pool regions, none twice, none labeled, within the click budget (the whole budget, with one
    click per region); the same selection for the same ``context.generator`` seed (deterministic), also
    when Python's, NumPy's and torch's global generators are seeded differently (no randomness outside
    ``context.generator``); and leaves the context's arrays as they were. ``params`` are the strategy's
    parameters (a mapping, as ``--set`` gives them, or a ``Params`` instance); ``seed`` picks the pool.
    """
    contract = Contract("strategy", strategy, params)
    pool = tiny_pool(seed)
    oracle = bool(strategy.uses_ground_truth)
    for situation in _SITUATIONS:
        where = f"with {situation.description}"
        first = None
        for attempt, global_seed in enumerate((11, 11, 12)):
            instance = strategy(contract.params)
            stats = _scored(contract, pool, _statistics(contract, instance, pool.num_classes))
            with contract.calling("declares its second-pass statistics", "second_pass(num_classes, pool_stats)"):
                later = instance.second_pass(pool.num_classes, stats[1])
            if later:  # as the runner: a second pass over the pool, merged into the region statistics
                stats = ({**stats[0], **_scored(contract, pool, later)[0]}, stats[1])
            context = _context(pool, situation, stats, oracle, generator_seed=seed + 5)
            before = snapshot(context)
            with contract.calling("selects without raising", f"select() {where}"), global_seeds(global_seed):
                selected = instance.select(context)
            moved = changed(before, context)
            contract.check(
                moved is None,
                "leaves its inputs unchanged",
                f"select() modified context.{moved} ({where}); copy an array before changing it",
            )
            ids = _check_selection(contract, selected, context, where, strategy.labels_whole_pool)
            if first is None:
                first = ids
            elif attempt == 1:
                contract.check(
                    np.array_equal(first, ids),
                    "is deterministic",
                    f"two calls on the same context and generator seed selected {first.tolist()} and "
                    f"{ids.tolist()} ({where})",
                )
            else:
                contract.check(
                    np.array_equal(first, ids),
                    "draws randomness from context.generator only",
                    f"the selection changed when the global random seeds changed ({where}); draw from "
                    f"context.generator, never from random, np.random or torch's global generator",
                )
