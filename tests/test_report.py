"""The paper's tables regenerated from the committed fixtures, with values computed by hand from the
hand-chosen mIoUs and class counts of tests/fixtures/make_fixtures.py (see also test_leaderboard.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from albench.cli import app
from albench.errors import AlbenchError, ParameterError
from albench.results.leaderboard import AVERAGE
from albench.results.paper import PUBLISHED, paper_dataset, published
from albench.results.report import ablation_table, gini_table, mean_vs_max_table, per_class_gain, run_records
from albench.results.runs import load_runs
from albench.results.tables import Grid

RUNS = Path(__file__).parent / "fixtures" / "runs"
runner = CliRunner()


@pytest.fixture(scope="module")
def runs():
    return load_runs(RUNS).runs


def _column(grid: Grid, dataset: str, aggregation: str | None = None) -> str:
    (column,) = [
        c
        for c in grid.columns
        if c.fields.get("dataset") == dataset
        and not c.reference_only
        and (aggregation is None or c.fields.get("aggregation") == aggregation)
    ]
    return column.key


def _paper_row(grid: Grid, label: str) -> dict[str, float]:
    row = next(r for r in grid.rows if r.label == label and r.reference)
    headers = {c.key: c.header for c in grid.columns}
    return {headers[k]: c.mean for k, c in row.cells.items()}


def test_table1_lists_every_label_with_its_aualc(runs):
    (grid,) = ablation_table(runs)
    assert grid.title.startswith("Table 1 style: AuALC")
    # every strategy with its aggregation, ranked by Average (see test_leaderboard.py for each AuALC)
    assert [r.label for r in grid.rows] == ["oreal (max)", "bvsb (max)", "oreal (mean)", "bvsb (mean)", "random"]
    assert grid.cell("oreal (mean)", _column(grid, "toy")).mean == pytest.approx(47.5)
    assert grid.cell("oreal (mean)", AVERAGE).mean == pytest.approx((47.5 + 40.625) / 2)
    assert grid.rows[2].fields["strategy_label"] == "oreal(aggregation=mean)"


def test_table1_by_aggregation_has_a_table_per_aggregation_with_its_published_rows(runs):
    grids = {g.fields["aggregation"]: g for g in ablation_table(runs, compare_paper=True, by_aggregation=True)}
    assert set(grids) == {"max", "mean"}
    assert [r.label for r in grids["mean"].rows if not r.reference] == ["oreal", "bvsb", "random"]
    # OREAL, Prob×Ent and δ aggregate with max; OREAL Mean with the mean; 95% (p95) has no table here
    assert [r.label for r in grids["max"].rows if r.reference] == [
        "OREAL (paper)",
        "OREAL Prob×Ent (paper)",
        "OREAL δ (paper)",
    ]
    assert [r.label for r in grids["mean"].rows if r.reference] == ["OREAL Mean (paper)"]


def test_table1_compare_paper_adds_the_published_rows(runs):
    (grid,) = ablation_table(runs, compare_paper=True)
    oreal = _paper_row(grid, "OREAL (paper)")
    # the fixture's "cityscapes" column takes the paper's Cityscapes; the other paper datasets get columns
    assert oreal == {"cityscapes": 68.0, "Pascal VOC": 77.2, "MONARCH": 69.7, "EndoVis": 76.2, AVERAGE: 72.8}
    assert _paper_row(grid, "OREAL δ (paper)") == {"Pascal VOC": 76.2, "MONARCH": 65.6, "EndoVis": 76.0}
    assert _paper_row(grid, "OREAL 95% (paper)") == {"cityscapes": 68.5, "Pascal VOC": 76.6}
    assert next(r for r in grid.rows if r.label == "OREAL (paper)").reference == "OREAL supplementary, Table 1"
    # published rows are not ranked: the user's best keeps its bold
    assert grid.cell("oreal (max)", _column(grid, "cityscapes")).bold


def test_published_rows_only_under_tables_of_their_labeling_scheme(runs):
    precise = [replace(r, labeling="precise") for r in runs]
    for grids in (ablation_table(precise, compare_paper=True), gini_table(precise, compare_paper=True)):
        (grid,) = grids
        assert not any(r.reference for r in grid.rows) and not any(c.reference_only for c in grid.columns)
        assert not any("(paper) rows" in n for n in grid.notes)
    (grid,) = mean_vs_max_table(precise, compare_paper=True)
    assert not any(r.reference for r in grid.rows)
    # both schemes in one results directory: Table 1's rows under the dominant-label table only
    by_labeling = {g.fields["labeling"]: g for g in ablation_table([*runs, *precise], compare_paper=True)}
    assert any(r.reference for r in by_labeling["dominant"].rows)
    assert not any(r.reference for r in by_labeling["precise"].rows)


def test_table2_mean_to_max_gain_paired_by_seed(runs):
    (grid,) = mean_vs_max_table(runs)
    toy, city = _column(grid, "toy"), _column(grid, "cityscapes")
    # rounds 1 and 2, max − mean, in points. toy bvsb: seed 0 (55−50, 60−55) → 5; seed 1 (45−40, 60−50) → 7.5
    assert grid.cell("bvsb", toy).mean == pytest.approx(6.25)
    assert grid.cell("bvsb", toy).std == pytest.approx(2.5 / 2**0.5)
    # toy oreal: (55−50, 65−60) → 5 and (50−45, 60−55) → 5; cityscapes oreal: (0, 0) → 0 and (5, 0) → 2.5
    assert grid.cell("oreal", toy).mean == pytest.approx(5.0)
    assert grid.cell("oreal", city).mean == pytest.approx(1.25)
    assert grid.cell("bvsb", city).mean == pytest.approx(5.0)
    assert grid.cell("oreal", AVERAGE).mean == pytest.approx((5.0 + 1.25) / 2)
    assert grid.count_unit == "seed pairs" and grid.cell("oreal", toy).n == 2
    assert [r.label for r in grid.rows] == ["bvsb", "oreal"]  # random has no aggregation to compare


def test_table2_from_round_zero_and_unpaired_seeds(runs):
    (grid,) = mean_vs_max_table(runs, first_round=0)
    # round 0 is identical: toy bvsb seed 0 → (0 + 5 + 5) / 3, seed 1 → (0 + 5 + 10) / 3
    assert grid.cell("bvsb", _column(grid, "toy")).mean == pytest.approx((10 / 3 + 5) / 2)
    lonely = [r for r in runs if not (r.strategy_label == "bvsb" and r.dataset == "toy" and r.seed == 1)]
    (grid,) = mean_vs_max_table(lonely)
    assert grid.cell("bvsb", _column(grid, "toy")).mean == pytest.approx(5.0)
    assert grid.cell("bvsb", _column(grid, "toy")).n == 1
    assert "bvsb seed 1 on toy: only max aggregation, not paired" in grid.notes


def test_table2_compare_paper_resnet50_by_default_and_table3_for_weak_labels(runs):
    (grid,) = mean_vs_max_table(runs, compare_paper=True)
    assert _paper_row(grid, "OREAL (paper)") == {
        "cityscapes": 0.18,
        "MONARCH": 1.25,
        "Pascal VOC": 2.18,
        "EndoVis": 0.65,
        AVERAGE: 1.07,
    }
    assert _paper_row(grid, "CBAL (paper)")["MONARCH"] == -0.31
    vit = [replace(r, backbone="deeplabv3-vit") for r in runs]
    (grid,) = mean_vs_max_table(vit, compare_paper=True)
    assert _paper_row(grid, "OREAL (paper)")["MONARCH"] == -0.64
    weak = [replace(r, labeling="weak", stage_miou=tuple((m, m) for m in r.recorded_miou)) for r in runs]
    (grid,) = mean_vs_max_table(weak, stage=0, compare_paper=True)
    assert _paper_row(grid, "Revisiting SP (paper)") == {"cityscapes": 0.98, "Pascal VOC": 0.41}
    assert grid.cell("bvsb", _column(grid, "toy")).mean == pytest.approx(6.25)
    (grid,) = mean_vs_max_table(weak, compare_paper=True)
    assert _paper_row(grid, "Revisiting SP (paper)") == {"cityscapes": 1.33, "Pascal VOC": -0.14}


def test_table4_gini_by_hand(runs):
    (grid,) = gini_table(runs)
    toy_mean, toy_max = _column(grid, "toy", "mean"), _column(grid, "toy", "max")
    city_max = _column(grid, "cityscapes", "max")
    # toy (background 0), foreground counts; two classes: 1 − (x2 − x1) / (2·(x1 + x2))
    # bvsb (mean): [6, 4] → 0.9, [5, 5] → 1; bvsb(max): [8, 4] → 5/6, [6, 6] → 1
    assert grid.cell("bvsb", toy_mean).mean == pytest.approx(0.95)
    assert grid.cell("bvsb", toy_max).mean == pytest.approx((5 / 6 + 1) / 2)
    # cityscapes has no background: all three classes, 1 − (x3 − x1)/45; oreal(max) [10,10,10], [12,10,8]
    assert grid.cell("oreal", city_max).mean == pytest.approx((1 + 1 - 4 / 45) / 2)
    # random has no aggregation: the same runs under mean and max: [4, 2] → 5/6, [6, 2] → 3/4
    assert grid.cell("random", toy_mean).mean == grid.cell("random", toy_max).mean == pytest.approx((5 / 6 + 3 / 4) / 2)
    # bold: the better aggregation of a strategy; underline: the best of a column
    assert grid.cell("bvsb", toy_mean).bold and not grid.cell("bvsb", toy_max).bold
    assert not grid.cell("random", toy_mean).bold
    assert grid.cell("oreal", city_max).underline and not grid.cell("bvsb", city_max).underline
    assert grid.cell("oreal", toy_max).incomplete == 1
    (all_classes,) = gini_table(runs, foreground=False)
    # toy bvsb(mean), all classes: [20, 6, 4] → 1 − 2·16/90, [20, 5, 5] → 1 − 2·15/90
    assert all_classes.cell("bvsb", toy_mean).mean == pytest.approx((1 - 32 / 90 + 1 - 30 / 90) / 2)


def test_table4_compare_paper_random_under_both_aggregations(runs):
    (grid,) = gini_table(runs, compare_paper=True)
    assert _paper_row(grid, "Random (paper)") == {
        "cityscapes mean": 0.25,
        "cityscapes max": 0.25,
        "MONARCH mean": 0.42,
        "MONARCH max": 0.42,
        "Pascal VOC mean": 0.67,
        "Pascal VOC max": 0.67,
        "EndoVis mean": 0.41,
        "EndoVis max": 0.41,
    }
    oreal = _paper_row(grid, "OREAL (paper)")
    assert (oreal["Pascal VOC mean"], oreal["Pascal VOC max"], oreal["cityscapes max"]) == (0.83, 0.86, 0.51)


def test_per_class_gain_of_oreal_by_hand(runs):
    grids = {(g.fields["dataset"], g.fields["aggregation"]): g for g in per_class_gain(runs, "oreal")}
    grid = grids[("toy", "max")]
    assert [c.header for c in grid.columns] == ["bvsb", "random"]
    # per-class AuALC = (v0 + 2·v1 + v2) / 4. oreal seed 0: bg 0.85, disk 0.475, square 0.2875;
    # random seed 0: 0.8125, 0.3875, 0.15; seed 1: oreal 0.80, 0.425, 0.2375 vs random 0.7875, 0.3125, 0.1
    assert grid.cell("background", "random").mean == pytest.approx((3.75 + 1.25) / 2)
    assert grid.cell("disk", "random").mean == pytest.approx((8.75 + 11.25) / 2)
    assert grid.cell("square", "random").mean == pytest.approx(13.75)
    # bvsb(max): seed 0 disk 0.4375, square 0.2875; seed 1 disk 0.4, square 0.1875
    assert grid.cell("disk", "bvsb").mean == pytest.approx((3.75 + 2.5) / 2)
    assert grid.cell("square", "bvsb").mean == pytest.approx((0 + 5) / 2)
    assert any("not paired, incomplete: oreal seed 2 on toy" in n for n in grid.notes)
    with pytest.raises(AlbenchError, match="--target 'orel' matches no strategy; the runs have: bvsb, oreal, random"):
        per_class_gain(runs, "orel")


def test_run_records(runs):
    records = {(r["dataset"], r["strategy"], r["seed"]): r for r in run_records(runs)}
    assert len(records) == 22
    record = records[("toy", "oreal", 0)]
    assert (record["aualc"], record["final_miou"], record["clicks_spent"], record["status"]) == (
        53.75,
        65.0,
        30,
        "complete",
    )
    assert record["gini_foreground"] == 1.0 and record["gini_all"] == pytest.approx(1 - 12 / 90, abs=1e-4)
    assert records[("toy", "oreal", 2)]["status"] == "in progress"
    assert records[("cityscapes", "bvsb", 2)]["status"] == "incomplete"
    assert records[("cityscapes", "random", 0)]["gini_foreground"] is None


def test_published_values_carry_their_source():
    assert all(p.source.startswith("OREAL supplementary, ") for p in PUBLISHED)
    assert {p.value for p in published("aualc", row="OREAL")} == {68.0, 77.2, 69.7, 76.2, 72.8, 74.4}
    assert len(published("gini", aggregation="max")) == 5 * 4 and len(published("gini", row="Random")) == 4
    assert len(published("mean-to-max-gain", labeling="dominant")) == 3 * 5 * 5
    assert paper_dataset("VOC") == "pascal-voc" and paper_dataset("folder", {"folder": "monarch"}) == "monarch"
    assert paper_dataset("toy") is None


def test_report_cli_paper_markdown_with_reference_rows():
    result = runner.invoke(app, ["report", "paper", "-r", str(RUNS), "--compare-paper"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.count("### Table ") == 3
    assert "| *OREAL (paper)* | 68.0 | – | 77.2 | 69.7 | 76.2 | 72.8 |" in text
    assert "| *OREAL (paper)* | 0.18 | – | 1.25 | 2.18 | 0.65 | 1.07 |" in text
    assert "| bvsb | 5.00 ± 0.00 † | 6.25 ± 1.77 | – | – | – | 5.62 |" in text


def test_report_cli_json_and_errors(tmp_path):
    result = runner.invoke(app, ["report", "gini", "-r", str(RUNS), "--format", "json", "-d", "toy"])
    payload = json.loads(result.stdout)
    assert {r["column"] for r in payload["records"]} == {"toy mean", "toy max"}
    bad = runner.invoke(app, ["report", "ablations", "-r", str(RUNS), "--compare-paper", "--paper-dataset", "folder"])
    assert bad.exit_code == 1 and "--paper-dataset 'folder': expected NAME=PAPER" in bad.stderr
    with pytest.raises(ParameterError):
        from albench.cli.report import paper_aliases

        paper_aliases(["folder=imagenet"])
    assert runner.invoke(app, ["report", "per-class", "-r", str(RUNS), "-t", "oreal", "-f", "csv"]).exit_code == 0
    missing = runner.invoke(app, ["report", "runs", "-r", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_report_error_messages(runs, tmp_path):
    with pytest.raises(AlbenchError, match="has no training stage 5 recorded in round 0; only runs of multi-stage"):
        mean_vs_max_table(runs, stage=5)
    bad = runner.invoke(app, ["report", "mean-vs-max", "-r", str(RUNS), "--first-round", "-1"])
    assert bad.exit_code == 1 and "--first-round must be at least 0, got -1" in bad.stderr
