"""OREAL's selection (docs/strategies.md#oreal) on hand-made region scores."""

import numpy as np
import pytest
from albench_plugins.strategies.oreal import Oreal, OrealParams, first_seen_rank, interleave
from hypothesis import given, settings
from hypothesis import strategies as st

from albench.params import resolve_params
from albench.selection import allocate_items, items_per_class
from albench.testing import selection_context

# H_c(s) for 6 regions × 3 classes; region 0 is already labeled.
SCORES = np.array(
    [
        [0.9, 0.9, 0.9],
        [0.6, 0.7, 0.1],
        [0.2, 0.6, 0.3],
        [0.1, 0.4, 0.2],
        [0.5, 0.1, 0.6],
        [0.3, 0.2, 0.5],
    ]
)


def context(budget, counts, background=0, costs=None):
    return selection_context(
        num_regions=6,
        num_classes=3,
        budget=budget,
        labeled=[0],
        class_counts=counts,
        region_stats={"class_scores": SCORES},
        background_class=background,
        costs=costs,
    )


def test_background_oversampling_zeroes_the_background_count():
    # n = [10, 1, 2] with n_b = 0 → [0, 1, 2]: class 0, tie 0/1 → 0, then class 1
    assert Oreal(OrealParams()).items_per_class(context(3, [10, 1, 2])).tolist() == [2, 1, 0]
    # without oversampling: class 1, tie 1/2 → 1, then class 2
    assert Oreal(OrealParams(background_oversampling=False)).items_per_class(context(3, [10, 1, 2])).tolist() == [
        0,
        2,
        1,
    ]


def test_no_oversampling_without_a_background_class():
    assert Oreal(OrealParams()).items_per_class(context(3, [10, 1, 2], background=None)).tolist() == [0, 2, 1]


def test_selection_goes_class_by_class_and_skips_regions_already_picked():
    # n = [1, 0, 0], n_b = 0 → δ = [1, 1, 1].
    # class 0 takes region 1 (0.6); class 1's best (region 1, 0.7) is taken, so region 2 (0.6);
    # class 2 takes region 4 (0.6).
    assert Oreal(OrealParams()).select(context(3, [1, 0, 0])).tolist() == [1, 2, 4]


def test_selection_follows_delta_without_oversampling():
    # budget 2, n = [1, 0, 0]: δ = [0, 1, 1] → class 1 takes region 1 (0.7), class 2 region 4 (0.6)
    assert Oreal(OrealParams(background_oversampling=False)).select(context(2, [1, 0, 0])).tolist() == [1, 4]
    # with oversampling δ = [1, 1, 0] → class 0 takes region 1, class 1 then region 2
    assert Oreal(OrealParams()).select(context(2, [1, 0, 0])).tolist() == [1, 2]


def test_weak_labels_interleave_classes_round_robin_until_the_clicks_run_out():
    # δ = [2, 2, 2] for budget 6 with n = [0, 0, 0]; costs: one click per class present.
    costs = np.array([1, 3, 1, 1, 2, 1])
    # The per-class lists are built first, class by class, as in the unit-cost case (the authors' code):
    # class 0 → [1, 4]; class 1 → [2, 3] (1 and 4 taken); class 2 → [5] (nothing else left).
    # Round-robin: 1 (3 clicks), 2 (1), 5 (1) = 5; then 4 (2 clicks) would make 7 > 6: stop.
    selected = Oreal(OrealParams()).select(context(6, [0, 0, 0], costs=costs))
    assert selected.tolist() == [1, 2, 5]
    # with overshoot the region that crosses the budget is kept, as in the authors' code
    overshoot = selection_context(
        num_regions=6,
        num_classes=3,
        budget=6,
        labeled=[0],
        class_counts=[0, 0, 0],
        region_stats={"class_scores": SCORES},
        background_class=0,
        costs=costs,
        overshoot=True,
    )
    assert Oreal(OrealParams()).select(overshoot).tolist() == [1, 2, 5, 4]


def test_statistics_follow_the_parameters():
    (stat,) = Oreal(OrealParams(aggregation="p95", score="prob-entropy")).statistics(3)
    assert stat.aggregation == "p95" and stat.score.name == "prob-entropy"


