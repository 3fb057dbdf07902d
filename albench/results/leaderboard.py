"""The leaderboard: a pure function from runs to ranked tables (:class:`albench.results.tables.Grid`).

Layout (like the paper's Table 1; docs/reports.md): one table per backbone × labeling scheme, strategies as
rows with their aggregation in the label (``entropy (mean)``, ``oreal (max)``), datasets as columns, and an
Average column over the datasets. A cell is the mean ± sample standard deviation over the seeds of the
chosen metric (AuALC by default; docs/metrics.md). Rows are ranked by their Average. Runs are grouped into
tables, rows and columns by :mod:`albench.results.grouping`, the one path every report shares.

- ``by_aggregation`` splits each table by aggregation; strategies without an ``aggregation`` parameter
  (random) then appear in every aggregation's table.
- A column is one dataset under one protocol hash: runs of different protocols are never averaged. When a
  dataset has runs under several protocols, each gets its own column and the table has no Average.
- A run with fewer rounds than its protocol (an incomplete results file or a checkpoint in progress) is
  flagged (†) and listed in the notes, never averaged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from albench.errors import ParameterError
from albench.results.grouping import TableKey, aggregation_order, collect, dataset_columns, row_label, table_groups
from albench.results.runs import ConventionChoice, Run
from albench.results.tables import AVERAGE, Cell, Grid, Row, Scalar, add_average, mark_best

__all__ = ["AVERAGE", "METRIC_HELP", "Metric", "leaderboard", "parse_metric"]


@dataclass(frozen=True)
class Metric:
    """A per-run number the leaderboard can rank by (higher is better)."""

    name: str
    title: str
    digits: int
    description: str
    value: Callable[[Run, ConventionChoice], float]


def _miou_at(round_index: int | None) -> Callable[[Run, ConventionChoice], float]:
    def value(run: Run, convention: ConventionChoice) -> float:
        curve = run.miou(convention)
        if round_index is None:
            return 100 * float(curve[-1])
        return 100 * float(curve[round_index]) if round_index < curve.size else math.nan

    return value


_MIOU_AT = re.compile(r"^miou@(\d+|final)$")
_GINI_AT = re.compile(r"^(gini|gini-all)(@(\d+|final))?$")
METRIC_HELP = (
    "aualc (alias auac), miou@ROUND (0-based, e.g. miou@5, or miou@final), gini or gini-all "
    "(final; gini@ROUND for another round)"
)


def parse_metric(text: str) -> Metric:
    """``aualc``/``auac``, ``miou@N``/``miou@final``, ``gini`` (the paper's Table 4 convention) or
    ``gini-all``, both final unless ``@N``."""
    name = text.strip().lower()
    if name in ("aualc", "auac"):
        return Metric(
            "aualc",
            "AuALC (%)",
            1,
            "AuALC: area under the mIoU-vs-round curve, trapezoidal, divided by the number of round "
            "intervals, in percent (docs/metrics.md)",
            lambda run, convention: 100 * run.aualc(convention),
        )
    match = _MIOU_AT.match(name)
    if match:
        which = match.group(1)
        round_index = None if which == "final" else int(which)
        where = "at the last round" if round_index is None else f"at round {round_index}"
        return Metric(
            f"miou@{which}",
            f"mIoU (%) {where}",
            1,
            f"mIoU {where} (rounds count from 0), in percent (docs/metrics.md)",
            _miou_at(round_index),
        )
    match = _GINI_AT.match(name)
    if match:
        everything = match.group(1) == "gini-all"
        which = match.group(3) or "final"
        round_index = -1 if which == "final" else int(which)
        where = "final" if which == "final" else f"after round {which}"
        classes = "all classes" if everything else "foreground"
        description = (
            "all classes"
            if everything
            else "foreground classes only where the dataset has a background class (the paper's Table 4 convention)"
        )

        def balance(run: Run, convention: ConventionChoice) -> float:
            if round_index >= run.rounds_done:
                return math.nan
            return run.balance(round_index) if everything else run.paper_balance(round_index)

        suffix = "" if which == "final" else f"@{which}"
        return Metric(
            f"{match.group(1)}{suffix}",
            f"1 − Gini ({where}, {classes})",
            2,
            f"1 − Gini of the labeled set's per-class region counts {where}, {description} (docs/metrics.md)",
            balance,
        )
    raise ParameterError(f"--metric {text!r} is not a metric; use {METRIC_HELP}")


def leaderboard(
    runs: Sequence[Run], metric: Metric, convention: ConventionChoice = "recorded", by_aggregation: bool = False
) -> list[Grid]:
    """The leaderboard tables of ``runs`` ranked by ``metric`` (see the module docstring for the layout)."""
    grids = []
    for key, members in table_groups(runs, by_aggregation):
        collected = collect(
            members, lambda run: metric.value(run, convention), lambda run: row_label(run, by_aggregation)
        )
        columns = dataset_columns(members)
        dataset_keys = [c.key for c in columns]
        datasets = [str(c.fields["dataset"]) for c in columns]
        repeated = sorted({d for d in datasets if datasets.count(d) > 1})
        aggregations = {row_label(run, by_aggregation): run.aggregation for run in members}
        fields: dict[str, dict[str, Scalar]] = {
            label: {"strategy_label": full}
            if by_aggregation
            else {"strategy_label": full, "aggregation": aggregations[label]}
            for label, full in collected.full_labels.items()
        }
        rows = collected.rows(columns, fields)
        has_average = add_average(rows, columns)
        rows.sort(key=lambda r: _rank_key(r, dataset_keys))
        for rank, row in enumerate(rows, start=1):
            row.fields = {"rank": rank, **row.fields}
        mark_best(rows, [c.key for c in columns], metric.digits)
        grids.append(
            Grid(
                title=_title(metric, key, by_aggregation),
                fields={
                    "metric": metric.name,
                    "backbone": key.backbone,
                    "labeling": key.labeling,
                    "aggregation": key.aggregation,
                },
                row_header="strategy",
                columns=columns,
                rows=rows,
                digits=metric.digits,
                notes=_notes(metric, convention, members, by_aggregation, repeated, has_average)
                + collected.notes
                + collected.incomplete_notes(),
            )
        )
    return grids


def _rank_key(row: Row, keys: Sequence[str]) -> tuple[int, float, str]:
    """By Average (best first); rows without one after, by their mean over the columns they have."""
    average = row.cells.get(AVERAGE, Cell())
    if not average.empty:
        return 0, -average.mean, row.label
    filled = [row.cells[k].mean for k in keys if not row.cells[k].empty]
    return (1, -float(np.mean(filled)), row.label) if filled else (2, 0.0, row.label)


def _title(metric: Metric, key: TableKey, by_aggregation: bool) -> str:
    title = f"{metric.title} · backbone {key.backbone} · {key.labeling} labels"
    if by_aggregation:
        title += f" · aggregation {key.aggregation or '–'}"
    return title


def _notes(
    metric: Metric,
    convention: ConventionChoice,
    runs: Sequence[Run],
    by_aggregation: bool,
    repeated: Sequence[str],
    has_average: bool,
) -> list[str]:
    notes = [f"{metric.description}; mean ± sample standard deviation over the complete seeds"]
    if metric.name.startswith(("aualc", "miou")):
        if convention == "recorded":
            used = sorted({r.metric for r in runs})
            notes.append(f"mIoU as each run recorded it ({', '.join(used)} convention)")
        else:
            notes.append(f"mIoU recomputed from the stored confusion matrices, {convention} convention")
    if by_aggregation:
        free = sorted({r.label for r in runs if r.aggregation is None})
        if free:
            notes.append(f"{', '.join(free)}: no aggregation parameter, shown in every aggregation's table")
    elif present := sorted({r.aggregation for r in runs if r.aggregation is not None}, key=aggregation_order):
        notes.append(
            f"{', '.join(f'({a})' for a in present)}: how the strategy aggregates pixel scores over a "
            "superpixel; --by aggregation gives one table per aggregation (docs/reports.md)"
        )
    if has_average:
        notes.append(
            "Average: the mean over the dataset columns of a row's means, for rows with a value in every column"
        )
    for dataset in repeated:
        hashes = sorted({r.protocol_hash for r in runs if r.dataset == dataset})
        notes.append(
            f"{dataset}: runs under {len(hashes)} protocols ({', '.join(hashes)}) are shown apart and "
            "never averaged; no Average column. Narrow with --protocol HASH"
        )
    notes.append("bold: best in its column; underlined: second best (as displayed)")
    return notes
