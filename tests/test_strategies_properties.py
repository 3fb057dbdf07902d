"""Properties every strategy keeps on random pools, and ITEMSPERCLASS against a brute-force minimiser of Eq. 3.

Each random pool goes through the real engine (:class:`ScoreAccumulator`) with the statistics the strategy
declares, so a strategy whose ``select`` expects other shapes than its ``statistics`` produce fails here.
"""

import itertools

import numpy as np
import torch
from albench_plugins.strategies.bvsb import BvsbParams, BvsbStrategy
from albench_plugins.strategies.cbal import Cbal, CbalParams
from albench_plugins.strategies.context_sampling import (
    ForegroundContextOracle,
    ForegroundContextParams,
    ForegroundOracle,
    ForegroundParams,
)
from albench_plugins.strategies.entropy import EntropyParams, EntropyStrategy
from albench_plugins.strategies.oreal import Oreal, OrealParams
from albench_plugins.strategies.pixelbal import PixelBal, PixelBalParams
from albench_plugins.strategies.random import RandomStrategy
from albench_plugins.strategies.revisiting_sp import RevisitingSp, RevisitingSpParams
from hypothesis import given, settings
from hypothesis import strategies as st

from albench.engine.scoring import ScoreAccumulator
from albench.params import NoParams
from albench.selection import allocate_items, items_per_class, validate_selection
from albench.testing import selection_context

CASES = [
    (RandomStrategy, NoParams()),
    (Oreal, OrealParams()),
    (Oreal, OrealParams(tie_order="first-seen")),
    (Oreal, OrealParams(aggregation="p95", score="prob-entropy", background_oversampling=False)),
    (Oreal, OrealParams(aggregation="mean")),
    (EntropyStrategy, EntropyParams()),
    (EntropyStrategy, EntropyParams(aggregation="p95")),
    (BvsbStrategy, BvsbParams(aggregation="max")),
    (BvsbStrategy, BvsbParams(measure="margin")),
    (RevisitingSp, RevisitingSpParams()),
    (RevisitingSp, RevisitingSpParams(aggregation="p95", variant="oreal-paper")),
    (PixelBal, PixelBalParams()),
    (PixelBal, PixelBalParams(aggregation="max", variant="oreal-paper")),
    (PixelBal, PixelBalParams(aggregation="p95")),
    (Cbal, CbalParams()),
    (Cbal, CbalParams(variant="oreal-paper", aggregation="max")),
    (Cbal, CbalParams(solver="milp")),
    (ForegroundOracle, ForegroundParams()),
    (ForegroundContextOracle, ForegroundContextParams()),
    (ForegroundContextOracle, ForegroundContextParams(foreground_probability=0.5, context_per_region=1)),
]


def random_pool(strategy, seed, weak):
    """A random pool scored by the engine, and a random labeled set, budget, costs, ground truth and graph."""
    rng = np.random.default_rng(seed)
    c, images, h, w = int(rng.integers(2, 5)), int(rng.integers(1, 4)), 4, 5
    per_image = rng.integers(2, 7, images)
    logits = rng.normal(0, 2, (images, c, h, w))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    maps = np.stack(
        [
            rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, h * w - k)])).reshape(h, w)
            for k in per_image
        ]
    )
    accumulator = ScoreAccumulator(strategy.statistics(c), c)
    accumulator.add(torch.tensor(probs, dtype=torch.float32), torch.tensor(maps), per_image.tolist())
    region_stats, pool_stats = accumulator.region_results(), accumulator.pool_results()
    second_pass = strategy.second_pass(c, pool_stats)
    if second_pass:  # as the runner: statistics that need the pool statistics, in a second pass
        again = ScoreAccumulator(second_pass, c)
        again.add(torch.tensor(probs, dtype=torch.float32), torch.tensor(maps), per_image.tolist())
        region_stats = {**region_stats, **again.region_results()}
    r = int(per_image.sum())
    sizes = np.concatenate([np.bincount(m.ravel(), minlength=k) for m, k in zip(maps, per_image)])
    labeled = rng.choice(r, size=int(rng.integers(0, r // 2 + 1)), replace=False)
    pairs = rng.integers(0, r, (2 * r, 2))
    # the budget is at least 1 click, as the protocol requires
    return dict(
        num_regions=r,
        num_classes=c,
        budget=int(rng.integers(1, r + 1)),
        labeled=labeled.tolist(),
        labeled_classes=rng.choice(list(range(c)) + [255], size=len(labeled)).tolist(),
        region_stats=region_stats,
        pool_stats=pool_stats,
        background_class=0,
        costs=rng.integers(0, 4, r).tolist() if weak else None,
        region_sizes=sizes,
        region_image=np.repeat(np.arange(images), per_image),
        edges=pairs[pairs[:, 0] != pairs[:, 1]].tolist(),
        # the runner sets overshoot only where regions' costs vary (weak labels)
        ground_truth=rng.choice(list(range(c)) + [255], size=r).tolist(),
        overshoot=weak and bool(rng.random() < 0.5),
        seed=int(rng.integers(0, 1000)),
    )


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), case=st.sampled_from(CASES), weak=st.booleans())
def test_selections_are_unique_unlabeled_within_budget_and_deterministic(seed, case, weak):
    cls, params = case
    strategy = cls(params)
    pool = random_pool(strategy, seed, weak)
    context = selection_context(**pool)
    selected = strategy.select(context)
    # the runner's own check: integer ids in range, no duplicate, none labeled, clicks within the budget
    validate_selection(
        selected,
        strategy=cls.name,
        labeled=context.labeled,
        costs_of=context.region_cost,
        budget=context.budget,
        overshoot=context.overshoot,
    )
    again = cls(params).select(selection_context(**pool))
    assert np.array_equal(selected, again)
    if not weak:  # one click per region: the whole budget is spent while unlabeled regions remain
        assert len(selected) == min(context.budget, int((~context.labeled).sum()))


# ---------------------------------------------------------------- ITEMSPERCLASS and Eq. 3


def _compositions(total, parts):
    """Every δ ≥ 0 with Σδ = total."""
    for cut in itertools.combinations(range(total + parts - 1), parts - 1):
        bounds = (-1, *cut, total + parts - 1)
        yield np.array([bounds[i + 1] - bounds[i] - 1 for i in range(parts)])


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(0, 8), min_size=1, max_size=4), budget=st.integers(0, 9), rank_seed=st.integers(0, 1000)
)
def test_items_per_class_is_a_minimiser_of_eq3(counts, budget, rank_seed):
    n = np.array(counts)
    candidates = list(_compositions(budget, len(n)))
    best_squares = min(int(((n + d) ** 2).sum()) for d in candidates)
    best_max = min(int((n + d).max()) for d in candidates)
    best_range = min(int((n + d).max() - (n + d).min()) for d in candidates)
    rank = np.random.default_rng(rank_seed).permutation(len(n))  # any tie order: the first-seen order too
    for delta in (items_per_class(n, budget), allocate_items(n, budget, rank)[0]):
        assert delta.sum() == budget and (delta >= 0).all()
        balanced = n + delta
        assert int((balanced**2).sum()) == best_squares  # Σ(n+δ)², i.e. the variance of n + δ
        assert int(balanced.max()) == best_max and int(balanced.max() - balanced.min()) == best_range
