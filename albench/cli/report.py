"""``albench report``: the paper's tables regenerated from a results directory, optionally beside the paper's."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from albench._atomic import atomic_write
from albench._words import plural
from albench.cli._common import ResultsDirOption, default_cache_dir, err, handle_errors, out
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
from albench.cli._tables import ReportFormat, ReportFormatOption, render, render_records
from albench.cli.leaderboard import SplitOption, by_aggregation
from albench.errors import AlbenchError, ParameterError
from albench.results.grouping import row_label
from albench.results.paper import DATASETS
from albench.results.report import ablation_table, gini_table, mean_vs_max_table, per_class_gain, run_records
from albench.results.runs import LoadedRuns, Run
from albench.results.tables import Grid

if TYPE_CHECKING:
    from albench.results.html_report import SelectionFigure

__all__ = ["app"]

app = typer.Typer(
    help="The paper's tables (1, 2, 4; per-class gains) regenerated from the Parquet results.", no_args_is_help=True
)

ComparePaperOption = Annotated[
    bool, typer.Option("--compare-paper", help="Add the published numbers (OREAL supplementary) as reference rows.")
]
PaperDatasetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--paper-dataset",
        help=f"Map a dataset to the paper's for --compare-paper, e.g. folder=monarch "
        f"(paper datasets: {', '.join(DATASETS)}; repeatable).",
    ),
]


def paper_aliases(pairs: list[str] | None) -> dict[str, str]:
    """``NAME=PAPER`` pairs to a mapping, each PAPER one of the paper's datasets."""
    aliases = {}
    for pair in pairs or []:
        name, sep, paper = pair.partition("=")
        if not sep or not name or paper not in DATASETS:
            raise ParameterError(
                f"--paper-dataset {pair!r}: expected NAME=PAPER with PAPER one of {', '.join(DATASETS)}"
            )
        aliases[name] = paper
    return aliases


def _load(
    results_dir: Path,
    dataset: list[str] | None,
    backbone: list[str] | None,
    strategy: list[str] | None,
    labeling: list[str] | None,
    protocol: list[str] | None,
    checkpoints: bool,
) -> LoadedRuns:
    return select_runs(
        results_dir,
        dataset=dataset,
        backbone=backbone,
        strategy=strategy,
        labeling=labeling,
        protocol=protocol,
        checkpoints=checkpoints,
    )


def _emit(grids: list[Grid], format: ReportFormat, loaded: LoadedRuns, what: str) -> None:
    if not grids:
        for note in loaded.notes:
            err.print(note)
        err.print(f"no runs to build {what} from")
        return
    render(grids, format, out, err, loaded.notes)


@app.command("ablations")
def ablations(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
    compare_paper: ComparePaperOption = False,
    paper_dataset: PaperDatasetOption = None,
    by: SplitOption = None,
) -> None:
    """Table 1 style: AuALC of every strategy label (ablations such as oreal (mean) included) × datasets,
    with an Average column, per backbone × labeling (--by aggregation: and per aggregation)."""
    with handle_errors():
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        grids = ablation_table(
            loaded.runs, convention_choice(convention), compare_paper, paper_aliases(paper_dataset), by_aggregation(by)
        )
        _emit(grids, format, loaded, "Table 1")


@app.command("mean-vs-max")
def mean_vs_max(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
    compare_paper: ComparePaperOption = False,
    paper_dataset: PaperDatasetOption = None,
    first_round: Annotated[
        int,
        typer.Option(
            "--first-round", help="Average over rounds from this one (round 0 is identical for mean and max)."
        ),
    ] = 1,
    stage: Annotated[
        int | None,
        typer.Option(
            "--stage", help="Training stage of a multi-stage labeling scheme (weak: 0 or 1; default the last)."
        ),
    ] = None,
) -> None:
    """Table 2 style (Table 3 for weak labels): per strategy, mIoU(max) − mIoU(mean) in points, averaged
    over rounds and paired by seed."""
    with handle_errors():
        if first_round < 0:
            raise ParameterError(f"--first-round must be at least 0, got {first_round}")
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        grids = mean_vs_max_table(
            loaded.runs, convention_choice(convention), first_round, stage, compare_paper, paper_aliases(paper_dataset)
        )
        _emit(grids, format, loaded, "Table 2 (it needs strategies run with both mean and max aggregation)")


@app.command("gini")
def gini(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    checkpoints: CheckpointsOption = True,
    compare_paper: ComparePaperOption = False,
    paper_dataset: PaperDatasetOption = None,
    all_classes: Annotated[
        bool,
        typer.Option(
            "--all-classes", help="Count every class (default: foreground classes where there is a background)."
        ),
    ] = False,
) -> None:
    """Table 4 style: 1 − Gini of the final labeled set's class counts per strategy × dataset × aggregation."""
    with handle_errors():
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        grids = gini_table(
            loaded.runs, not all_classes, compare_paper=compare_paper, aliases=paper_aliases(paper_dataset)
        )
        _emit(grids, format, loaded, "Table 4")


@app.command("per-class")
def per_class(
    target: Annotated[str, typer.Option("--target", "-t", help="The strategy label compared with every other.")],
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.standard,
    checkpoints: CheckpointsOption = True,
) -> None:
    """Figs. 9–10 style: per class, the AuALC gain of --target over each baseline (points, paired by seed),
    per dataset × aggregation. No published numbers exist for these (figures only)."""
    with handle_errors():
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        grids = per_class_gain(loaded.runs, target, convention_choice(convention))
        _emit(grids, format, loaded, f"per-class gains of {target} (it needs baselines with the same seeds)")