@pytest.mark.parametrize("budget", [1, 3, 5])
def test_selection_is_unique_unlabeled_and_within_budget(budget):
    selected = Oreal(OrealParams()).select(context(budget, [1, 0, 0]))
    assert len(selected) == budget and len(set(selected.tolist())) == budget and 0 not in selected


# ---------------------------------------------------------------- tie order: lowest index vs the authors' first-seen

# Regions 0-3 are labeled, in that order, with classes 2, 2, 3, 1 → n = [0, 1, 2, 1]; regions 4-8 are unlabeled.
TIE_SCORES = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.9, 0.1, 0.1, 0.1],
        [0.8, 0.2, 0.1, 0.2],
        [0.1, 0.9, 0.1, 0.9],  # the best region for class 1 and for class 3
        [0.1, 0.7, 0.1, 0.3],
        [0.2, 0.3, 0.1, 0.8],
    ]
)


def tie_context(budget=3):
    return selection_context(
        num_regions=9,
        num_classes=4,
        budget=budget,
        labeled=[0, 1, 2, 3],
        labeled_classes=[2, 2, 3, 1],
        region_stats={"class_scores": TIE_SCORES},
    )


def test_index_tie_order_breaks_ties_by_class_index():
    # n + δ: (0,1,2,1) → class 0 → (1,1,2,1) → tie 0/1/3 → 0 → (2,1,2,1) → tie 1/3 → 1: δ = [2, 1, 0, 0]
    strategy = Oreal(OrealParams())
    delta, order = strategy.allocation(tie_context())
    assert delta.tolist() == [2, 1, 0, 0] and order == [0, 1]
    # class 0 takes 4, 5; class 1 takes 6
    assert strategy.select(tie_context()).tolist() == [4, 5, 6]


def test_first_seen_tie_order_follows_the_labeled_set_then_unseen_classes():
    # first seen: 2, 3, 1; never seen: 0 → priority 2, 3, 1, 0
    assert first_seen_rank(np.eye(4, dtype=bool)[[2, 2, 3, 1]], None).tolist() == [3, 2, 0, 1]
    # n + δ: (0,1,2,1) → class 0 → (1,1,2,1) → tie 0/1/3 → 3 first → (1,1,2,2) → tie 0/1 → 1: δ = [1, 1, 0, 1],
    # classes first picked in the order 0, 3, 1
    delta, order = Oreal(OrealParams(tie_order="first-seen")).allocation(tie_context())
    assert delta.tolist() == [1, 1, 0, 1] and order == [0, 3, 1]
    # class 0 takes 4; class 3 takes 6 before class 1 can, so class 1 takes 7
    assert Oreal(OrealParams(tie_order="first-seen")).select(tie_context()).tolist() == [4, 6, 7]


def test_first_seen_ranks_an_oversampled_background_with_the_unseen_classes():
    # labeled classes 0, 2, 0, 1 with background 0; n_b = 0 is never recorded, so the priority is 2, 1, then 0
    labeled = selection_context(
        num_regions=6,
        num_classes=3,
        budget=3,
        labeled=[0, 1, 2, 3],
        labeled_classes=[0, 2, 0, 1],
        background_class=0,
        region_stats={"class_scores": np.zeros((6, 3))},
    )
    # counts [0, 1, 1]: class 0 → (1,1,1) → three-way tie → 2 → (1,1,2) → tie 0/1 → 1: δ = [1, 1, 1], order 0, 2, 1
    delta, order = Oreal(OrealParams(tie_order="first-seen")).allocation(labeled)
    assert delta.tolist() == [1, 1, 1] and order == [0, 2, 1]
    # index order: class 0, then the three-way tie → 0, then tie 1/2 → 1: δ = [2, 1, 0]
    assert Oreal(OrealParams()).allocation(labeled)[0].tolist() == [2, 1, 0]
    # without oversampling the background is counted (n = [2, 1, 1]) and ranked where it was first seen
    # (0, 2, 1): tie 1/2 → 2 → (2,1,2) → 1 → (2,2,2) → three-way tie → 0: δ = [1, 1, 1], order 2, 1, 0
    delta, order = Oreal(OrealParams(tie_order="first-seen", background_oversampling=False)).allocation(labeled)
    assert delta.tolist() == [1, 1, 1] and order == [2, 1, 0]


