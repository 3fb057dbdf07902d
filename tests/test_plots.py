"""Plots: produced, non-empty, in every format, with the expected lines, bars and panels; the selected
superpixels overlay rebuilt from a real (tiny) run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import TINY_CONFIG
from fixtures.make_fixtures import fixture_run_id
from typer.testing import CliRunner

from albench.cli import app
from albench.errors import AlbenchError
from albench.results.plots import (
    class_distribution_figure,
    curves_figure,
    per_class_gain_figure,
    save_figure,
    selection_figure,
)
from albench.results.report import per_class_gain
from albench.results.runs import load_runs
from albench.run.overlay import load_selection_view
from albench.run.runner import execute_run
from albench.run.spec import resolve_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
runner = CliRunner()


@pytest.fixture(scope="module")
def runs():
    return load_runs(RUNS).runs


def test_curve_panels_have_one_line_per_strategy_and_a_band_each(runs):
    figure = curves_figure(runs)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["cityscapes", "toy"]
    for ax in axes:
        assert len(ax.get_lines()) == 5  # random, oreal ×2 aggregations, bvsb ×2
        assert len(ax.collections) == 5  # one ± std band per line (2 complete seeds each)
    toy = axes[1]
    oreal = next(line for line in toy.get_lines() if line.get_label() == "oreal (max)")
    # mean over seeds 0 and 1 of the hand-chosen mIoUs: (40+35)/2, (55+50)/2, (65+60)/2
    assert oreal.get_xdata().tolist() == [0, 1, 2]
    assert np.asarray(oreal.get_ydata()) == pytest.approx([37.5, 52.5, 62.5])
    assert figure._suptitle.get_text() == "mIoU vs round: mean ± std over 2 seeds"


def test_curves_against_clicks(runs):
    figure = curves_figure([r for r in runs if r.strategy == "random"], x="clicks")
    (ax, _) = figure.get_axes()
    (line,) = ax.get_lines()
    assert line.get_xdata().tolist() == [10, 20, 30]
    assert ax.get_xlabel() == "clicks spent"
    with pytest.raises(AlbenchError, match="x axis 'time'"):
        curves_figure(runs, x="time")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_every_format_is_written_and_non_empty(runs, tmp_path, suffix):
    path = tmp_path / f"curves{suffix}"
    save_figure(curves_figure(runs), path)
    head = path.read_bytes()[:8]
    assert path.stat().st_size > 5000
    assert {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix] in head


def test_unknown_extension_is_refused(runs, tmp_path):
    with pytest.raises(AlbenchError, match=r"must end in \.png, \.svg, \.pdf"):
        save_figure(curves_figure(runs), tmp_path / "curves.jpg")


def test_class_distribution_bars(runs):
    figure = class_distribution_figure(runs)
    toy = figure.get_axes()[1]
    assert len(toy.patches) == 5 * 3  # one bar per strategy and class
    heights = sorted(
        round(p.get_height(), 6) for p in toy.patches if p.get_facecolor() == toy.patches[0].get_facecolor()
    )
    # the first strategy by label is bvsb (max): final counts [18, 8, 4] and [18, 6, 6] of 30 → mean shares (%)
    assert heights == pytest.approx(sorted([100 * 18 / 30, 100 * 7 / 30, 100 * 5 / 30]))
    # 1 − Gini over the foreground (toy has a background): bvsb (max) [8, 4] → 1 − 1/6, [6, 6] → 1;
    # bvsb (mean) [6, 4] → 1 − 0.1, [5, 5] → 1
    assert [t.get_text() for t in toy.get_legend().get_texts()][:2] == [
        "bvsb (max) (1−Gini 0.92)",
        "bvsb (mean) (1−Gini 0.95)",
    ]


def test_per_class_gain_bars_one_panel_per_dataset_and_aggregation(runs):
    figure = per_class_gain_figure(per_class_gain(runs, "oreal"))
    axes = figure.get_axes()
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes] == [
        "cityscapes · aggregation mean",
        "cityscapes · aggregation max",
        "toy · aggregation mean",
        "toy · aggregation max",
    ]
    assert all(len(ax.patches) == 2 * 3 for ax in axes)  # two baselines × three classes
    with pytest.raises(AlbenchError, match="no per-class gains to plot"):
        per_class_gain_figure([])


def test_plot_cli_writes_files_and_reports_left_out_runs(tmp_path):
    for command, extra in (("curves", []), ("classes", ["--round", "0"]), ("per-class", ["-t", "oreal"])):
        output = tmp_path / f"{command}.png"
        result = runner.invoke(app, ["plot", command, str(output), "-r", str(RUNS), *extra])
        assert result.exit_code == 0, result.output
        assert output.stat().st_size > 5000 and f"wrote {output}" in result.stderr
        assert "left out, incomplete: oreal seed 2 on toy" in result.stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One real run of the tiny benchmark (about a second), for the overlay."""
    from albench.host.registry import load_registry
    from albench.run.runner import RunOptions

    root = tmp_path_factory.mktemp("overlay")
    registry = load_registry(entry_points=False)
    options = RunOptions(results_dir=root / "results", cache_dir=root / "cache")
    outcome = execute_run(resolve_run(registry, TINY_CONFIG, "oreal", 0), registry, options)
    return registry, options, outcome.path


