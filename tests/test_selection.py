"""Selection building blocks and the runner's checks, against hand-worked examples."""

import numpy as np
import pytest

from albench.errors import SelectionError
from albench.selection import items_per_class, take_within_budget, top_k, validate_selection


def test_items_per_class_fills_the_least_represented_class_first():
    # n = [3, 1, 2]: class 1 (1) → tie 1/2 at 2, lowest index 1 → class 2 → three-way tie at 3 → class 0
    assert items_per_class(np.array([3, 1, 2]), 4).tolist() == [1, 2, 1]


def test_items_per_class_ties_go_to_the_lowest_class_index():
    assert items_per_class(np.array([0, 0, 0]), 5).tolist() == [2, 2, 1]
    assert items_per_class(np.array([2, 2]), 1).tolist() == [1, 0]


def test_items_per_class_of_zero_budget_is_zero():
    assert items_per_class(np.array([4, 0]), 0).tolist() == [0, 0]


def test_top_k_orders_best_first_breaks_ties_by_lowest_id_and_never_prefers_nan():
    scores = np.array([0.5, 0.9, 0.9, 0.1, np.nan])
    assert top_k(scores, 2).tolist() == [1, 2]
    assert top_k(scores, 3).tolist() == [1, 2, 0]
    assert top_k(scores, 2, candidates=np.array([4, 3, 2])).tolist() == [2, 3]
    assert top_k(scores, 0).tolist() == []


def test_top_k_keeps_every_tie_at_the_partition_threshold():
    scores = np.array([1.0, 0.5, 0.5, 0.5, 0.5, 2.0])
    assert top_k(scores, 3).tolist() == [5, 0, 1]


def test_take_within_budget_stops_before_the_crossing_region_unless_overshoot():
    order, costs = np.array([5, 6, 7, 8]), np.array([2, 1, 3, 1])
    assert take_within_budget(order, costs, 4).tolist() == [5, 6]
    assert take_within_budget(order, costs, 4, overshoot=True).tolist() == [5, 6, 7]
    # landing exactly on the budget (2 + 1 = 3): the authors' loop only stops once the clicks exceed it,
    # so region 7 is taken too
    assert take_within_budget(order, costs, 3, overshoot=True).tolist() == [5, 6, 7]
    assert take_within_budget(order, costs, 3).tolist() == [5, 6]
    assert take_within_budget(order, costs, 100).tolist() == [5, 6, 7, 8]


def _validate(selection, labeled=None, budget=3, costs=None, overshoot=False):
    labeled = np.zeros(6, dtype=bool) if labeled is None else labeled
    cost_of = (lambda ids: np.ones(len(ids), dtype=np.int64)) if costs is None else (lambda ids: costs[ids])
    return validate_selection(
        selection, strategy="demo", labeled=labeled, costs_of=cost_of, budget=budget, overshoot=overshoot
    )


def test_validate_accepts_a_legal_selection():
    assert _validate([4, 1]).tolist() == [4, 1]


def test_validate_rejects_a_duplicate():
    with pytest.raises(SelectionError, match=r"strategy 'demo' returned region 1 more than once"):
        _validate([1, 3, 1])


def test_validate_rejects_an_already_labeled_region():
    labeled = np.array([False, False, True, False, False, False])
    with pytest.raises(SelectionError, match=r"strategy 'demo' returned region 2, which is already labeled"):
        _validate([0, 2], labeled=labeled)


def test_validate_rejects_a_region_outside_the_pool():
    with pytest.raises(SelectionError, match=r"strategy 'demo' returned region 9, outside the pool's 6 regions"):
        _validate([9])


def test_validate_rejects_a_selection_over_budget():
    with pytest.raises(
        SelectionError, match=r"strategy 'demo' selected 4 regions costing 4 clicks, over the round's budget of 3"
    ):
        _validate([0, 1, 2, 3])


def test_validate_allows_only_the_crossing_region_with_overshoot():
    costs = np.array([2, 2, 2, 1, 1, 1])
    assert _validate([0, 1], costs=costs, overshoot=True).tolist() == [0, 1]  # 2 < 3, then cross
    with pytest.raises(SelectionError, match="over the round's budget"):
        _validate([0, 1, 2], costs=costs, overshoot=True)
    # regions 3, 4, 5 spend exactly 3 clicks; one more may follow (the authors' rule), two may not
    assert _validate([3, 4, 5, 0], costs=costs, overshoot=True).tolist() == [3, 4, 5, 0]
    with pytest.raises(SelectionError, match="over the round's budget"):
        _validate([3, 4, 5, 0, 1], costs=costs, overshoot=True)


def test_validate_rejects_non_integer_ids():
    with pytest.raises(SelectionError, match=r"strategy 'demo' must return a 1-D array of integer region ids"):
        _validate(np.array([0.5, 1.0]))
