"""CBAL: the greedy score by hand, both variants, the engine's region statistics, and the binary program."""

import itertools

import numpy as np
import pytest
from albench_plugins.strategies.cbal import Cbal, CbalParams
from hypothesis import given, settings
from hypothesis import strategies as st
from test_strategies_uncertainty import engine_stats

from albench.testing import selection_context

ENTROPY = np.array([1.0, 0.8, 0.6, 0.9, 0.5, 0.5])
MEAN_PROBS = np.array(
    [[0.8, 0.1, 0.1], [0.1, 0.5, 0.4], [0.0, 0.5, 0.5], [0.4, 0.3, 0.3], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
)


def cbal_context(background=None, budget=4):
    # regions 4 and 5 are labeled; n = [3, 1, 0] is given directly
    return selection_context(
        num_regions=6,
        num_classes=3,
        budget=budget,
        labeled=[4, 5],
        class_counts=[3, 1, 0],
        background_class=background,
        region_stats={"entropy": ENTROPY[:, None], "mean_probs": MEAN_PROBS},
    )


def test_cbal_original_hand_computed():
    # ITEMSPERCLASS([3, 1, 0], 4): class 2 → tie 1/2 → 1 → 2 → tie 1/2 → 1: δ = [0, 2, 2], a/Σa = [0, 0.5, 0.5]
    # L1 distances: 0.8+0.4+0.4 = 1.6, 0.1+0+0.1 = 0.2, 0, 0.4+0.2+0.2 = 0.8
    # scores H̄ − 2·L1: 1.0 − 3.2 = −2.2, 0.8 − 0.4 = 0.4, 0.6, 0.9 − 1.6 = −0.7
    strategy = Cbal(CbalParams())
    assert strategy.scores(cbal_context())[:4].tolist() == pytest.approx([-2.2, 0.4, 0.6, -0.7])
    assert strategy.select(cbal_context()).tolist() == [2, 1, 3, 0]  # entropy alone would give [0, 3, 1, 2]


def test_cbal_oreal_paper_zeroes_the_background_count():
    # n_b = 0 → n = [0, 1, 0]: class 0, class 2, class 0, tie 1/2 → 1: δ = [2, 1, 1], a/Σa = [0.5, 0.25, 0.25]
    # L1: 0.3+0.15+0.15 = 0.6, 0.4+0.25+0.15 = 0.8, 0.5+0.25+0.25 = 1.0, 0.1+0.05+0.05 = 0.2
    # scores: 1.0 − 1.2 = −0.2, 0.8 − 1.6 = −0.8, 0.6 − 2.0 = −1.4, 0.9 − 0.4 = 0.5
    strategy = Cbal(CbalParams(variant="oreal-paper"))
    assert strategy.scores(cbal_context(background=0))[:4].tolist() == pytest.approx([-0.2, -0.8, -1.4, 0.5])
    assert strategy.select(cbal_context(background=0)).tolist() == [3, 0, 1, 2]
    # the original variant ignores the background class
    assert Cbal(CbalParams()).select(cbal_context(background=0)).tolist() == [2, 1, 3, 0]
    # and without a background class the two variants count alike
    assert strategy.select(cbal_context()).tolist() == [2, 1, 3, 0]


def test_cbal_lambda_weighs_the_balance_term():
    # λ = 0: entropy order
    assert Cbal(CbalParams(lambda_=0.0)).select(cbal_context()).tolist() == [0, 3, 1, 2]


def test_cbal_engine_mean_entropy_and_mean_probabilities():
    # region 0: pixels [0.5, 0.3, 0.2], [0.8, 0.1, 0.1]; region 1: [0.1, 0.7, 0.2], [0.4, 0.4, 0.2]
    stats, _ = engine_stats(Cbal(CbalParams()))
    assert stats["entropy"][:, 0].tolist() == pytest.approx(
        [(1.029653 + 0.639032) / 2, (0.801819 + 1.054920) / 2], abs=1e-6
    )
    assert np.allclose(stats["mean_probs"], [[0.65, 0.2, 0.15], [0.25, 0.55, 0.2]], atol=1e-6)
    # oreal-paper takes ln(p + 1e-7) (a shift of about 3e-7 nats here, below float32 resolution)
    (plain, _), (paper, _) = Cbal(CbalParams()).statistics(3), Cbal(CbalParams(variant="oreal-paper")).statistics(3)
    assert plain.score.eps == 0.0 and paper.score.eps == 1e-7


# ---------------------------------------------------------------- the binary program (solver = milp)


def milp_context(entropy, probs, labeled_classes, budget, costs=None):
    r = len(entropy)
    labeled = list(range(r, r + len(labeled_classes)))
    total = r + len(labeled_classes)
    return selection_context(
        num_regions=total,
        num_classes=probs.shape[1],
        budget=budget,
        labeled=labeled,
        labeled_classes=labeled_classes,
        costs=None if costs is None else list(costs) + [1] * len(labeled_classes),
        region_stats={
            "entropy": np.concatenate([entropy, np.zeros(len(labeled_classes))])[:, None],
            "mean_probs": np.concatenate([probs, np.full((len(labeled_classes), probs.shape[1]), 0.5)]),
        },
    )


def test_cbal_milp_hand_computed():
    # 2 labeled regions of class 0, Q = 2, C = 2: Ω = max(0, ⌊(2 + 2)/2⌋ − n) = [0, 2]
    # objective −ΣH̄ + 2‖Σp̄ − Ω‖₁ over the 6 pairs; {2, 3}: −0.7 + 2·(0.3 + 0.3) = 0.5 is the least
    # ({1, 3}: 2.8, {0, 3} and {1, 2}: 3.1, {0, 2}: 3.4, {0, 1}: 5.7)
    entropy = np.array([0.6, 0.5, 0.4, 0.3])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    selected = Cbal(CbalParams(solver="milp")).select(milp_context(entropy, probs, [0, 0], budget=2))
    assert selected.tolist() == [2, 3]  # most uncertain first


def _objective(ids, entropy, probs, omega, lam):
    return -entropy[list(ids)].sum() + lam * np.abs(probs[list(ids)].sum(axis=0) - omega).sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), budget=st.integers(1, 3), weak=st.booleans())
def test_cbal_milp_attains_the_brute_force_minimum(seed, budget, weak):
    rng = np.random.default_rng(seed)
    r, c = int(rng.integers(budget, 8)), int(rng.integers(2, 4))
    entropy = rng.uniform(0, 1.5, r)
    probs = rng.dirichlet(np.ones(c), r)
    labeled_classes = rng.integers(0, c, int(rng.integers(0, 5))).tolist()
    costs = rng.integers(1, 3, r) if weak else np.ones(r, dtype=np.int64)
    context = milp_context(entropy, probs, labeled_classes, budget, costs if weak else None)
    selected = Cbal(CbalParams(solver="milp")).select(context)
    counts = np.bincount(labeled_classes, minlength=c)
    omega = np.maximum(0, (len(labeled_classes) + budget) // c - counts)
    feasible = [
        ids
        for k in range(0, budget + 1)
        for ids in itertools.combinations(range(r), k)
        if (costs[list(ids)].sum() <= budget if weak else k == budget)
    ]
    best = min(_objective(ids, entropy, probs, omega, 2.0) for ids in feasible)
    assert _objective(selected, entropy, probs, omega, 2.0) == pytest.approx(best, abs=1e-6)
    assert costs[selected].sum() <= budget and len(set(selected.tolist())) == len(selected)