def test_selection_overlay_shows_the_regions_the_run_added(finished_run):
    registry, options, path = finished_run
    rows = sorted(pq.read_table(path).to_pylist(), key=lambda r: r["round"])
    view = load_selection_view(options.results_dir, path.stem[:6], 1, registry, options.cache_dir)
    # the default image is the one where round 1 added most regions; exactly those are selected
    added = np.asarray(rows[1]["added_image"])
    index = int(np.bincount(added).argmax())
    assert view.selected.sum() == (added == index).sum()
    assert set(np.flatnonzero(view.selected)) == set(np.asarray(rows[1]["added_superpixel"])[added == index])
    earlier = np.asarray(rows[0]["added_superpixel"])[np.asarray(rows[0]["added_image"]) == index]
    assert set(np.flatnonzero(view.earlier)) == set(earlier)
    assert view.image.shape[:2] == view.superpixels.shape
    figure = selection_figure([view, view])
    assert len(figure.get_axes()) == 2 and all(ax.get_images() for ax in figure.get_axes())


def test_selection_cli_and_its_errors(finished_run, tmp_path):
    _, options, path = finished_run
    common = ["-r", str(options.results_dir), "--cache-dir", str(options.cache_dir)]
    output = tmp_path / "selection.png"
    result = runner.invoke(
        app, ["plot", "selection", str(output), "--run", path.stem, "--round", "2", "--image", "0", *common]
    )
    assert result.exit_code == 0, result.output
    assert output.stat().st_size > 5000
    for args, message in (
        (["--run", "ffff", "--round", "1"], "run 'ffff': no results file"),
        (["--run", path.stem, "--round", "7"], "--round 7: run"),
        (["--run", path.stem, "--round", "1", "--image", "nope"], "--image 'nope' is neither"),
    ):
        bad = runner.invoke(app, ["plot", "selection", str(output), *args, *common])
        assert bad.exit_code == 1 and message in bad.stderr, bad.stderr


def test_plot_errors_name_what_is_missing(runs):
    with pytest.raises(AlbenchError, match="no complete run to plot"):
        curves_figure([r for r in runs if not r.complete])
    with pytest.raises(AlbenchError, match="no run to show"):
        selection_figure([])


def _rewrite(path: Path, target: Path, change_rows=None, change_spec=None) -> None:
    """Copy a results file with its rows or footer spec edited (to simulate damage or version drift)."""
    import json

    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    if change_spec:
        spec = json.loads(metadata[b"albench.spec"])
        change_spec(spec)
        metadata[b"albench.spec"] = json.dumps(spec).encode()
    rows = table.to_pylist()
    if change_rows:
        change_rows(rows)
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        type(table).from_pylist(rows, schema=table.schema).replace_schema_metadata(metadata), target / path.name
    )


def test_selection_reports_version_drift_and_refuses_changed_superpixels(finished_run, tmp_path):
    registry, options, path = finished_run

    def older_superpixels(spec):
        spec["superpixels"]["version"] = "0"

    _rewrite(path, tmp_path / "drift", change_spec=older_superpixels)
    view = load_selection_view(tmp_path / "drift", path.stem, 1, registry, options.cache_dir)
    assert view.notes == [
        "superpixels 'slic' is version 1, the run used 0: the superpixels shown may differ from the run's"
    ]

    def impossible_region(rows):
        rows[1]["added_superpixel"] = [999] * len(rows[1]["added_superpixel"])

    _rewrite(path, tmp_path / "damaged", change_rows=impossible_region)
    with pytest.raises(AlbenchError, match="selected superpixel 999 of image .* the superpixels changed since the run"):
        load_selection_view(tmp_path / "damaged", path.stem, 1, registry, options.cache_dir)
    with pytest.raises(AlbenchError, match="has no run spec in its footer; it was not written by `albench run`"):
        load_selection_view(
            RUNS, fixture_run_id("toy", "oreal(aggregation=mean)", 1)[:4], 0, registry, options.cache_dir
        )


def test_full_supervision_is_drawn_dashed_beside_other_labeling_schemes(runs):
    import dataclasses

    toy = [r for r in runs if r.dataset == "toy" and r.complete]
    full = [
        dataclasses.replace(r, run_id=f"full-{r.seed}", strategy="full", strategy_label="full", labeling="precise")
        for r in toy
        if r.strategy == "random"
    ]
    figure = curves_figure(toy + full)
    dominant = next(ax for ax in figure.get_axes() if "dominant" in ax.get_title())
    (reference,) = [line for line in dominant.get_lines() if line.get_label() == "full (precise)"]
    assert reference.get_linestyle() == "--"
    assert len(dominant.get_lines()) == 6  # the five strategies and the reference
