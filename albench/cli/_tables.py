"""Render grids (:class:`albench.results.tables.Grid`) as a rich table, markdown, CSV, JSON or LaTeX. No arithmetic here.

A cell reads ``mean ± std``; ``(n)`` follows when the cells of a table differ in how many seeds they
average (otherwise a note says how many); ``†`` marks a cell with incomplete runs left out. CSV and JSON
hold the same records, one per table × row × column with a value (long format).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.segment import Segments
from rich.table import Table
from rich.text import Text

from albench.results.tables import Cell, Grid, Scalar, cell_suffix, cell_text, grid_notes, show_counts

__all__ = ["ReportFormat", "ReportFormatOption", "print_table", "records", "render", "render_records"]


class ReportFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    latex = "latex"


ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")]


def _markdown_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(grid: Grid) -> list[str]:
    show = show_counts(grid)
    lines = [
        f"### {grid.title}",
        "",
        "| " + " | ".join(_markdown_escape(h) for h in [grid.row_header, *(c.header for c in grid.columns)]) + " |",
        "|:---|" + "---:|" * len(grid.columns),
    ]
    for row in grid.rows:
        cells = []
        for column in grid.columns:
            cell = row.cells.get(column.key, Cell())
            text = cell_text(cell, grid.digits)
            if cell.bold:
                text = f"**{text}**"
            if cell.underline:
                text = f"<u>{text}</u>"
            cells.append(text + cell_suffix(cell, show))
        label = f"*{_markdown_escape(row.label)}*" if row.reference else _markdown_escape(row.label)
        lines.append("| " + " | ".join([label, *cells]) + " |")
    lines.append("")
    lines += [f"- {_markdown_escape(note)}" for note in grid_notes(grid)]
    lines.append("")
    return lines


def render_markdown(grids: Sequence[Grid]) -> str:
    return "\n".join(line for grid in grids for line in _markdown(grid))


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_UNICODE = {
    "±": r"$\pm$",
    "−": r"$-$",
    "×": r"$\times$",
    "†": r"\dag{}",
    "‡": r"\ddag{}",
    "·": r"$\cdot$",
    "–": "--",
    "—": "---",
    "δ": r"$\delta$",
    "…": r"\ldots{}",
    "→": r"$\to$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "²": r"$^2$",
    "ν": r"$\nu$",
    "§": r"\S{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters and spell the few non-ASCII symbols albench prints as commands."""
    return "".join(_LATEX_SPECIAL.get(ch, _LATEX_UNICODE.get(ch, ch)) for ch in text)


