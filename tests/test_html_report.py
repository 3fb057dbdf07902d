"""`albench report html`: one self-contained page whose tables are the leaderboard's to the last digit, with
every section, from the committed fixtures (tests/fixtures/make_fixtures.py) and from real tiny runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fixtures.make_fixtures import fixture_run_id
from html_tables import read_page, rich_tables
from typer.testing import CliRunner

from albench.cli import app
from albench.errors import AlbenchError
from albench.results.html_report import SECTIONS, ReportOptions, default_target, html_report
from albench.results.runs import load_runs

RUNS = Path(__file__).parent / "fixtures" / "runs"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


@pytest.fixture(scope="module")
def page() -> str:
    loaded = load_runs(RUNS)
    return html_report(loaded.runs, ReportOptions(source="fixtures"), loaded.notes)


def test_every_section_in_order_with_its_heading(page):
    read = read_page(page)
    assert read.sections == [key for key, _ in SECTIONS]
    assert read.headings == [heading for _, heading in SECTIONS]
    assert len(read.ids) == len(set(read.ids))  # figures and tables never share an id


def test_self_contained_no_network_needed(page):
    read = read_page(page)
    # every link is an anchor in the page, every image inline
    assert all(s.startswith(("#", "data:image/png;base64,")) for s in read.sources), read.sources
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<style>" in page and "<script>" in page and "@import" not in page


def test_the_leaderboard_tables_are_the_leaderboards(page):
    tables = {t.caption: t for t in read_page(page).tables}
    aualc = tables["AuALC (%) · backbone tiny-deeplab · dominant labels"]
    assert aualc.header == ["strategy", "cityscapes", "toy", "Average"]
    assert aualc.rows[0] == ["oreal (max)", "41.9 ± 4.4", "51.3 ± 3.5 †", "46.6"]
    assert aualc.classes[0] == ["", "best", "best", "best"]
    assert aualc.rows[1] == ["bvsb (max)", "40.0 ± 7.1", "49.4 ± 4.4", "44.7"]
    assert aualc.classes[1][2:] == ["second", "second"]
    assert "mIoU (%) at the last round · backbone tiny-deeplab · dominant labels" in tables
    assert "1 − Gini (final, foreground) · backbone tiny-deeplab · dominant labels" in tables
    # the paper's tables, published rows in a body of their own
    table1 = tables["Table 1 style: AuALC (%) · backbone tiny-deeplab · dominant labels"]
    assert [row[0] for row, ref in zip(table1.rows, table1.reference) if ref][0] == "OREAL (paper)"


def test_runs_in_progress_are_marked(page):
    assert "2 runs are in progress or incomplete" in page
    runs = next(t for t in read_page(page).tables if t.caption == "22 runs")
    status = {row[0]: row[6] for row in runs.rows}
    assert (
        status[fixture_run_id("toy", "oreal", 2)] == "in progress"
        and status[fixture_run_id("cityscapes", "bvsb", 2)] == "incomplete"
    )
    assert list(status.values()).count("complete") == 20
    assert "2 runs not drawn (not complete)" in page


def test_curves_are_inline_svg_with_toggles_for_each_strategy(page):
    figures = re.findall(r'<fieldset class="toggles" data-figure="(f\d+)" hidden>(.*?)</fieldset>', page, flags=re.S)
    assert len(figures) == 2  # mIoU vs round and vs clicks
    for figure_id, boxes in figures:
        labels = re.findall(r"</span>([^<]+)</label>", boxes)
        assert labels == ["bvsb (max)", "bvsb (mean)", "oreal (max)", "oreal (mean)", "random"]
        svg = page[page.index(f'<svg id="{figure_id}"') :]
        svg = svg[: svg.index("</svg>")]
        for i in range(len(labels)):
            # one line per panel (cityscapes, toy), a band each, and the legend entry
            assert svg.count(f'id="{figure_id}-strategy-{i}-line-') == 2
            assert svg.count(f'id="{figure_id}-strategy-{i}-band-') == 2
            assert f'id="{figure_id}-strategy-{i}-legend-text"' in svg


def test_one_run_is_enough(tmp_path):
    (only,) = [r for r in load_runs(RUNS).runs if r.run_id == fixture_run_id("toy", "oreal(aggregation=mean)", 1)]
    text = html_report([only], ReportOptions())
    read = read_page(text)
    assert read.sections == [key for key, _ in SECTIONS]
    assert "1 run (1 complete) · 1 dataset · 1 strategy · 1 seed (1)" in text and 'class="banner"' not in text
    (aualc, *_) = read.tables
    assert aualc.rows == [
        [only.label + f" ({only.aggregation})" if only.aggregation else only.label, f"{100 * only.aualc():.1f}"]
    ]


def test_the_page_is_deterministic(page):
    loaded = load_runs(RUNS)
    assert html_report(loaded.runs, ReportOptions(source="fixtures"), loaded.notes) == page


def test_default_target_is_oreal_else_the_best(page):
    runs = load_runs(RUNS).runs
    assert default_target(runs) == "oreal"
    assert default_target([r for r in runs if r.strategy != "oreal"]) == "bvsb"  # bvsb (max) ranks first
    assert "Per-class AuALC gain of oreal over each baseline" in page


def test_no_runs_is_an_error():
    with pytest.raises(AlbenchError, match="no runs in results; run `albench run --strategy oreal` first"):
        html_report([], ReportOptions())


def test_cli_writes_the_page_and_names_bad_output(tmp_path):
    output = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "html", str(output), "-r", str(RUNS), "--overlays", "1"])
    assert result.exit_code == 0, result.output
    assert f"wrote {output}" in result.stderr
    read = read_page(output.read_text())
    assert read.sections == [key for key, _ in SECTIONS]
    # the fixtures carry no run spec: the overlay names why it is missing instead of failing the page
    assert "not shown: results file" in output.read_text() and "has no run spec in its footer" in output.read_text()
    wrong = runner.invoke(app, ["report", "html", str(tmp_path / "report.pdf"), "-r", str(RUNS)])
    assert wrong.exit_code == 1 and "must end in .html" in wrong.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = runner.invoke(app, ["report", "html", str(output), "-r", str(empty)])
    assert none.exit_code == 1 and "no runs in" in none.stderr and "Traceback" not in none.output


def test_by_aggregation_splits_the_page_tables_too(tmp_path):
    output = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["report", "html", str(output), "-r", str(RUNS), "--by", "aggregation", "--overlays", "0", "--target", "bvsb"],
    )
    assert result.exit_code == 0, result.output
    captions = [t.caption for t in read_page(output.read_text()).tables]
    assert "AuALC (%) · backbone tiny-deeplab · dominant labels · aggregation max" in captions
    assert any(c.startswith("Per-class AuALC gain of bvsb over each baseline") for c in captions)


def test_tiny_runs_page_matches_the_leaderboard_to_the_last_digit(tmp_path, tiny_protocol_file):
    """The issue's check: `albench run -s oreal -s random --seed 0-2`, then `albench report html` shows the
    leaderboard, the curves and the class balance, and matches `albench leaderboard` to the last digit."""
    results, cache = tmp_path / "results", tmp_path / "cache"
    run = runner.invoke(
        app,
        [
            "run",
            "--protocol",
            str(tiny_protocol_file),
            "-r",
            str(results),
            "--cache-dir",
            str(cache),
            "-s",
            "oreal",
            "-s",
            "random",
            "--seed",
            "0-2",
        ],
    )
    assert run.exit_code == 0, run.output
    output = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "html", str(output), "-r", str(results), "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    text = output.read_text()
    read = read_page(text)
    html_tables = {t.caption: t for t in read.tables}
    for metric in ("aualc", "miou@final", "gini"):
        printed = runner.invoke(app, ["leaderboard", "-r", str(results), "--metric", metric])
        assert printed.exit_code == 0, printed.output
        terminal = rich_tables(printed.stdout)
        assert terminal
        for title, rows in terminal.items():
            assert html_tables[title].rows == rows, (metric, title)
        markdown = runner.invoke(app, ["leaderboard", "-r", str(results), "--metric", metric, "--format", "markdown"])
        marks = [line for line in markdown.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
        for line, classes in zip(marks, next(iter(html_tables[t] for t in terminal)).classes):
            cells = line.strip("| ").split(" | ")[1:]
            assert [("**" in c, "<u>" in c) for c in cells] == [("best" in c, "second" in c) for c in classes[1:]]
    assert {"oreal (max)", "random"} == {
        row[0]
        for row in html_tables[
            next(iter(rich_tables(runner.invoke(app, ["leaderboard", "-r", str(results)]).stdout)))
        ].rows
    }
    # the curves and the class balance are there, and the selection overlays rebuilt the toy images
    assert text.count('<fieldset class="toggles"') == 2
    assert re.search(r'<section id="classes">.*?<img alt="class distribution', text, flags=re.S)
    assert re.search(r'<section id="selection">.*?<img alt="toy \[', text, flags=re.S)
    assert "not shown" not in text
    # toy is none of the paper's datasets: no paper tables to set its numbers beside
    assert "None of these results is on one of the paper's datasets" in text
    assert not any(t.caption.startswith(("Table 1", "Table 2", "Table 4")) for t in read.tables)


def test_runs_in_progress_only(tmp_path):
    """Only a checkpoint, no finished run: the page still renders, with the reason the curves are empty."""
    shutil.copytree(RUNS / ".partial", tmp_path / ".partial")
    loaded = load_runs(tmp_path)
    text = html_report(loaded.runs, ReportOptions())
    assert "no complete run to plot" in text and "1 run is in progress or incomplete" in text
