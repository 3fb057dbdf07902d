"""``albench plot``: the paper's figures from a results directory, as PNG, SVG or PDF (by the file name)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from albench.cli._common import ResultsDirOption, default_cache_dir, err, handle_errors
from albench.cli._runs import (
    BackboneFilter,
    CheckpointsOption,
    Convention,
    ConventionOption,
    DatasetFilter,
    LabelingFilter,
    ProtocolFilter,
    StrategyFilter,
    convention_choice,
    select_runs,
)
from albench.results.runs import LoadedRuns

__all__ = ["app"]

app = typer.Typer(
    help="The paper's figures (AL curves, class distributions, per-class gains, selected superpixels).",
    no_args_is_help=True,
)

OutputArgument = Annotated[Path, typer.Argument(help="Output file: .png, .svg or .pdf.")]


class XAxis(StrEnum):
    round = "round"
    clicks = "clicks"


def _load(
    results_dir: Path,
    dataset: list[str] | None,
    backbone: list[str] | None,
    strategy: list[str] | None,
    labeling: list[str] | None,
    protocol: list[str] | None,
    checkpoints: bool,
) -> LoadedRuns:
    loaded = select_runs(
        results_dir,
        dataset=dataset,
        backbone=backbone,
        strategy=strategy,
        labeling=labeling,
        protocol=protocol,
        checkpoints=checkpoints,
    )
    for note in loaded.notes:
        err.print(note)
    for run in loaded.runs:
        if not run.complete:
            err.print(f"left out, incomplete: {run.describe()}")
    return loaded


def _written(output: Path) -> None:
    err.print(f"wrote {output}")


@app.command("curves")
def curves(
    output: OutputArgument,
    results_dir: ResultsDirOption = Path("results"),
    x: Annotated[XAxis, typer.Option("--x", help="x axis: round, or clicks spent.")] = XAxis.round,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
) -> None:
    """AL curves (Figs. 3–5): mIoU vs round or clicks, mean ± std over seeds, one panel per dataset."""
    with handle_errors():
        from albench.results.plots import curves_figure, save_figure

        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        save_figure(curves_figure(loaded.runs, x.value, convention_choice(convention)), output)
        _written(output)


@app.command("classes")
def classes(
    output: OutputArgument,
    results_dir: ResultsDirOption = Path("results"),
    round_index: Annotated[int, typer.Option("--round", help="After which round (0-based; -1: the last).")] = -1,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    checkpoints: CheckpointsOption = True,
) -> None:
    """Class distribution of the labeled set per strategy (Figs. 9–10, top), with 1 − Gini."""
    with handle_errors():
        from albench.results.plots import class_distribution_figure, save_figure

        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        save_figure(class_distribution_figure(loaded.runs, round_index), output)
        _written(output)


@app.command("per-class")
def per_class(
    output: OutputArgument,
    target: Annotated[str, typer.Option("--target", "-t", help="The strategy label compared with every other.")],
    results_dir: ResultsDirOption = Path("results"),
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.standard,
    checkpoints: CheckpointsOption = True,
) -> None:
    """Per-class AuALC gain of --target over each baseline (Figs. 9–10, bottom), per dataset × aggregation."""
    with handle_errors():
        from albench.results.plots import per_class_gain_figure, save_figure
        from albench.results.report import per_class_gain

        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        save_figure(per_class_gain_figure(per_class_gain(loaded.runs, target, convention_choice(convention))), output)
        _written(output)


@app.command("selection")
def selection(
    output: OutputArgument,
    run: Annotated[list[str], typer.Option("--run", help="Run id or unique prefix (repeatable: one panel each).")],
    round_index: Annotated[
        int, typer.Option("--round", help="The round whose additions are coloured (0: initial set).")
    ],
    image: Annotated[
        str | None,
        typer.Option(
            "--image", help="Pool image id or index (default: the image where the first run added most regions)."
        ),
    ] = None,
    results_dir: ResultsDirOption = Path("results"),
    data_root: Annotated[Path | None, typer.Option("--data-root", help="Root of file-backed datasets.")] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Superpixel cache (default $ALBENCH_CACHE_DIR or ~/.cache/albench)."),
    ] = None,
) -> None:
    """Selected superpixels on one image (Fig. 6): the image, superpixel boundaries, this round's selection
    coloured by dominant class, earlier labels hatched. Rebuilt from each run's spec; runs with the same seed
    share the image. No uncertainty map: finished runs keep no model to compute one."""
    with handle_errors():
        from albench.host.registry import load_registry
        from albench.results.plots import save_figure, selection_figure
        from albench.run.overlay import load_selection_view

        registry = load_registry()
        cache = cache_dir or default_cache_dir()
        first = load_selection_view(results_dir, run[0], round_index, registry, cache, data_root, image)
        views = [first] + [
            load_selection_view(results_dir, other, round_index, registry, cache, data_root, first.image_id)
            for other in run[1:]
        ]
        for view in views:
            for note in view.notes:
                err.print(note)
        save_figure(selection_figure(views), output)
        _written(output)
