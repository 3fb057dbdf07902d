"""The one grouping, averaging and marking path of the leaderboard and the reports, on hand-made cells and
the committed fixtures (tests/fixtures/make_fixtures.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from albench.results.grouping import collect, column_key, row_label, table_groups
from albench.results.runs import load_runs
from albench.results.tables import (
    AVERAGE,
    Cell,
    Column,
    Row,
    add_average,
    cell_suffix,
    cell_text,
    mark_best,
    mark_best_in_rows,
)

RUNS = Path(__file__).parent / "fixtures" / "runs"


@pytest.fixture(scope="module")
def runs():
    return load_runs(RUNS).runs


def _row(label: str, **means: float) -> Row:
    return Row(label, {key: Cell(mean=value) for key, value in means.items()})


def test_row_labels_carry_the_aggregation_unless_split(runs):
    mean = next(r for r in runs if r.strategy_label == "oreal(aggregation=mean)")
    random = next(r for r in runs if r.strategy == "random")
    assert row_label(mean) == "oreal (mean)" and row_label(mean, by_aggregation=True) == "oreal"
    assert row_label(random) == row_label(random, by_aggregation=True) == "random"
    other = replace(mean, strategy_label="oreal(aggregation=mean, tie_order=first-seen)")
    assert row_label(other) == "oreal(tie_order=first-seen) (mean)"


def test_table_groups_one_per_setting_or_per_aggregation(runs):
    assert [key for key, _ in table_groups(runs)] == [("tiny-deeplab", "dominant", None)]
    split = table_groups(runs, by_aggregation=True)
    assert [key.aggregation for key, _ in split] == ["max", "mean"]
    for key, members in split:
        assert {r.aggregation for r in members} == {key.aggregation, None}  # random in both


def test_collect_counts_seeds_and_flags_incomplete_and_duplicate_runs(runs):
    toy = [r for r in runs if r.dataset == "toy" and r.strategy_label == "oreal"]
    stale = replace(toy[0], run_id="zzzz")
    collected = collect([*toy, stale], lambda run: run.seed * 10.0, lambda run: "oreal")
    column = column_key(toy[0])
    assert collected.values["oreal"][column] == {0: 0.0, 1: 10.0}
    assert [r.seed for r in collected.incomplete["oreal"][column]] == [2]
    assert len(collected.notes) == 1 and "zzzz" in collected.notes[0]
    (row,) = collected.rows([Column(column, "toy")])
    assert (row.cells[column].mean, row.cells[column].n, row.cells[column].incomplete) == (5.0, 2, 1)
    assert row.cells[column].std == pytest.approx(10 / math.sqrt(2))


def test_average_only_over_distinct_datasets_and_full_rows():
    columns = [Column("a", "a", {"dataset": "a"}), Column("b", "b", {"dataset": "b"})]
    rows = [_row("x", a=1.0, b=4.0), _row("y", a=2.0)]
    assert add_average(rows, columns)
    assert rows[0].cells[AVERAGE].mean == 2.5 and rows[1].cells[AVERAGE].empty
    assert columns[-1].key == AVERAGE
    same = [Column("a@1", "a", {"dataset": "a"}), Column("a@2", "a", {"dataset": "a"})]
    assert not add_average([_row("x", **{"a@1": 1.0, "a@2": 2.0})], same)
    assert not add_average([_row("x", a=1.0)], [Column("a", "a", {"dataset": "a"})])


def test_marks_compare_displayed_values_and_ties_share_them():
    rows = [
        _row("x", a=50.04),
        _row("y", a=50.01),
        _row("z", a=49.9),
        Row("p", {"a": Cell(mean=99.0)}, reference="paper"),
    ]
    mark_best(rows, ["a"], digits=1)
    assert [(r.cells["a"].bold, r.cells["a"].underline) for r in rows] == [
        (True, False),
        (True, False),
        (False, True),
        (False, False),
    ]  # 50.0 = 50.0 shown; the paper is not ranked


def test_marks_within_rows_then_columns_add_up():
    rows = [_row("x", mean=0.5, max=0.7), _row("y", mean=0.8, max=0.6)]
    mark_best_in_rows(rows, [["mean", "max"]], digits=2)
    mark_best(rows, ["mean", "max"], digits=2, best="underline", second=None)
    assert [(r.cells["mean"].bold, r.cells["max"].bold) for r in rows] == [(False, True), (True, False)]
    assert [(r.cells["mean"].underline, r.cells["max"].underline) for r in rows] == [(False, True), (True, False)]


def test_cell_text_and_suffix():
    cell = Cell(mean=51.25, std=3.5355, n=2, incomplete=1)
    assert cell_text(cell, 1) == "51.2 ± 3.5" and cell_text(Cell(mean=40.0), 2) == "40.00"
    assert cell_text(Cell(), 1) == "–"
    assert cell_suffix(cell, show_counts=True) == " (2) †" and cell_suffix(cell, show_counts=False) == " †"


def test_the_committed_fixtures_are_what_make_fixtures_writes(tmp_path):
    """A schema or Protocol change that moves the fixtures' ids or rows shows here: rerun
    ``python tests/fixtures/make_fixtures.py`` and commit what it writes."""
    import pyarrow.parquet as pq
    from fixtures.make_fixtures import HERE, main

    main(tmp_path)

    def files(root):
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".py")

    committed = [f for f in files(HERE) if not f.startswith("__pycache__")]
    assert files(tmp_path) == committed
    for name in committed:
        if name.endswith(".parquet"):
            assert pq.read_table(tmp_path / name).to_pylist() == pq.read_table(HERE / name).to_pylist(), name
