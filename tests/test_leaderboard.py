"""Leaderboard arithmetic on the committed fixtures (tests/fixtures/make_fixtures.py), expected by hand.

Per run, AuALC over 3 rounds = (m0 + 2·m1 + m2) / 4 of the hand-chosen mIoUs (in percent):

toy        seed 0 / seed 1 → mean ± std         cityscapes  seed 0 / seed 1 → mean
random     45.00 / 40.00 → 42.50 ± 3.54                      41.25 / 35.00 → 38.125
oreal      53.75 / 48.75 → 51.25 ± 3.54                      45.00 / 38.75 → 41.875
oreal mean 50.00 / 45.00 → 47.50                             45.00 / 36.25 → 40.625
bvsb       48.75 / 41.25 → 45.00 ± 5.30                      41.25 / 31.25 → 36.25
bvsb max   52.50 / 46.25 → 49.375 ± 4.42                     45.00 / 35.00 → 40.00
(e.g. toy oreal seed 0: (40 + 2·55 + 65) / 4 = 53.75; std of two values = |a − b| / √2.)
"""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from albench.errors import ParameterError
from albench.results.leaderboard import AVERAGE, leaderboard, parse_metric
from albench.results.runs import RunFilter, load_runs
from albench.results.tables import Grid

FIXTURES = Path(__file__).parent / "fixtures"
S = 5 / math.sqrt(2)  # std of two seeds 5 points apart


@pytest.fixture(scope="module")
def runs():
    return load_runs(FIXTURES / "runs").runs


def _by_aggregation(grids: list[Grid]) -> dict[str | None, Grid]:
    return {g.fields["aggregation"]: g for g in grids}  # type: ignore[misc]


def _key(grid: Grid, dataset: str) -> str:
    (column,) = [c for c in grid.columns if c.fields.get("dataset") == dataset]
    return column.key


def test_max_table_by_hand(runs):
    grid = _by_aggregation(leaderboard(runs, parse_metric("aualc"), by_aggregation=True))["max"]
    assert [c.header for c in grid.columns] == ["cityscapes", "toy", AVERAGE]
    assert [r.label for r in grid.rows] == ["oreal", "bvsb", "random"]  # by Average: 46.56, 44.69, 40.31
    toy, city = _key(grid, "toy"), _key(grid, "cityscapes")
    expected = {
        "oreal": (51.25, S, 41.875, 6.25 / math.sqrt(2), (51.25 + 41.875) / 2),
        "bvsb": (49.375, 6.25 / math.sqrt(2), 40.0, 10 / math.sqrt(2), (49.375 + 40.0) / 2),
        "random": (42.5, S, 38.125, 6.25 / math.sqrt(2), (42.5 + 38.125) / 2),
    }
    for label, (toy_mean, toy_std, city_mean, city_std, average) in expected.items():
        assert grid.cell(label, toy).mean == pytest.approx(toy_mean)
        assert grid.cell(label, toy).std == pytest.approx(toy_std)
        assert grid.cell(label, city).mean == pytest.approx(city_mean)
        assert grid.cell(label, city).std == pytest.approx(city_std)
        assert grid.cell(label, AVERAGE).mean == pytest.approx(average)
        assert grid.cell(label, toy).seeds == (0, 1) and grid.cell(label, toy).n == 2
    # the oreal seed-2 checkpoint (2 of 3 rounds) is flagged, not averaged
    assert grid.cell("oreal", toy).incomplete == 1
    assert any(
        n.startswith("† not averaged, incomplete: oreal seed 2 on toy: 2 of 3 rounds (checkpoint") for n in grid.notes
    )
    assert [r.fields["rank"] for r in grid.rows] == [1, 2, 3]
    assert grid.rows[0].fields["strategy_label"] == "oreal"


def test_best_is_bold_and_second_underlined_per_column(runs):
    grid = _by_aggregation(leaderboard(runs, parse_metric("aualc"), by_aggregation=True))["mean"]
    city = _key(grid, "cityscapes")
    # mean table, cityscapes: oreal(mean) 40.625, random 38.125, bvsb 36.25
    assert [
        (grid.cell(label, city).bold, grid.cell(label, city).underline) for label in ("oreal", "random", "bvsb")
    ] == [(True, False), (False, True), (False, False)]
    # the incomplete bvsb seed 2 on cityscapes is counted apart
    assert grid.cell("bvsb", city).incomplete == 1 and grid.cell("bvsb", city).n == 2


def test_random_has_no_aggregation_and_appears_in_both_tables(runs):
    tables = _by_aggregation(leaderboard(runs, parse_metric("aualc"), by_aggregation=True))
    assert set(tables) == {"max", "mean"}
    for grid in tables.values():
        assert "random" in [r.label for r in grid.rows]
        assert grid.cell("random", _key(grid, "toy")).mean == pytest.approx(42.5)
    assert tables["mean"].rows[0].fields["strategy_label"] == "oreal(aggregation=mean)"


def test_without_checkpoints_nothing_is_flagged_on_toy(runs):
    finished = load_runs(FIXTURES / "runs", checkpoints=False).runs
    grid = _by_aggregation(leaderboard(finished, parse_metric("aualc"), by_aggregation=True))["max"]
    assert grid.cell("oreal", _key(grid, "toy")).incomplete == 0
    assert len(finished) == len(runs) - 1


