"""A table as the leaderboard and the reports build it: rows × columns of mean ± std cells, plus notes.

Builders (``albench.results.leaderboard``, ``albench.results.report``) fill grids from runs; the CLI renders them (rich,
markdown, CSV, JSON, LaTeX) without computing anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Cell", "Column", "Grid", "Row", "Scalar", "mark_best", "stat_cell"]

Scalar = str | int | float | None


@dataclass(frozen=True)
class Cell:
    """A mean ± sample standard deviation over ``n`` values (seeds, or seed pairs).

    ``mean`` is NaN when there is no value; ``std`` is NaN for fewer than two values or a published
    number. ``incomplete`` counts runs left out of the mean because they lack rounds; ``unconverged`` the
    runs in the mean with a round whose training did not converge.
    """

    mean: float = math.nan
    std: float = math.nan
    n: int = 0
    seeds: tuple[int, ...] = ()
    incomplete: int = 0
    unconverged: int = 0
    bold: bool = False
    underline: bool = False

    @property
    def empty(self) -> bool:
        return math.isnan(self.mean)


def stat_cell(values: Mapping[int, float], incomplete: int = 0) -> Cell:
    """The cell of per-seed ``values`` (seed → value): mean, sample std (ddof 1), n and seeds."""
    seeds = tuple(sorted(values))
    array = np.array([values[s] for s in seeds], dtype=np.float64)
    if array.size == 0:
        return Cell(incomplete=incomplete)
    std = float(array.std(ddof=1)) if array.size > 1 else math.nan
    return Cell(float(array.mean()), std, int(array.size), seeds, incomplete)


@dataclass(frozen=True)
class Column:
    """A column: its unique ``key``, the ``header`` shown, and the fields that identify it in records.

    ``reference_only`` columns hold published numbers for datasets without results of the user's own.
    """

    key: str
    header: str
    fields: Mapping[str, Scalar] = field(default_factory=dict)
    reference_only: bool = False


@dataclass
class Row:
    """A row: its label, its cells by column key, its identifying fields, and for published numbers the
    ``reference`` they come from (e.g. ``OREAL supplementary, Table 1``)."""

    label: str
    cells: dict[str, Cell]
    fields: Mapping[str, Scalar] = field(default_factory=dict)
    reference: str | None = None


@dataclass
class Grid:
    """One rendered table: ``row_header`` names what the rows are (strategy, class, …); a cell's ``n``
    counts ``count_unit`` (seeds, or seed pairs)."""

    title: str
    fields: Mapping[str, Scalar]
    row_header: str
    columns: list[Column]
    rows: list[Row]
    digits: int
    notes: list[str] = field(default_factory=list)
    count_unit: str = "seeds"

    def cell(self, row_label: str, column_key: str) -> Cell:
        """The cell at a row label and column key (an empty cell if the row lacks it)."""
        for row in self.rows:
            if row.label == row_label and row.reference is None:
                return row.cells.get(column_key, Cell())
        raise KeyError(f"no row {row_label!r} in table {self.title!r}")

    @property
    def seed_counts(self) -> set[int]:
        """The distinct ``n`` of the filled seed-statistic cells of the user's rows (not Average cells)."""
        return {c.n for r in self.rows if r.reference is None for c in r.cells.values() if not c.empty and c.n}


def mark_best(rows: Sequence[Row], column_keys: Iterable[str], digits: int,
              key: Callable[[float], float] = lambda value: value) -> None:
    """In each column, bold the best value and underline the second best (ties share a mark).

    Values are compared as displayed (rounded to ``digits``), so a reader never sees two equal numbers
    marked differently; published (reference) rows are not ranked. ``key`` orders values (higher is best).
    """
    for column in column_keys:
        shown = {id(r): round(r.cells[column].mean, digits) for r in rows
                 if r.reference is None and column in r.cells and not r.cells[column].empty}
        distinct = sorted(set(shown.values()), key=key, reverse=True)
        for row in rows:
            if id(row) not in shown:
                continue
            value = shown[id(row)]
            cell = row.cells[column]
            row.cells[column] = replace(cell, bold=value == distinct[0],
                                        underline=len(distinct) > 1 and value == distinct[1])
