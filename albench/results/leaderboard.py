"""The leaderboard: a pure function from runs to ranked tables (:class:`albench.results.tables.Grid`).

Layout (like the paper's Table 1): one table per backbone × labeling scheme × aggregation, strategies as
rows, datasets as columns, and an Average column over the datasets. A cell is the mean ± sample standard
deviation over the seeds of the chosen metric (AuALC by default). Rows are ranked by their Average.

- Strategies without an ``aggregation`` parameter (random) appear in every aggregation's table.
- A column is one dataset under one protocol hash: runs of different protocols are never averaged. When a
  dataset has runs under several protocols, each gets its own column and the table has no Average.
- A run with fewer rounds than its protocol (an incomplete results file or a checkpoint in progress) is
  flagged (†) and listed in the notes, never averaged.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from albench.errors import ParameterError
from albench.results.tables import Cell, Column, Grid, Row, mark_best, stat_cell
from albench.results.runs import ConventionChoice, Run

__all__ = ["AVERAGE", "METRIC_HELP", "Metric", "dataset_columns", "leaderboard", "parse_metric", "table_groups"]

AVERAGE = "Average"
AGGREGATION_ORDER = ("max", "mean", "p95")


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
METRIC_HELP = ("aualc (alias auac), miou@ROUND (0-based, e.g. miou@5, or miou@final), gini or gini-all "
               "(final; gini@ROUND for another round)")


def parse_metric(text: str) -> Metric:
    """``aualc``/``auac``, ``miou@N``/``miou@final``, ``gini`` (the paper's Table 4 convention) or
    ``gini-all``, both final unless ``@N``."""
    name = text.strip().lower()
    if name in ("aualc", "auac"):
        return Metric("aualc", "AuALC (%)", 1,
                      "AuALC: area under the mIoU-vs-round curve, trapezoidal, divided by the number of round "
                      "intervals, in percent (SPEC.md §Metrics)", lambda run, convention: 100 * run.aualc(convention))
    match = _MIOU_AT.match(name)
    if match:
        which = match.group(1)
        round_index = None if which == "final" else int(which)
        where = "at the last round" if round_index is None else f"at round {round_index}"
        return Metric(f"miou@{which}", f"mIoU (%) {where}", 1, f"mIoU {where} (rounds count from 0), in percent",
                      _miou_at(round_index))
    match = _GINI_AT.match(name)
    if match:
        everything = match.group(1) == "gini-all"
        which = match.group(3) or "final"
        round_index = -1 if which == "final" else int(which)
        where = "final" if which == "final" else f"after round {which}"
        classes = "all classes" if everything else "foreground"
        description = ("all classes" if everything else "foreground classes only where the dataset has a "
                       "background class (the paper's Table 4 convention)")

        def balance(run: Run, convention: ConventionChoice) -> float:
            if round_index >= run.rounds_done:
                return math.nan
            return run.balance(round_index) if everything else run.paper_balance(round_index)

        suffix = "" if which == "final" else f"@{which}"
        return Metric(f"{match.group(1)}{suffix}", f"1 − Gini ({where}, {classes})", 2,
                      f"1 − Gini of the labeled set's per-class region counts {where}, {description}", balance)
    raise ParameterError(f"--metric {text!r} is not a metric; use {METRIC_HELP}")


def _aggregation_key(aggregation: str) -> tuple[int, str]:
    order = AGGREGATION_ORDER.index(aggregation) if aggregation in AGGREGATION_ORDER else len(AGGREGATION_ORDER)
    return order, aggregation


def table_groups(runs: Iterable[Run], by_aggregation: bool = True) -> list[tuple[tuple[str, str, str | None], list[Run]]]:
    """Runs per table: ((backbone, labeling, aggregation), runs). With ``by_aggregation`` a table per
    aggregation, each also holding the strategies without one; otherwise one table (aggregation None)."""
    by_setting: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        by_setting[(run.backbone, run.labeling)].append(run)
    groups: list[tuple[tuple[str, str, str | None], list[Run]]] = []
    for (backbone, labeling), members in sorted(by_setting.items()):
        aggregations = sorted({r.aggregation for r in members if r.aggregation is not None}, key=_aggregation_key)
        if not by_aggregation or not aggregations:
            groups.append(((backbone, labeling, None), members))
            continue
        for aggregation in aggregations:
            groups.append(((backbone, labeling, aggregation),
                           [r for r in members if r.aggregation in (aggregation, None)]))
    return groups


def dataset_columns(runs: Iterable[Run]) -> list[Column]:
    """One column per dataset × protocol hash; the header carries the hash only where a dataset has several."""
    superpixels: dict[tuple[str, str], str] = {}
    for run in runs:
        superpixels[(run.dataset, run.protocol_hash)] = run.superpixels
    per_dataset: dict[str, int] = defaultdict(int)
    for dataset, _ in superpixels:
        per_dataset[dataset] += 1
    columns = []
    for (dataset, protocol), method in sorted(superpixels.items()):
        header = dataset if per_dataset[dataset] == 1 else f"{dataset} [{protocol[:8]}]"
        columns.append(Column(f"{dataset}@{protocol}", header,
                              {"dataset": dataset, "protocol_hash": protocol, "superpixels": method}))
    return columns


def column_key(run: Run) -> str:
    return f"{run.dataset}@{run.protocol_hash}"


@dataclass
class _Collected:
    """Per row and column: value per complete seed, and the incomplete runs left out."""

    values: dict[str, dict[str, dict[int, float]]]
    incomplete: dict[str, dict[str, list[Run]]]
    unconverged: dict[str, dict[str, list[Run]]]
    full_labels: dict[str, str]
    notes: list[str]


def collect(runs: Sequence[Run], value: Callable[[Run], float], row_label: Callable[[Run], str]) -> _Collected:
    """Group run values by row label and column; a second complete run of the same seed is noted, not counted."""
    values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    incomplete: dict[str, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    unconverged: dict[str, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    counted: dict[tuple[str, str, int], Run] = {}
    full_labels: dict[str, str] = {}
    notes: list[str] = []
    for run in sorted(runs, key=lambda r: r.run_id):
        label, column = row_label(run), column_key(run)
        full_labels.setdefault(label, run.strategy_label)
        if not run.complete:
            incomplete[label][column].append(run)
            continue
        first = counted.setdefault((label, column, run.seed), run)
        if first is not run:
            notes.append(f"runs {first.run_id} and {run.run_id} are both {run.strategy_label} seed {run.seed} on "
                         f"{run.dataset} (component versions differ); only {first.run_id} is counted: delete the "
                         "stale results file")
            continue
        values[label][column][run.seed] = value(run)
        if run.unconverged_rounds:
            unconverged[label][column].append(run)
    return _Collected(values, incomplete, unconverged, full_labels, notes)


def incomplete_notes(collected: _Collected) -> list[str]:
    return [f"† not averaged, incomplete: {run.describe()}"
            for by_column in collected.incomplete.values() for runs in by_column.values() for run in runs] + [
        f"‡ averaged, but training did not converge in {run.unconverged_rounds} of {run.rounds_done} rounds (a step "
        f"cap ended it while validation mIoU was still improving): {run.strategy_label} seed {run.seed} on "
        f"{run.dataset} (run {run.run_id})"
        for by_column in collected.unconverged.values() for runs in by_column.values() for run in runs]


def _average(cells: Sequence[Cell]) -> Cell:
    if not cells or any(c.empty for c in cells):
        return Cell()
    return Cell(mean=float(np.mean([c.mean for c in cells])))


def leaderboard(runs: Sequence[Run], metric: Metric, convention: ConventionChoice = "recorded",
                by_aggregation: bool = True) -> list[Grid]:
    """The leaderboard tables of ``runs`` ranked by ``metric`` (see the module docstring for the layout)."""
    grids = []
    for (backbone, labeling, aggregation), members in table_groups(runs, by_aggregation):
        def row_label(run: Run) -> str:
            return run.label if by_aggregation else run.strategy_label

        collected = collect(members, lambda run: metric.value(run, convention), row_label)
        columns = dataset_columns(members)
        datasets = [str(c.fields["dataset"]) for c in columns]
        repeated = sorted({d for d in datasets if datasets.count(d) > 1})
        has_average = len(columns) > 1 and not repeated
        rows = []
        for label in sorted(set(collected.values) | set(collected.incomplete)):
            cells = {c.key: dataclasses.replace(stat_cell(collected.values[label].get(c.key, {}),
                                                          len(collected.incomplete[label].get(c.key, []))),
                                                unconverged=len(collected.unconverged[label].get(c.key, [])))
                     for c in columns}
            if has_average:
                cells[AVERAGE] = _average([cells[c.key] for c in columns])
            rows.append(Row(label, cells, {"strategy_label": collected.full_labels[label]}))
        rows.sort(key=lambda r: _rank_key(r, [c.key for c in columns]))
        for rank, row in enumerate(rows, start=1):
            row.fields = {"rank": rank, **row.fields}
        if has_average:
            columns.append(Column(AVERAGE, AVERAGE, {"dataset": None, "protocol_hash": None, "superpixels": None}))
        mark_best(rows, [c.key for c in columns], metric.digits)
        grids.append(Grid(
            title=_title(metric, backbone, labeling, aggregation, by_aggregation),
            fields={"metric": metric.name, "backbone": backbone, "labeling": labeling, "aggregation": aggregation},
            row_header="strategy", columns=columns, rows=rows, digits=metric.digits,
            notes=_notes(metric, convention, members, by_aggregation, repeated, has_average) + collected.notes
            + incomplete_notes(collected),
        ))
    return grids


def _rank_key(row: Row, keys: Sequence[str]) -> tuple[int, float, str]:
    """By Average (best first); rows without one after, by their mean over the columns they have."""
    average = row.cells.get(AVERAGE, Cell())
    if not average.empty:
        return 0, -average.mean, row.label
    filled = [row.cells[k].mean for k in keys if not row.cells[k].empty]
    return (1, -float(np.mean(filled)), row.label) if filled else (2, 0.0, row.label)


def _title(metric: Metric, backbone: str, labeling: str, aggregation: str | None, by_aggregation: bool) -> str:
    title = f"{metric.title} · backbone {backbone} · {labeling} labels"
    if by_aggregation:
        title += f" · aggregation {aggregation or '–'}"
    return title


def _notes(metric: Metric, convention: ConventionChoice, runs: Sequence[Run], by_aggregation: bool,
           repeated: Sequence[str], has_average: bool) -> list[str]:
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
    if has_average:
        notes.append("Average: the mean over the dataset columns of a row's means, for rows with a value in "
                     "every column")
    for dataset in repeated:
        hashes = sorted({r.protocol_hash for r in runs if r.dataset == dataset})
        notes.append(f"{dataset}: runs under {len(hashes)} protocols ({', '.join(hashes)}) are shown apart and "
                     "never averaged; no Average column. Narrow with --protocol HASH")
    notes.append("bold: best in its column; underlined: second best (as displayed)")
    return notes
