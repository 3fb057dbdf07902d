"""``albench leaderboard``: rank strategies by AuALC from a results directory (table, markdown, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import typer
from rich.table import Table

from albench.cli._common import FormatOption, OutputFormat, ResultsDirOption, err, handle_errors, out
from albench.leaderboard import Group, Stat, records
from albench.leaderboard import leaderboard as build_leaderboard
from albench.results import read_results

HEADERS = ("rank", "strategy", "seeds", "AuALC", "final mIoU", "1−Gini (fg)", "1−Gini (all)")
NOTE = ("AuALC and mIoU in percent, mean ± sample std over seeds; 1−Gini of the final labeled set's "
        "per-class region counts (fg: background left out).")


def _fmt(stat: Stat, digits: int) -> str:
    if math.isnan(stat.mean):
        return "–"
    if math.isnan(stat.std):
        return f"{stat.mean:.{digits}f}"
    return f"{stat.mean:.{digits}f} ± {stat.std:.{digits}f}"


def _title(group: Group) -> str:
    k = group.key
    return f"{k['dataset']} · {k['backbone']} · {k['superpixels']} · {k['labeling']} · protocol {k['protocol_hash']}"


def _cells(group: Group) -> list[list[str]]:
    rows = []
    for s in group.standings:
        seeds = f"{len(s.seeds)}" + (f" (+{s.incomplete_runs} incomplete)" if s.incomplete_runs else "")
        rows.append([
            str(s.rank), s.strategy, seeds, _fmt(s.aualc, 1), _fmt(s.final_miou, 1),
            _fmt(s.balance_foreground, 2) if group.has_background else "–", _fmt(s.balance_all, 2),
        ])
    return rows


def render_markdown(groups: list[Group]) -> str:
    lines: list[str] = []
    for group in groups:
        lines += [f"### {_title(group)}", "", "| " + " | ".join(HEADERS) + " |",
                  "|" + "|".join("---:" if h not in ("strategy",) else ":---" for h in HEADERS) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in _cells(group)]
        lines.append("")
    lines.append(f"_{NOTE}_")
    return "\n".join(lines)


def render_csv(groups: list[Group]) -> str:
    flat = records(groups)
    buffer = io.StringIO()
    if flat:
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
    return buffer.getvalue()


def leaderboard(results_dir: ResultsDirOption = Path("results"), format: FormatOption = OutputFormat.table) -> None:
    """Rank the strategies in a results directory by AuALC, grouped by dataset and protocol."""
    with handle_errors():
        groups = build_leaderboard(read_results(results_dir))
        if not groups and format is OutputFormat.table:
            err.print(f"no results in {results_dir}; run `albench run --strategy oreal` first")
            return
        if format is OutputFormat.json:
            typer.echo(json.dumps(records(groups), indent=2))
        elif format is OutputFormat.csv:
            typer.echo(render_csv(groups), nl=False)
        elif format is OutputFormat.markdown:
            typer.echo(render_markdown(groups))
        else:
            for group in groups:
                table = Table(title=_title(group), title_justify="left")
                for header in HEADERS:
                    table.add_column(header, justify="left" if header == "strategy" else "right")
                for cells in _cells(group):
                    table.add_row(*cells)
                out.print(table)
            err.print(NOTE)
