"""OREAL's selection (SPEC.md §OREAL) on hand-made region scores."""

import numpy as np
import pytest
from albench_plugins.strategies.oreal import Oreal, OrealParams

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
    return selection_context(num_regions=6, num_classes=3, budget=budget, labeled=[0], class_counts=counts,
                             region_stats={"class_scores": SCORES}, background_class=background, costs=costs)


def test_background_oversampling_zeroes_the_background_count():
    # n = [10, 1, 2] with n_b = 0 → [0, 1, 2]: class 0, tie 0/1 → 0, then class 1
    assert Oreal(OrealParams()).items_per_class(context(3, [10, 1, 2])).tolist() == [2, 1, 0]
    # without oversampling: class 1, tie 1/2 → 1, then class 2
    assert Oreal(OrealParams(background_oversampling=False)).items_per_class(context(3, [10, 1, 2])).tolist() == [0, 2, 1]


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
    # turn 1: class 0 → 1 (3 clicks), class 1 → 2 (1), class 2 → 4 (2) = 6 clicks: budget spent.
    selected = Oreal(OrealParams()).select(context(6, [0, 0, 0], costs=costs))
    assert selected.tolist() == [1, 2, 4]


def test_statistics_follow_the_parameters():
    (stat,) = Oreal(OrealParams(aggregation="p95", score="prob-entropy")).statistics(3)
    assert stat.aggregation == "p95" and stat.score.name == "prob-entropy"


@pytest.mark.parametrize("budget", [1, 3, 5])
def test_selection_is_unique_unlabeled_and_within_budget(budget):
    selected = Oreal(OrealParams()).select(context(budget, [1, 0, 0]))
    assert len(selected) == budget and len(set(selected.tolist())) == budget and 0 not in selected
