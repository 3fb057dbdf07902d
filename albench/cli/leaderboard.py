"""``albench leaderboard``: rank strategies by AuALC (or another metric) per backbone × labeling scheme."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from albench.cli._common import ResultsDirOption, err, handle_errors, out
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
from albench.cli._tables import ReportFormat, ReportFormatOption, render
from albench.results.leaderboard import METRIC_HELP, parse_metric
from albench.results.leaderboard import leaderboard as build_leaderboard

MetricOption = Annotated[str, typer.Option("--metric", "-m", help=f"Rank by: {METRIC_HELP}.")]


class Split(StrEnum):
    aggregation = "aggregation"


SplitOption = Annotated[
    list[Split] | None,
    typer.Option(
        "--by",
        help="Split the tables further: --by aggregation gives one table per aggregation (max, mean, …) "
        "instead of one per backbone × labeling with the aggregation in each row's label.",
    ),
]


def by_aggregation(split: list[Split] | None) -> bool:
    return Split.aggregation in (split or [])


def leaderboard(
    results_dir: ResultsDirOption = Path("results"),
    format: ReportFormatOption = ReportFormat.table,
    metric: MetricOption = "aualc",
    dataset: DatasetFilter = None,
    backbone: BackboneFilter = None,
    strategy: StrategyFilter = None,
    labeling: LabelingFilter = None,
    protocol: ProtocolFilter = None,
    convention: ConventionOption = Convention.recorded,
    checkpoints: CheckpointsOption = True,
    by: SplitOption = None,
) -> None:
    """Rank strategies: one table per backbone × labeling, strategies (with their aggregation, e.g. oreal
    (max)) × datasets + Average.

    Cells are mean ± std over seeds; best in bold, second underlined. Runs of different protocols are
    shown apart, never averaged; incomplete runs (and runs in progress) are flagged with †, never averaged.
    See docs/reports.md.
    """
    with handle_errors():
        chosen = parse_metric(metric)
        loaded = select_runs(
            results_dir,
            dataset=dataset,
            backbone=backbone,
            strategy=strategy,
            labeling=labeling,
            protocol=protocol,
            checkpoints=checkpoints,
        )
        if not loaded.runs and format is ReportFormat.table:
            for note in loaded.notes:
                err.print(note)
            err.print(f"no results in {results_dir}; run `albench run --strategy oreal` first")
            return
        grids = build_leaderboard(loaded.runs, chosen, convention_choice(convention), by_aggregation(by))
        render(grids, format, out, err, loaded.notes)
