"""A table as the leaderboard and the reports build it: rows × columns of mean ± std cells, plus notes.

Builders (``albench.results.leaderboard``, ``albench.results.report``) fill grids from runs (the per-seed values come from
:mod:`albench.results.grouping`) and finish them here: one Average column (:func:`add_average`) and one way of marking
the best (:func:`mark_best`, :func:`mark_best_in_rows`). How a cell reads (:func:`cell_text`,
:func:`cell_suffix`) is also fixed here, so the terminal, markdown, LaTeX and HTML renderings show the same
digits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

__all__ = [
    "AVERAGE",
    "Cell",
    "Column",
    "Grid",
    "Row",
    "Scalar",
    "add_average",
    "cell_count",
    "cell_flag",
    "cell_suffix",
    "cell_text",
    "mark_best",
    "grid_notes",
    "mark_best_in_rows",
    "show_counts",
    "stat_cell",
]

Scalar = str | int | float | None
AVERAGE = "Average"


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


def stat_cell(values: Mapping[int, float], incomplete: int = 0, unconverged: int = 0) -> Cell:
    """The cell of per-seed ``values`` (seed → value): mean, sample std (ddof 1), n and seeds."""
    seeds = tuple(sorted(values))
    array = np.array([values[s] for s in seeds], dtype=np.float64)
    if array.size == 0:
        return Cell(incomplete=incomplete, unconverged=unconverged)
    std = float(array.std(ddof=1)) if array.size > 1 else math.nan
    return Cell(float(array.mean()), std, int(array.size), seeds, incomplete, unconverged)


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


def _shown(cell: Cell | None, digits: int) -> float | None:
    """A cell's value as displayed (rounded to ``digits``), or None for no value."""
    return None if cell is None or cell.empty else round(cell.mean, digits)


Mark = Literal["bold", "underline"]


def mark_best(
    rows: Sequence[Row],
    column_keys: Iterable[str],
    digits: int,
    *,
    best: Mark = "bold",
    second: Mark | None = "underline",
) -> None:
    """In each column, mark the best value ``best`` and the second best ``second`` (ties share a mark).

    Values are compared as displayed (rounded to ``digits``), so a reader never sees two equal numbers
    marked differently; published (reference) rows are not ranked. Higher is better.
    """
    for column in column_keys:
        _mark([(row, column) for row in rows if row.reference is None], digits, best, second)


def mark_best_in_rows(
    rows: Sequence[Row], column_groups: Iterable[Sequence[str]], digits: int, *, best: Mark = "bold"
) -> None:
    """Within each row, mark the best of each group of columns (e.g. one dataset's mean and max columns);
    a group with fewer than two values in a row gets no mark."""
    groups = list(column_groups)
    for row in rows:
        if row.reference is None:
            for keys in groups:
                if sum(_shown(row.cells.get(k), digits) is not None for k in keys) > 1:
                    _mark([(row, k) for k in keys], digits, best, None)


def _mark(cells: Sequence[tuple[Row, str]], digits: int, best: Mark, second: Mark | None) -> None:
    """Mark the best (and second best) displayed value among ``cells`` (row, column key); marks add up."""
    shown = {(id(row), key): value for row, key in cells if (value := _shown(row.cells.get(key), digits)) is not None}
    distinct = sorted(set(shown.values()), reverse=True)
    for row, key in cells:
        value = shown.get((id(row), key))
        if value is None:
            continue
        marks = {best} if value == distinct[0] else {second} if len(distinct) > 1 and value == distinct[1] else set()
        cell = row.cells[key]
        row.cells[key] = replace(
            cell, bold=cell.bold or "bold" in marks, underline=cell.underline or "underline" in marks
        )


def add_average(rows: Sequence[Row], columns: list[Column]) -> bool:
    """Add an Average column: per row, the mean of its cells' means, for rows with a value in every column.

    Only for two or more columns that are all different datasets: columns of one dataset under several
    protocols are never averaged. Returns whether the column was added.
    """
    datasets = [c.fields.get("dataset") for c in columns]
    if len(columns) < 2 or len(set(datasets)) < len(datasets):
        return False
    for row in rows:
        cells = [row.cells.get(c.key, Cell()) for c in columns]
        row.cells[AVERAGE] = (
            Cell() if any(c.empty for c in cells) else Cell(mean=float(np.mean([c.mean for c in cells])))
        )
    columns.append(Column(AVERAGE, AVERAGE, {"dataset": None, "protocol_hash": None, "superpixels": None}))
    return True


def show_counts(grid: Grid) -> bool:
    """Whether cells show their ``(n)``: only when the cells of the table differ in it."""
    return len(grid.seed_counts) > 1


def cell_text(cell: Cell, digits: int) -> str:
    """``mean ± std`` (``mean`` alone without a std), or ``–`` for no value."""
    if cell.empty:
        return "–"
    if math.isnan(cell.std):
        return f"{cell.mean:.{digits}f}"
    return f"{cell.mean:.{digits}f} ± {cell.std:.{digits}f}"


def cell_count(cell: Cell, show_counts: bool) -> str:
    """`` (n)`` where the cells of a table differ in how many values they average, else nothing."""
    return f" ({cell.n})" if show_counts and cell.n and not cell.empty else ""


def cell_flag(cell: Cell) -> str:
    """`` †`` when incomplete runs were left out of the cell, `` ‡`` when a run in its mean did not converge
    in some round; else nothing."""
    return (" †" if cell.incomplete else "") + (" ‡" if cell.unconverged else "")


def cell_suffix(cell: Cell, show_counts: bool) -> str:
    """What follows a cell's value: its count where counts differ, then its incomplete and unconverged flags."""
    return cell_count(cell, show_counts) + cell_flag(cell)


def grid_notes(grid: Grid) -> list[str]:
    """The notes a rendering prints under ``grid``: how many seeds a cell averages, then the grid's own."""
    counts = grid.seed_counts
    if len(counts) == 1:
        n = counts.pop()
        unit = grid.count_unit.removesuffix("s") if n == 1 else grid.count_unit  # 1 seed, 1 seed pair
        return [f"n = {n} {unit} per cell", *grid.notes]
    if counts:
        return [f"(n): {grid.count_unit} per cell", *grid.notes]
    return list(grid.notes)