@pytest.mark.parametrize(
    ("metric", "label", "dataset", "expected"),
    [
        ("miou@2", "oreal", "toy", (65 + 60) / 2),  # final round mIoU of seeds 0 and 1
        ("miou@final", "random", "cityscapes", (45 + 40) / 2),
        ("miou@0", "bvsb", "toy", (40 + 35) / 2),  # round 0 is shared by every strategy
        # foreground only on toy: seed 0 [8, 8] -> 1; seed 1 [10, 8] -> 1 − 2/36
        ("gini", "oreal", "toy", (1 + 1 - 2 / 36) / 2),
        # all classes on toy, seed 0 [14, 8, 8]: 1 − 2·6/90; seed 1 [12, 10, 8]: 1 − 2·4/90
        ("gini-all", "oreal", "toy", (1 - 12 / 90 + 1 - 8 / 90) / 2),
        # no background on cityscapes: gini counts every class, [10, 10, 10] -> 1; [12, 10, 8] -> 1 − 4/45
        ("gini", "oreal", "cityscapes", (1 + 1 - 4 / 45) / 2),
        ("auac", "random", "toy", 42.5),
    ],
)
def test_other_metrics(runs, metric, label, dataset, expected):
    grid = _by_aggregation(leaderboard(runs, parse_metric(metric), by_aggregation=True))["max"]
    assert grid.cell(label, _key(grid, dataset)).mean == pytest.approx(expected)


def test_paper_convention_recomputed_from_the_confusion(runs):
    grid = _by_aggregation(leaderboard(runs, parse_metric("aualc"), convention="paper", by_aggregation=True))["max"]
    # toy oreal without the background: seed 0 (20 + 2·40 + 52.5) / 4 = 38.125; seed 1 (15 + 2·35 + 47.5) / 4 = 33.125
    assert grid.cell("oreal", _key(grid, "toy")).mean == pytest.approx(35.625)
    assert any("paper convention" in n for n in grid.notes)


def test_runs_of_another_protocol_are_shown_apart_never_averaged(runs, tmp_path):
    for directory in ("runs", "other_protocol"):
        for path in (FIXTURES / directory).glob("*.parquet"):
            shutil.copy(path, tmp_path / path.name)
    grid = _by_aggregation(leaderboard(load_runs(tmp_path).runs, parse_metric("aualc"), by_aggregation=True))["max"]
    toy_columns = [c for c in grid.columns if c.fields.get("dataset") == "toy"]
    assert len(toy_columns) == 2 and all(c.header.startswith("toy [") for c in toy_columns)
    assert AVERAGE not in [c.key for c in grid.columns]
    assert any("toy: runs under 2 protocols" in n and "never averaged" in n for n in grid.notes)
    # the budget-20 protocol has seed 0 only: oreal (40 + 2·55 + 65) / 4 = 53.75 (same hand-chosen mIoUs)
    other = next(c for c in toy_columns if grid.cell("oreal", c.key).n == 1)
    assert grid.cell("oreal", other.key).mean == pytest.approx(53.75)


def test_a_second_run_of_the_same_seed_is_noted_not_counted(runs):
    run = next(r for r in runs if (r.dataset, r.strategy_label, r.seed) == ("toy", "random", 0))
    stale = replace(run, run_id="zzzz", strategy_version="0", recorded_miou=run.recorded_miou * 0)
    grid = _by_aggregation(leaderboard([*runs, stale], parse_metric("aualc"), by_aggregation=True))["max"]
    assert grid.cell("random", _key(grid, "toy")).mean == pytest.approx(42.5)
    assert any("zzzz" in n and "only" in n for n in grid.notes)


def test_filters_are_globs_on_name_or_label(runs):
    assert {r.strategy_label for r in RunFilter(strategy=["oreal*"])(runs)} == {"oreal", "oreal(aggregation=mean)"}
    assert {r.strategy_label for r in RunFilter(strategy=["oreal(aggregation=mean)"])(runs)} == {
        "oreal(aggregation=mean)"
    }
    assert {r.dataset for r in RunFilter(dataset=["city*"])(runs)} == {"cityscapes"}
    assert RunFilter(backbone=["resnet*"])(runs) == []


def test_unknown_metric_names_the_choices():
    with pytest.raises(
        ParameterError, match=r"--metric 'miou@x' is not a metric; use aualc \(alias auac\), miou@ROUND"
    ):
        parse_metric("miou@x")


def test_gini_after_a_given_round(runs):
    grid = _by_aggregation(leaderboard(runs, parse_metric("gini-all@0"), by_aggregation=True))["max"]
    # round 0 counts are shared by strategies: seed 0 [8, 1, 1] → 1 − 2·7/30; seed 1 [7, 2, 1] → 1 − 2·6/30
    assert grid.cell("oreal", _key(grid, "toy")).mean == pytest.approx((1 - 14 / 30 + 1 - 12 / 30) / 2)
    assert parse_metric("gini@final").name == "gini" and parse_metric("gini@2").name == "gini@2"
