"""Runs → table cells: which runs share a table, a column and a row, and the per-seed values of each cell.

The leaderboard, every report table and the HTML report group runs the same way (docs/reports.md):

- a table per backbone × labeling scheme (:func:`table_groups`); every strategy of it in one table with its
  aggregation in the row label (``entropy (mean)``, ``oreal (max)``), or, when split by aggregation, one
  table per aggregation whose labels drop it, the strategies without an aggregation (random) in each;
- a column per dataset × protocol hash (:func:`dataset_columns`): runs of different protocols are never
  averaged;
- a cell per row × column: the value of each complete seed (:func:`collect`); incomplete runs are counted
  apart, and a second complete run of the same seed is noted, not counted; complete runs with a round whose
  training did not converge are averaged and counted (the cell's ‡).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from albench.results.runs import Run
from albench.results.tables import Column, Row, Scalar, stat_cell

__all__ = [
    "AGGREGATION_ORDER",
    "Collected",
    "TableKey",
    "aggregation_order",
    "collect",
    "column_key",
    "dataset_columns",
    "row_label",
    "table_groups",
]

AGGREGATION_ORDER = ("max", "mean", "p95")
T = TypeVar("T")


class TableKey(NamedTuple):
    """What one table holds: runs of one backbone and labeling scheme (and one aggregation when split)."""

    backbone: str
    labeling: str
    aggregation: str | None


def aggregation_order(aggregation: str) -> tuple[int, str]:
    """Sort key: max, mean, p95, then any other aggregation by name."""
    order = AGGREGATION_ORDER.index(aggregation) if aggregation in AGGREGATION_ORDER else len(AGGREGATION_ORDER)
    return order, aggregation


def table_groups(runs: Iterable[Run], by_aggregation: bool = False) -> list[tuple[TableKey, list[Run]]]:
    """Runs per table, in a stable order. With ``by_aggregation`` a table per aggregation, each also holding
    the strategies without one; otherwise one table per backbone × labeling (aggregation None)."""
    by_setting: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        by_setting[(run.backbone, run.labeling)].append(run)
    groups: list[tuple[TableKey, list[Run]]] = []
    for (backbone, labeling), members in sorted(by_setting.items()):
        aggregations = sorted({r.aggregation for r in members if r.aggregation is not None}, key=aggregation_order)
        if not by_aggregation or not aggregations:
            groups.append((TableKey(backbone, labeling, None), members))
            continue
        for aggregation in aggregations:
            groups.append(
                (
                    TableKey(backbone, labeling, aggregation),
                    [r for r in members if r.aggregation in (aggregation, None)],
                )
            )
    return groups


def row_label(run: Run, by_aggregation: bool = False) -> str:
    """The run's row: its label without the aggregation parameter, followed by the aggregation in
    parentheses unless the tables are split by it (``oreal(aggregation=mean)`` → ``oreal (mean)``)."""
    if by_aggregation or run.aggregation is None:
        return run.label
    return f"{run.label} ({run.aggregation})"


def column_key(run: Run) -> str:
    """The run's column: its dataset under its protocol hash."""
    return f"{run.dataset}@{run.protocol_hash}"


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
        columns.append(
            Column(
                f"{dataset}@{protocol}", header, {"dataset": dataset, "protocol_hash": protocol, "superpixels": method}
            )
        )
    return columns


@dataclass
class Collected(Generic[T]):
    """Per row label and column key: the value of each complete seed, the incomplete runs left out, and the
    complete runs averaged although some round's training did not converge."""

    values: dict[str, dict[str, dict[int, T]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(dict)))
    incomplete: dict[str, dict[str, list[Run]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    unconverged: dict[str, dict[str, list[Run]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    full_labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Every row label, with values or only incomplete runs, sorted."""
        return sorted(set(self.values) | set(self.incomplete))

    def incomplete_notes(self) -> list[str]:
        runs = {
            run.run_id: run for by_column in self.incomplete.values() for runs in by_column.values() for run in runs
        }
        unconverged = {
            run.run_id: run for by_column in self.unconverged.values() for runs in by_column.values() for run in runs
        }
        return [f"† not averaged, incomplete: {run.describe()}" for run in runs.values()] + [
            f"‡ averaged, but training did not converge in {run.unconverged_rounds} of {run.rounds_done} rounds (a "
            f"step cap ended it while validation mIoU was still improving): {run.strategy_label} seed {run.seed} "
            f"on {run.dataset} (run {run.run_id})"
            for run in unconverged.values()
        ]

    def rows(
        self: Collected[float], columns: Sequence[Column], fields: Mapping[str, Mapping[str, Scalar]] | None = None
    ) -> list[Row]:
        """One row per label with a mean ± std cell per column (an empty cell where it has no value), and
        the label's ``fields`` (identifying it in records)."""
        return [
            Row(
                label,
                {
                    c.key: stat_cell(
                        self.values.get(label, {}).get(c.key, {}),
                        len(self.incomplete.get(label, {}).get(c.key, [])),
                        len(self.unconverged.get(label, {}).get(c.key, [])),
                    )
                    for c in columns
                },
                dict((fields or {}).get(label, {})),
            )
            for label in self.labels
        ]


def collect(
    runs: Sequence[Run],
    value: Callable[[Run], T],
    label: Callable[[Run], str],
    columns: Callable[[Run], Iterable[str]] = lambda run: [column_key(run)],
) -> Collected[T]:
    """Group run values by row ``label`` and column key(s): each complete run gives ``value(run)`` for its
    seed; an incomplete one is counted apart; a second complete run of the same label, column and seed is
    noted, not counted (its component versions differ: a stale file)."""
    collected: Collected[T] = Collected()
    counted: dict[tuple[str, str, int], Run] = {}
    for run in sorted(runs, key=lambda r: r.run_id):
        row = label(run)
        collected.full_labels.setdefault(row, run.strategy_label)
        for column in columns(run):
            if not run.complete:
                collected.incomplete[row][column].append(run)
                continue
            first = counted.setdefault((row, column, run.seed), run)
            if first is not run:
                note = (
                    f"runs {first.run_id} and {run.run_id} are both {run.strategy_label} seed {run.seed} on "
                    f"{run.dataset} (component versions differ); only {first.run_id} is counted: delete the "
                    "stale results file"
                )
                if note not in collected.notes:
                    collected.notes.append(note)
                continue
            collected.values[row][column][run.seed] = value(run)
            if run.unconverged_rounds:
                collected.unconverged[row][column].append(run)
    return collected
