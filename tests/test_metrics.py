"""Metrics against hand-computed values (docs/metrics.md)."""

import math

import numpy as np
import pytest

from albench.results.metrics import aualc, balance, gini, iou_per_class, mean_iou

# rows: ground truth, columns: prediction. Class 2 appears in neither.
CONFUSION = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])


def test_iou_per_class_standard_leaves_absent_classes_out():
    # class 0: 5 / (6 + 7 - 5) = 0.625; class 1: 3 / (5 + 4 - 3) = 0.5; class 2: absent -> NaN
    iou = iou_per_class(CONFUSION)
    assert iou[:2].tolist() == [0.625, 0.5]
    assert math.isnan(iou[2])
    assert mean_iou(CONFUSION) == pytest.approx(0.5625)


def test_paper_convention_scores_absent_classes_one_and_drops_background():
    assert iou_per_class(CONFUSION, "paper").tolist() == [0.625, 0.5, 1.0]
    assert mean_iou(CONFUSION, "paper") == pytest.approx((0.625 + 0.5 + 1.0) / 3)
    assert mean_iou(CONFUSION, "paper", background=0) == pytest.approx(0.75)


def test_predicted_but_absent_class_is_zero_in_standard_and_one_in_paper():
    confusion = np.array([[4, 1, 1], [2, 3, 0], [0, 0, 0]])
    assert iou_per_class(confusion)[2] == 0.0
    assert iou_per_class(confusion, "paper")[2] == 1.0


def test_aualc_is_trapezoidal_area_over_round_intervals():
    assert aualc([0.2, 0.4, 0.6]) == pytest.approx(0.4)
    assert aualc([0.1, 0.5, 0.3, 0.7]) == pytest.approx((0.3 + 0.4 + 0.5) / 3)
    assert aualc([0.5]) == 0.5
    assert math.isnan(aualc([]))


def test_gini_hand_computed():
    assert gini([1, 1, 1, 1]) == 0.0
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (2*4-4-1)*10 / (4*10)
    assert gini([3, 1, 2]) == pytest.approx(4 / 18)  # sorted 1,2,3: (-2*1 + 0*2 + 2*3) / (3*6)
    assert math.isnan(gini([0, 0]))


def test_balance_foreground_only_drops_the_background_class():
    assert balance([3, 1, 2]) == pytest.approx(1 - 4 / 18)
    assert balance([90, 1, 2, 3], background=0, foreground_only=True) == pytest.approx(1 - 4 / 18)
    assert balance([90, 1, 2, 3], background=0) == pytest.approx(1 - gini([90, 1, 2, 3]))
