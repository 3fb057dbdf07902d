"""The report metrics against hand-computed values: per-class AuALC, per-round 1 − Gini, clicks, and mIoU
recomputed from stored confusion matrices in both conventions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from albench.results.metrics import aualc_per_class, iou_per_class
from albench.results.runs import Run, load_runs, strip_aggregation

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str, int], Run]:
    loaded = load_runs(FIXTURES / "runs")
    return {(r.dataset, r.strategy_label, r.seed): r for r in loaded.runs}


def test_aualc_per_class_is_the_trapezoid_down_each_class():
    iou = np.array([[0.8, 0.3, np.nan], [0.9, 0.5, 0.2], [1.0, 0.4, 0.4]])
    # class 0: (0.8 + 2·0.9 + 1.0) / 4 = 0.9; class 1: (0.3 + 1.0 + 0.4) / 4 = 0.425; class 2: NaN in round 0
    result = aualc_per_class(iou)
    assert result[:2] == pytest.approx([0.9, 0.425])
    assert math.isnan(result[2])
    assert aualc_per_class(np.array([[0.5, 0.25]])).tolist() == [0.5, 0.25]
    with pytest.raises(ValueError, match="expected an"):
        aualc_per_class(np.array([0.5, 0.25]))


def test_fixture_confusions_give_the_hand_chosen_ious(runs):
    run = runs[("toy", "oreal", 0)]
    assert iou_per_class(run.confusion[2]).tolist() == [0.90, 0.60, 0.45]
    assert run.iou().tolist() == [[0.80, 0.30, 0.10], [0.85, 0.50, 0.30], [0.90, 0.60, 0.45]]


def test_miou_per_round_recorded_and_recomputed_in_both_conventions(runs):
    run = runs[("toy", "oreal", 0)]
    # standard: the mean over the three classes; recorded the same way
    assert run.miou("recorded") == pytest.approx([0.40, 0.55, 0.65])
    assert run.miou("standard") == pytest.approx([0.40, 0.55, 0.65])
    # paper: the background (class 0) left out: (0.3 + 0.1)/2, (0.5 + 0.3)/2, (0.6 + 0.45)/2
    assert run.miou("paper") == pytest.approx([0.20, 0.40, 0.525])
    # AuALC (trapezoid over 2 intervals): (0.40 + 2·0.55 + 0.65) / 4 = 0.5375; paper: (0.2 + 0.8 + 0.525) / 4
    assert run.aualc() == pytest.approx(0.5375)
    assert run.aualc("paper") == pytest.approx(0.38125)
    # no background class on cityscapes, every class present: both conventions agree
    city = runs[("cityscapes", "oreal", 0)]
    assert city.miou("paper") == pytest.approx(city.miou("standard"))


def test_per_round_balance_clicks_and_status(runs):
    run = runs[("toy", "random", 0)]
    # after each round: [8, 1, 1]; the fixture's middle, halfway ([16, 2, 1]) topped up to 20 on class 0;
    # [24, 4, 2]
    assert run.labeled_per_class.tolist() == [[8, 1, 1], [17, 2, 1], [24, 4, 2]]
    # all classes, round 0: sorted 1,1,8: (−2·1 + 0·1 + 2·8) / (3·10) = 14/30
    assert run.balance(0) == pytest.approx(1 - 14 / 30)
    # foreground only, final: sorted 2,4: (−2 + 4) / (2·6) = 1/6
    assert run.balance(foreground_only=True) == pytest.approx(5 / 6)
    assert run.paper_balance() == pytest.approx(5 / 6)
    assert run.clicks_spent.tolist() == [10, 20, 30]
    assert run.complete
    partial = runs[("toy", "oreal", 2)]
    assert (partial.source, partial.rounds_done, partial.complete) == ("checkpoint", 2, False)
    assert not runs[("cityscapes", "bvsb", 2)].complete


def test_strip_aggregation_removes_only_the_aggregation_parameter():
    assert strip_aggregation("oreal(aggregation=mean)") == "oreal"
    assert strip_aggregation("oreal(aggregation=p95, tie_order=first-seen)") == "oreal(tie_order=first-seen)"
    assert strip_aggregation("bvsb(variant=oreal-paper)") == "bvsb(variant=oreal-paper)"
    assert strip_aggregation("random") == "random"


def test_an_unreadable_checkpoint_is_set_aside_and_left_out(tmp_path):
    for path in (FIXTURES / "runs").glob("*.parquet"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / ".partial").mkdir()
    (tmp_path / ".partial" / "0123456789abcdef.pt").write_bytes(b"not a checkpoint")
    loaded = load_runs(tmp_path)
    assert len(loaded.runs) == 21
    moved = tmp_path / ".quarantine" / "0123456789abcdef.pt"
    assert loaded.notes == [
        f"set aside {tmp_path / '.partial' / '0123456789abcdef.pt'}: checkpoint cannot be read "
        f"by torch (RuntimeError); moved to {moved}; its run is left out"
    ]
    assert moved.read_bytes() == b"not a checkpoint"


def test_a_damaged_confusion_matrix_is_named(tmp_path):
    import pyarrow.parquet as pq

    from albench.errors import AlbenchError
    from albench.results.runs import runs_from_table

    table = pq.read_table(next((FIXTURES / "runs").glob("*.parquet")))
    rows = table.to_pylist()
    rows[0]["confusion"] = [1, 2, 3]
    with pytest.raises(AlbenchError, match="confusion matrices do not have 3×3 entries; the results file is damaged"):
        runs_from_table(type(table).from_pylist(rows, schema=table.schema))