def test_first_seen_with_weak_labels_is_the_index_order_background_last():
    # class_entropy_patch_multiClass_query writes every class into its counts on the first labeled image, so
    # its order is 1, 2, 3, then balance_classes appends the uncounted background 0.
    costs = [1, 1, 1, 1, 1, 1, 1, 1, 1]
    named = [
        [False, False, True, False],
        [False, False, True, True],
        [False, False, False, True],
        [False, True, False, False],
    ]
    weak = selection_context(
        num_regions=9,
        num_classes=4,
        budget=3,
        labeled=[0, 1, 2, 3],
        labeled_classes=[2, 2, 3, 1],
        labeled_class_sets=named,
        region_stats={"class_scores": TIE_SCORES},
        costs=costs,
    )
    # every class named counts: n = [0, 1, 2, 2]; no background: ranks 0, 1, 2, 3.
    # (0,1,2,2) → 0 → (1,1,2,2) → tie 0/1 → 0 → (2,1,2,2) → 1: δ = [2, 1, 0, 0], picked by 0 then 1
    strategy = Oreal(OrealParams(tie_order="first-seen"))
    assert strategy.allocation(weak)[0].tolist() == [2, 1, 0, 0]
    # class 0 takes 4, 5; class 1 takes 6; interleaved 4, 6, 5
    assert strategy.select(weak).tolist() == [4, 6, 5]
    # with background 0 oversampled (n_0 = 0, ranked last)
    background = selection_context(
        num_regions=9,
        num_classes=4,
        budget=2,
        labeled=[0, 1, 2, 3],
        labeled_classes=[2, 2, 3, 1],
        labeled_class_sets=named,
        background_class=0,
        region_stats={"class_scores": TIE_SCORES},
        costs=costs,
    )
    # budget 2: (0,1,2,2) → 0 → (1,1,2,2) → tie 0/1 → 1, since the background ranks last: δ = [1, 1, 0, 0]
    assert strategy.allocation(background)[0].tolist() == [1, 1, 0, 0]
    # tie_order=index counts dominant classes (n = [0, 1, 2, 1]) and gives ties to the lowest index, the
    # background: (0,1,2,1) → 0 → (1,1,2,1) → tie 0/1/3 → 0: δ = [2, 0, 0, 0]
    assert Oreal(OrealParams()).allocation(background)[0].tolist() == [2, 0, 0, 0]


def test_interleave_takes_one_from_each_list_per_turn():
    assert interleave([np.array([1, 4]), np.array([2]), np.array([3, 5, 6])]).tolist() == [1, 2, 3, 4, 5, 6]
    assert interleave([]).tolist() == []


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 20), min_size=1, max_size=8), budget=st.integers(0, 40))
def test_allocate_with_index_rank_is_items_per_class(counts, budget):
    counts = np.array(counts)
    delta, order = allocate_items(counts, budget)
    assert delta.tolist() == items_per_class(counts, budget).tolist()
    assert sorted(order) == np.flatnonzero(delta).tolist()


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [
        ({"aggregation": "mean"}, "aggregation", "mean"),  # OREAL mean
        ({"score": "prob-entropy"}, "score", "prob-entropy"),  # OREAL Prob×Entropy
        ({"background_oversampling": "false"}, "background_oversampling", False),  # OREAL δ
        ({"aggregation": "p95"}, "aggregation", "p95"),  # OREAL 95%
        ({"tie_order": "first-seen"}, "tie_order", "first-seen"),
    ],
)
def test_every_ablation_is_a_parameter_reachable_from_the_command_line(raw, field, value):
    params = resolve_params(OrealParams, raw, owner="strategy 'oreal'")
    assert getattr(params, field) == value


def test_prob_entropy_ablation_keeps_the_class_balancing():
    # the ablation only changes the score channels (p_c·H); δ and the per-class picks work as for H_c
    params = OrealParams(score="prob-entropy", background_oversampling=False)
    assert Oreal(params).select(context(2, [1, 0, 0])).tolist() == [1, 4]