@app.command("runs")
def runs(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
) -> None:
    """One line per run: status (complete, incomplete, in progress), AuALC, final mIoU, 1 − Gini, clicks."""
    with handle_errors():
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        render_records(
            run_records(loaded.runs, convention_choice(convention)),
            format,
            out,
            f"runs in {results_dir} (AuALC and mIoU in percent)",
        )
        for note in loaded.notes:
            err.print(note)


@app.command("paper")
def paper(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.markdown,
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
    compare_paper: ComparePaperOption = False,
    paper_dataset: PaperDatasetOption = None,
) -> None:
    """Tables 1, 2 and 4 in one document (markdown by default)."""
    with handle_errors():
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        aliases, chosen = paper_aliases(paper_dataset), convention_choice(convention)
        grids = (
            ablation_table(loaded.runs, chosen, compare_paper, aliases)
            + mean_vs_max_table(loaded.runs, chosen, compare_paper=compare_paper, aliases=aliases)
            + gini_table(loaded.runs, compare_paper=compare_paper, aliases=aliases)
        )
        _emit(grids, format, loaded, "the paper's tables")


OverlaysOption = Annotated[
    int,
    typer.Option(
        "--overlays",
        min=0,
        help="Selection overlays: at most N figures, one per dataset × backbone × labeling (the "
        "lowest seed's runs, last round); 0 for none. They rebuild images from the dataset.",
    ),
]


@app.command("html")
def html(
    output: Annotated[Path, typer.Argument(help="The page to write (.html): one self-contained file.")],
    results_dir: ResultsDirOption = Path("results"),
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
    by: SplitOption = None,
    paper_dataset: PaperDatasetOption = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Strategy whose per-class gains are shown (default: oreal if it ran, else the best)."
        ),
    ] = None,
    overlays: OverlaysOption = 4,
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="Root of file-backed datasets (overlays).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Superpixel cache (default $ALBENCH_CACHE_DIR or ~/.cache/albench)."),
    ] = None,
) -> None:
    """One self-contained HTML page: leaderboards, the paper's tables, AL curves, class balance, per-class
    gains, selection overlays, the runs (in progress marked) and each protocol's settings. Sortable tables;
    no network needed to view it (docs/reports.md)."""
    with handle_errors():
        from albench.results.html_report import ReportOptions, html_report  # matplotlib: loaded only when needed

        if output.suffix.lower() not in (".html", ".htm"):
            raise ParameterError(f"cannot write {output}: the file name must end in .html")
        loaded = _load(results_dir, dataset, backbone, strategy, labeling, protocol, checkpoints)
        options = ReportOptions(
            source=str(results_dir),
            convention=convention_choice(convention),
            by_aggregation=by_aggregation(by),
            target=target,
            aliases=paper_aliases(paper_dataset),
        )
        selections = _selections(loaded.runs, results_dir, overlays, data_root, cache_dir) if overlays else []
        page = html_report(loaded.runs, options, loaded.notes, selections)
        atomic_write(output, lambda path: _write_text(path, page))
        err.print(f"wrote {output} ({len(page.encode()) / 1e6:.2f} MB, {plural(len(loaded.runs), 'run')})")


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _selections(
    runs: list[Run], results_dir: Path, limit: int, data_root: Path | None, cache_dir: Path | None
) -> list[SelectionFigure]:
    """Up to ``limit`` overlay figures: per dataset × protocol × backbone × labeling, the finished runs of the
    lowest seed (one panel per strategy, at most six) on the image the first one added most to in its last
    round. A group whose images cannot be rebuilt (no dataset here) gets the reason instead."""
    from albench.host.registry import load_registry
    from albench.results.html_report import SelectionFigure
    from albench.results.plots import selection_figure
    from albench.run.overlay import load_selection_view

    groups: dict[tuple[str, str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        if run.complete and run.source == "results":
            groups[(run.dataset, run.protocol_hash, run.backbone, run.labeling)].append(run)
    registry = load_registry()
    cache = cache_dir or default_cache_dir()
    figures = []
    for (dataset_name, protocol_hash, backbone_name, labeling_name), members in sorted(groups.items())[:limit]:
        seed = min(r.seed for r in members)
        chosen: dict[str, Run] = {}
        for run in sorted(members, key=lambda r: r.run_id):
            if run.seed == seed:
                chosen.setdefault(row_label(run), run)
        shown = [chosen[label] for label in sorted(chosen)][:6]
        last = shown[0].rounds - 1
        title = f"{dataset_name} [{protocol_hash[:8]}] · {backbone_name} · {labeling_name} labels · seed {seed} · round {last}"
        notes = [f"{len(chosen) - len(shown)} more strategies not shown"] if len(chosen) > len(shown) else []
        try:
            first = load_selection_view(results_dir, shown[0].run_id, last, registry, cache, data_root)
            views = [first] + [
                load_selection_view(results_dir, run.run_id, last, registry, cache, data_root, first.image_id)
                for run in shown[1:]
            ]
        except AlbenchError as error:
            figures.append(SelectionFigure(title, None, [f"not shown: {error}"]))
            continue
        notes += sorted({note for view in views for note in view.notes})
        figures.append(SelectionFigure(title, selection_figure(views), notes))
    return figures
