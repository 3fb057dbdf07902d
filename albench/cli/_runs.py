"""What the leaderboard, report and plot commands share: run filters, the mIoU convention, loading runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from albench.errors import AlbenchError
from albench.results.runs import ConventionChoice, LoadedRuns, RunFilter, load_runs

__all__ = [
    "BackboneFilter",
    "CheckpointsOption",
    "ConventionOption",
    "DatasetFilter",
    "LabelingFilter",
    "ProtocolFilter",
    "StrategyFilter",
    "select_runs",
]


class Convention(StrEnum):
    recorded = "recorded"
    standard = "standard"
    paper = "paper"


DatasetFilter = Annotated[list[str] | None, typer.Option("--dataset", "-d", help="Dataset name glob (repeatable).")]
BackboneFilter = Annotated[list[str] | None, typer.Option("--backbone", "-b", help="Backbone name glob (repeatable).")]
StrategyFilter = Annotated[
    list[str] | None, typer.Option("--strategy", "-s", help="Strategy name or label glob (repeatable), e.g. 'oreal*'.")
]
LabelingFilter = Annotated[
    list[str] | None, typer.Option("--labeling", "-l", help="Labeling scheme glob (repeatable).")
]
ProtocolFilter = Annotated[
    list[str] | None, typer.Option("--protocol", help="Protocol hash glob (repeatable), e.g. '3fa2*'.")
]
ConventionOption = Annotated[
    Convention,
    typer.Option(
        "--convention",
        help="mIoU convention: as each run recorded it, or recomputed from the stored confusion "
        "matrices (standard, or paper: the OREAL code's).",
    ),
]
CheckpointsOption = Annotated[
    bool,
    typer.Option(
        "--checkpoints/--no-checkpoints", help="Also read runs in progress (results/.partial/), flagged as incomplete."
    ),
]


def convention_choice(convention: Convention) -> ConventionChoice:
    return {"recorded": "recorded", "standard": "standard", "paper": "paper"}[convention.value]  # type: ignore[return-value]


def select_runs(
    results_dir: Path,
    *,
    dataset: list[str] | None = None,
    backbone: list[str] | None = None,
    strategy: list[str] | None = None,
    labeling: list[str] | None = None,
    protocol: list[str] | None = None,
    checkpoints: bool = True,
) -> LoadedRuns:
    """The runs of ``results_dir`` that pass the filters; an error when filters leave none of many."""
    from albench.cli._sweep import readable_results

    loaded = load_runs(readable_results(results_dir), checkpoints=checkpoints)
    keep = RunFilter(dataset or (), backbone or (), strategy or (), labeling or (), protocol or ())
    selected = keep(loaded.runs)
    if loaded.runs and not selected:
        available = sorted({f"{r.dataset}/{r.backbone}/{r.strategy_label}" for r in loaded.runs})
        shown = ", ".join(available[:8]) + (", …" if len(available) > 8 else "")
        raise AlbenchError(f"no run in {results_dir} matches the filters; it has (dataset/backbone/strategy): {shown}")
    return LoadedRuns(selected, loaded.notes)