def _latex(grid: Grid) -> list[str]:
    show = show_counts(grid)
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(grid.title)}}}",
        rf"\begin{{tabular}}{{l{'r' * len(grid.columns)}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in [grid.row_header, *(c.header for c in grid.columns)]) + r" \\",
        r"\midrule",
    ]
    reference_started = False
    for row in grid.rows:
        if row.reference and not reference_started:
            lines.append(r"\midrule")
            reference_started = True
        cells = []
        for column in grid.columns:
            cell = row.cells.get(column.key, Cell())
            text = latex_escape(cell_text(cell, grid.digits))
            if cell.bold:
                text = rf"\textbf{{{text}}}"
            if cell.underline:
                text = rf"\underline{{{text}}}"
            cells.append(text + latex_escape(cell_suffix(cell, show)))
        label = rf"\textit{{{latex_escape(row.label)}}}" if row.reference else latex_escape(row.label)
        lines.append(" & ".join([label, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\smallskip", r"{\footnotesize " + r" \\ ".join(latex_escape(n) for n in grid_notes(grid)) + "}"]
    lines += [r"\end{table}", ""]
    return lines


def render_latex(grids: Sequence[Grid]) -> str:
    """Tables for a document that loads ``booktabs`` (``\\toprule``, ``\\midrule``, ``\\bottomrule``)."""
    header = ["% albench tables: \\usepackage{booktabs} in the preamble", ""]
    return "\n".join(header + [line for grid in grids for line in _latex(grid)])


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def records(grids: Sequence[Grid]) -> list[dict[str, Scalar]]:
    """One flat record per table × row × column with a value or incomplete runs (NaN as None)."""
    flat: list[dict[str, Scalar]] = []
    for grid in grids:
        for row in grid.rows:
            for column in grid.columns:
                cell = row.cells.get(column.key)
                if cell is None or (cell.empty and not cell.incomplete):
                    continue
                flat.append(
                    {
                        "table": grid.title,
                        **grid.fields,
                        grid.row_header: row.label,
                        **row.fields,
                        "column": column.header,
                        **column.fields,
                        "mean": _number(cell.mean),
                        "std": _number(cell.std),
                        "n": cell.n,
                        "seeds": " ".join(str(s) for s in cell.seeds),
                        "incomplete_runs": cell.incomplete,
                        "unconverged_runs": cell.unconverged,
                        "bold": cell.bold,
                        "underline": cell.underline,
                        "reference": row.reference,
                    }
                )
    keys: dict[str, None] = {}
    for record in flat:
        keys.update(dict.fromkeys(record))
    return [{key: record.get(key) for key in keys} for record in flat]


def _csv_value(value: Scalar) -> Scalar:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def render_csv(grids: Sequence[Grid]) -> str:
    flat = records(grids)
    buffer = io.StringIO()
    if flat:
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _csv_value(v) for k, v in record.items()} for record in flat)
    return buffer.getvalue()


def render_json(grids: Sequence[Grid], extra_notes: Sequence[str] = ()) -> str:
    payload: dict[str, Any] = {
        "tables": [{"title": g.title, **g.fields, "notes": grid_notes(g)} for g in grids],
        "records": records(grids),
        "notes": list(extra_notes),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _rich(grid: Grid) -> Table:
    show = show_counts(grid)
    table = Table(title=grid.title, title_justify="left")
    table.add_column(grid.row_header, justify="left")
    for column in grid.columns:
        table.add_column(column.header, justify="right")
    for index, row in enumerate(grid.rows):
        cells = []
        for column in grid.columns:
            cell = row.cells.get(column.key, Cell())
            style = " ".join(s for s, on in (("bold", cell.bold), ("underline", cell.underline)) if on)
            cells.append(Text(cell_text(cell, grid.digits), style=style) + Text(cell_suffix(cell, show)))
        end_section = index + 1 < len(grid.rows) and grid.rows[index + 1].reference is not None and not row.reference
        table.add_row(Text(row.label, style="italic" if row.reference else ""), *cells, end_section=end_section)
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` so that no cell and no title ever wraps: the title on a line of its own, the table at
    its natural width even when that is wider than the terminal (or than the 80 columns rich assumes when
    stdout is a pipe), so ``albench plugins | grep deeplabv3-resnet50`` finds the name whole. A column that
    sets ``max_width`` (free text such as an error message) still folds within it."""
    title, table.title = table.title, None
    try:
        if title:
            console.print(title, style="table.title", soft_wrap=True, highlight=False)
        natural = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
        options = console.options.update(width=max(natural, console.width))
        console.print(Segments(console.render(table, options)), crop=False)
    finally:
        table.title = title


def render(
    grids: Sequence[Grid], format: ReportFormat, out: Console, err: Console, extra_notes: Sequence[str] = ()
) -> None:
    """Write ``grids`` to stdout in ``format``; in table format the notes go to stderr."""
    if format is ReportFormat.json:
        typer.echo(render_json(grids, extra_notes))
    elif format is ReportFormat.csv:
        typer.echo(render_csv(grids), nl=False)
    elif format is ReportFormat.markdown:
        typer.echo(render_markdown(grids) + "".join(f"\n- {n}" for n in extra_notes))
    elif format is ReportFormat.latex:
        typer.echo(render_latex(grids) + "".join(f"\n% {n}" for n in extra_notes))
    else:
        shared = set.intersection(*(set(grid_notes(g)) for g in grids)) if len(grids) > 1 else set()
        for grid in grids:
            print_table(out, _rich(grid))
            for note in grid_notes(grid):
                if note not in shared:
                    err.print(Text(f"  {note}", style="dim"))
        for note in [n for n in grid_notes(grids[0]) if n in shared] if grids else []:
            err.print(Text(note, style="dim"))
        for note in extra_notes:
            err.print(Text(note))


def render_records(flat: Sequence[Mapping[str, Scalar]], format: ReportFormat, out: Console, title: str) -> None:
    """Write flat records (one per run, say) in ``format``: the same fields in every format."""
    keys = list(flat[0]) if flat else []

    def text(value: Scalar) -> str:
        return "–" if value is None else str(value)

    if format is ReportFormat.json:
        typer.echo(json.dumps(list(flat), indent=2, ensure_ascii=False))
    elif format is ReportFormat.csv:
        buffer = io.StringIO()
        if flat:
            writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _csv_value(v) for k, v in record.items()} for record in flat)
        typer.echo(buffer.getvalue(), nl=False)
    elif format is ReportFormat.markdown:
        lines = [f"### {title}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_markdown_escape(text(r[k])) for k in keys) + " |" for r in flat]
        typer.echo("\n".join(lines))
    elif format is ReportFormat.latex:
        lines = [
            rf"\begin{{tabular}}{{{'l' * len(keys)}}}",
            r"\toprule",
            " & ".join(latex_escape(k) for k in keys) + r" \\",
            r"\midrule",
            *(" & ".join(latex_escape(text(r[k])) for k in keys) + r" \\" for r in flat),
            r"\bottomrule",
            r"\end{tabular}",
        ]
        typer.echo("\n".join(lines))
    else:
        table = Table(title=title, title_justify="left")
        for key in keys:
            table.add_column(key, justify="right" if flat and isinstance(flat[0][key], int | float) else "left")
        for record in flat:
            table.add_row(*(Text(text(record[k])) for k in keys))
        print_table(out, table)
