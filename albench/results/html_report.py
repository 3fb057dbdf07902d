"""``albench report html``: one self-contained HTML page of a results directory (docs/reports.md).

Nothing on the page is computed here: the tables are the grids of :mod:`albench.results.leaderboard` and
:mod:`albench.results.report` with each cell read by :func:`albench.grid.cell_text` (so the page matches
``albench leaderboard`` to the last digit), and the figures are those of :mod:`albench.results.plots`, the code
``albench plot`` runs, embedded as SVG (PNG for images). CSS and a few lines of plain JavaScript (sortable
tables, strategies shown and hidden on the curves) are inlined from ``albench/assets``: the file opens
anywhere without a network, and without JavaScript everything is still readable.
"""

from __future__ import annotations

import base64
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib import resources

from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from albench import __version__
from albench._words import plural
from albench.errors import AlbenchError
from albench.results.grouping import row_label
from albench.results.leaderboard import leaderboard, parse_metric
from albench.results.paper import DATASETS, paper_dataset
from albench.results.plots import (
    class_distribution_figure,
    curve_labels,
    curves_figure,
    figure_png,
    figure_svg,
    per_class_gain_figure,
    strategy_colours,
)
from albench.results.report import ablation_table, gini_table, mean_vs_max_table, per_class_gain, run_records
from albench.results.runs import ConventionChoice, Run, strip_aggregation
from albench.results.tables import Cell, Grid, cell_count, cell_flag, cell_text, grid_notes, show_counts

__all__ = ["LEADERBOARD_METRICS", "ReportOptions", "SECTIONS", "SelectionFigure", "default_target", "html_report"]

# (id, heading) of every section, in page order
SECTIONS = (
    ("leaderboard", "Leaderboard"),
    ("curves", "Curves"),
    ("classes", "Class balance"),
    ("per-class", "Per-class gains"),
    ("paper", "Paper tables"),
    ("selection", "Selections"),
    ("runs", "Runs"),
    ("protocols", "Protocols"),
)
LEADERBOARD_METRICS = ("aualc", "miou@final", "gini")


@dataclass(frozen=True)
class SelectionFigure:
    """One selection overlay (``albench plot selection``'s figure) for the page, or the reason it is missing.

    Built by the caller: rebuilding a run's images needs the registry and the dataset."""

    title: str
    figure: Figure | None = None
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class ReportOptions:
    """What the page shows: the same choices as the leaderboard, report and plot commands."""

    source: str = "results"
    convention: ConventionChoice = "recorded"
    by_aggregation: bool = False
    target: str | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)


def _asset(name: str) -> str:
    return (resources.files("albench.results") / "assets" / name).read_text(encoding="utf-8")


class _Ids:
    """Page-unique element ids: ``t1``, ``t2`` for tables, ``f1``, ``f2`` for figures."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def __call__(self, prefix: str) -> str:
        self._counts[prefix] += 1
        return f"{prefix}{self._counts[prefix]}"


def html_report(
    runs: Sequence[Run],
    options: ReportOptions = ReportOptions(),
    notes: Sequence[str] = (),
    selections: Sequence[SelectionFigure] = (),
) -> str:
    """The whole page for ``runs`` (finished and in progress): every section of :data:`SECTIONS`."""
    if not runs:
        raise AlbenchError(f"no runs in {options.source}; run `albench run --strategy oreal` first")
    ids = _Ids()
    body = {
        "leaderboard": _leaderboard(runs, options, ids),
        "curves": _curves(runs, options, ids),
        "classes": _classes(runs, ids),
        "per-class": _per_class(runs, options, ids),
        "paper": _paper(runs, options, ids),
        "selection": _selection(selections, ids),
        "runs": _runs_table(runs, options, ids),
        "protocols": _protocols(runs),
    }
    sections = "\n".join(
        f'<section id="{key}">\n<h2>{escape(heading)}</h2>\n{body[key]}\n</section>' for key, heading in SECTIONS
    )
    navigation = " ".join(f'<a href="#{key}">{escape(heading)}</a>' for key, heading in SECTIONS)
    title = f"albench report: {options.source}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>\n{_asset('report.css')}</style>",
            "</head>",
            "<body>",
            _header(runs, options, notes, title),
            f"<nav>{navigation}</nav>",
            "<main>",
            sections,
            "</main>",
            f"<script>\n{_asset('report.js')}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _header(runs: Sequence[Run], options: ReportOptions, notes: Sequence[str], title: str) -> str:
    status = Counter(_status(run) for run in runs)
    counts = ", ".join(f"{status[s]} {s}" for s in ("complete", "in progress", "incomplete") if status[s])
    seeds = sorted({r.seed for r in runs})
    facts = [
        f"{plural(len(runs), 'run')} ({counts})",
        plural(len({r.dataset for r in runs}), "dataset"),
        plural(len({row_label(r) for r in runs}), "strategy", "strategies"),
        plural(len(seeds), "seed") + f" ({_span(seeds)})",
        f"albench {__version__}",
    ]
    lines = [f"<header>\n<h1>{escape(title)}</h1>", f"<p>{escape(' · '.join(facts))}</p>"]
    if status["in progress"] or status["incomplete"]:
        unfinished = status["in progress"] + status["incomplete"]
        lines.append(
            f'<p class="banner">{plural(unfinished, "run")} {"is" if unfinished == 1 else "are"} in '
            "progress or incomplete: their cells are flagged † and left out of every mean, and the curves "
            "leave them out; render the page again once they finish.</p>"
        )
    lines += [f'<p class="banner">{escape(note)}</p>' for note in notes]
    return "\n".join(lines) + "\n</header>"


def _span(values: Sequence[int]) -> str:
    if values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}–{values[-1]}"
    return ", ".join(map(str, values))


def _status(run: Run) -> str:
    return "complete" if run.complete else "in progress" if run.source == "checkpoint" else "incomplete"


# Tables ------------------------------------------------------------------------------------------------


def _grid_tables(grids: Sequence[Grid], ids: _Ids, shared: Sequence[str] | None = None) -> str:
    """Grids as sortable tables, each with its own notes; the notes they all share (or ``shared``, when the
    caller prints them elsewhere) once after them, as the terminal prints them."""
    if shared is None:
        shared = _shared_notes(grids)
        after = _notes(shared)
    else:
        after = ""
    parts = [_grid_table(grid, [n for n in grid_notes(grid) if n not in shared], ids) for grid in grids]
    return "\n".join([*parts, after])


def _shared_notes(grids: Sequence[Grid]) -> list[str]:
    """The notes every one of several grids has, in the first one's order."""
    if len(grids) < 2:
        return []
    common = set.intersection(*(set(grid_notes(grid)) for grid in grids))
    return [n for n in grid_notes(grids[0]) if n in common]


def _notes(notes: Sequence[str]) -> str:
    return '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>" if notes else ""


def _grid_table(grid: Grid, notes: Sequence[str], ids: _Ids) -> str:
    """A grid as a sortable table: cells read exactly as in the terminal (``cell_text``, then the count and
    the † of ``cell_suffix``), marks as classes, the value to sort by in ``data-value``; published rows in a
    second body that sorting leaves in place."""
    show = show_counts(grid)
    head = [
        f'<th scope="col">{escape(grid.row_header)}</th>',
        *(f'<th scope="col" data-type="number">{escape(c.header)}</th>' for c in grid.columns),
    ]
    bodies: dict[bool, list[str]] = {False: [], True: []}
    for row in grid.rows:
        cells = [f'<th scope="row">{escape(row.label)}</th>']
        for column in grid.columns:
            cells.append(_cell(row.cells.get(column.key, Cell()), grid.digits, show))
        bodies[row.reference is not None].append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        f'<div class="table-block"><table class="sortable" id="{ids("t")}">',
        f"<caption>{escape(grid.title)}</caption>",
        "<thead><tr>" + "".join(head) + "</tr></thead>",
        "<tbody>" + "\n".join(bodies[False]) + "</tbody>",
    ]
    if bodies[True]:
        parts.append('<tbody class="reference">' + "\n".join(bodies[True]) + "</tbody>")
    parts += ["</table>", _notes(notes), "</div>"]
    return "\n".join(parts)


def _cell(cell: Cell, digits: int, show: bool) -> str:
    classes = " ".join(name for name, on in (("best", cell.bold), ("second", cell.underline)) if on)
    value = "" if cell.empty else repr(round(cell.mean, 10))
    count, flag = cell_count(cell, show), cell_flag(cell)
    text = escape(cell_text(cell, digits))
    text += f'<span class="count">{escape(count)}</span>' if count else ""
    text += f'<span class="flag">{escape(flag)}</span>' if flag else ""
    attributes = f' class="{classes}"' if classes else ""
    return f'<td data-value="{value}"{attributes}>{text}</td>'


def _records_table(
    records: Sequence[Mapping[str, object]],
    columns: Sequence[tuple[str, str]],
    caption: str,
    ids: _Ids,
    cell: Callable[[str, object], str] | None = None,
) -> str:
    """Flat records (one per run, say) as a sortable table of the chosen (key, header) columns."""
    numeric = {
        key
        for key, _ in columns
        if any(isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool) for r in records)
    }
    number = ' data-type="number"'
    head = "".join(
        f'<th scope="col"{number if key in numeric else ""}>{escape(header)}</th>' for key, header in columns
    )
    rows = []
    for record in records:
        cells = []
        for key, _ in columns:
            value = record.get(key)
            text = escape("–" if value is None else str(value)) if cell is None else cell(key, value)
            if key in numeric:
                cells.append(f'<td data-value="{"" if value is None else value}">{text}</td>')
            else:
                cells.append(f'<td class="text">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(
        [
            f'<div class="table-block"><table class="sortable" id="{ids("t")}">',
            f"<caption>{escape(caption)}</caption>",
            f"<thead><tr>{head}</tr></thead>",
            "<tbody>" + "\n".join(rows) + "</tbody>",
            "</table></div>",
        ]
    )


# Figures -----------------------------------------------------------------------------------------------

_SVG_START = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(xlink:href="#|href="#|url\(#)([^")]+)')
_COORDINATES = re.compile(r'\b(d|x|y|transform)="([^"]*)"')
_DECIMALS = re.compile(r"(\d\.\d)\d+")


def _svg(figure: Figure, figure_id: str) -> str:
    """The figure's SVG for inlining: no XML prolog or metadata, every id prefixed with ``figure_id`` so
    that several figures on one page never share an id (the toggles find a strategy's elements by it)."""
    svg = _METADATA.sub("", _SVG_START.sub("", figure_svg(figure), count=1))
    # a tenth of a point is finer than any screen shows: a shorter page
    svg = _COORDINATES.sub(lambda m: m.group(1) + '="' + _DECIMALS.sub(r"\1", m.group(2)) + '"', svg)
    svg = _ID.sub(lambda m: f'id="{figure_id}-{m.group(1)}"', svg)
    svg = _REFERENCE.sub(lambda m: f"{m.group(1)}{figure_id}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg id="{figure_id}" role="img" ', 1)


def _figure(figure: Figure, ids: _Ids, alt: str) -> tuple[str, str]:
    figure_id = ids("f")
    return figure_id, f'<div class="figure" aria-label="{escape(alt)}">{_svg(figure, figure_id)}</div>'


def _png(figure: Figure, alt: str, colours: int = 64) -> str:
    data = base64.b64encode(figure_png(figure, colours=colours)).decode("ascii")
    return f'<div class="figure"><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></div>'


def _attempt(build: Callable[[], str]) -> str:
    """A section's content, or the one-line reason it has none (e.g. no complete run to plot)."""
    try:
        return build()
    except AlbenchError as error:
        return f'<p class="lead">{escape(str(error))}</p>'


def _left_out(runs: Sequence[Run]) -> str:
    missing = [run for run in runs if not run.complete]
    if not missing:
        return ""
    items = "".join(f"<li>{escape(run.describe())}</li>" for run in missing)
    return f'<details><summary>{plural(len(missing), "run")} not drawn (not complete)</summary><ul class="notes">{items}</ul></details>'


# Sections ----------------------------------------------------------------------------------------------


def _leaderboard(runs: Sequence[Run], options: ReportOptions, ids: _Ids) -> str:
    split = "one per aggregation" if options.by_aggregation else "the aggregation in each strategy's label"
    parts = [
        f'<p class="lead">As <code>albench leaderboard</code> prints them: one table per backbone × labeling '
        f"scheme ({split}), mean ± sample standard deviation over seeds, the best of a column in bold and the "
        "second underlined. Click a column header to sort. Metrics: docs/metrics.md.</p>"
    ]
    tables = {
        name: leaderboard(runs, parse_metric(name), options.convention, options.by_aggregation)
        for name in LEADERBOARD_METRICS
    }
    shared = _shared_notes([grid for grids in tables.values() for grid in grids])
    for name, grids in tables.items():
        parts += [f"<h3>{escape(parse_metric(name).title)}</h3>", _grid_tables(grids, ids, shared)]
    if shared:
        parts += ["<h3>Notes on every table above</h3>", _notes(shared)]
    return "\n".join(parts)


def _toggles(figure_id: str, labels: Sequence[str]) -> str:
    """Checkboxes that show and hide each strategy's lines (hidden until the script runs), with the
    strategy's colour in the figure."""
    colours = strategy_colours(labels)
    boxes = "".join(
        f'<label><input type="checkbox" value="{i}" checked><span class="swatch" '
        f'style="background:{to_hex(colours[label])}"></span>{escape(label)}</label>'
        for i, label in enumerate(labels)
    )
    return f'<fieldset class="toggles" data-figure="{figure_id}" hidden><legend>strategies</legend>{boxes}</fieldset>'


def _curves(runs: Sequence[Run], options: ReportOptions, ids: _Ids) -> str:
    def build() -> str:
        labels = curve_labels(runs)
        parts = [
            '<p class="lead">As <code>albench plot curves</code> draws them: mIoU per round and per click '
            "spent, the mean over seeds with a ± one standard deviation band, one panel per dataset (and "
            "backbone, labeling scheme and protocol where those vary). Untick a strategy to hide it.</p>"
        ]
        for x in ("round", "clicks"):
            figure = curves_figure(runs, x, options.convention)
            figure_id, html = _figure(figure, ids, f"mIoU vs {x}")
            parts += [
                f"<h3>mIoU vs {'round' if x == 'round' else 'clicks spent'}</h3>",
                _toggles(figure_id, labels),
                html,
            ]
        return "\n".join(parts) + _left_out(runs)

    return _attempt(build)


def _classes(runs: Sequence[Run], ids: _Ids) -> str:
    def build() -> str:
        html = _png(class_distribution_figure(runs), "class distribution of the labeled sets")
        return (
            '<p class="lead">As <code>albench plot classes</code> draws it: the share of each class among the '
            "labeled regions after the last round, mean over seeds with the standard deviation as error bars; "
            "1 − Gini in the legend (1: perfectly balanced), also ranked in the leaderboard above.</p>\n" + html
        )

    return _attempt(build)


def default_target(runs: Sequence[Run], convention: ConventionChoice = "recorded") -> str:
    """The strategy the per-class section compares with the others: ``oreal`` when it ran (the paper's
    target), else the best-ranked strategy of the first AuALC table."""
    labels = {run.label for run in runs}
    if "oreal" in labels:
        return "oreal"
    first = leaderboard(runs, parse_metric("aualc"), convention)[0]
    return strip_aggregation(str(first.rows[0].fields["strategy_label"]))


def _per_class(runs: Sequence[Run], options: ReportOptions, ids: _Ids) -> str:
    def build() -> str:
        target = options.target or default_target(runs, options.convention)
        grids = per_class_gain(runs, target, options.convention if options.convention != "recorded" else "standard")
        html = _png(per_class_gain_figure(grids), f"per-class AuALC gain of {target}")
        tables = _grid_tables(grids, ids)
        return (
            f'<p class="lead">As <code>albench plot per-class --target {escape(target)}</code> draws it: per '
            f"class, the AuALC of {escape(target)} minus that of each other strategy of the same table, paired by "
            "seed (positive: the target is better); <code>--target</code> picks another strategy.</p>\n"
            f"{html}\n<details><summary>the numbers</summary>\n{tables}\n</details>"
        )

    return _attempt(build)


def _covers_the_paper(grid: Grid, aliases: Mapping[str, str]) -> bool:
    """Whether a table has a row of the user's and a column of the user's on one of the paper's datasets."""
    has_rows = any(row.reference is None for row in grid.rows)
    return has_rows and any(
        not c.reference_only and c.fields.get("dataset") and paper_dataset(str(c.fields["dataset"]), aliases)
        for c in grid.columns
    )


def _paper(runs: Sequence[Run], options: ReportOptions, ids: _Ids) -> str:
    aliases = dict(options.aliases)
    tables = [
        ablation_table(runs, options.convention, True, aliases, options.by_aggregation),
        mean_vs_max_table(runs, options.convention, compare_paper=True, aliases=aliases),
        gini_table(runs, compare_paper=True, aliases=aliases),
    ]
    covered = [[g for g in grids if _covers_the_paper(g, aliases)] for grids in tables]
    if not any(covered):
        names = ", ".join(DATASETS.values())
        return (
            f'<p class="lead">None of these results is on one of the paper\'s datasets ({escape(names)}), so there '
            "is nothing to set beside its tables. A dataset of your own that is one of them (a folder dataset "
            "holding MONARCH, say) is matched with <code>--paper-dataset NAME=PAPER</code>; "
            "<code>albench report paper --compare-paper</code> prints the tables whatever the datasets.</p>"
        )
    lead = (
        '<p class="lead">As <code>albench report paper --compare-paper</code> prints them, where these results '
        "cover the paper's datasets: its Tables 1, 2 (3 for weak labels) and 4, the published numbers in italic "
        "rows (not ranked) under the tables of their labeling scheme. Datasets share columns with the paper's by "
        "name (<code>--paper-dataset</code> maps others).</p>"
    )
    return "\n".join([lead, *(_grid_tables(grids, ids) for grids in covered)])


def _selection(selections: Sequence[SelectionFigure], ids: _Ids) -> str:
    if not selections:
        return (
            '<p class="lead">No overlays: they are rebuilt from finished runs and their dataset '
            "(<code>--overlays N</code>, <code>--data-root</code>).</p>"
        )
    parts = [
        '<p class="lead">As <code>albench plot selection</code> draws them: one image per dataset and setting, '
        "the last round's additions coloured by their dominant class, earlier labels hatched, one panel per "
        "strategy (the same seed, so the same image).</p>"
    ]
    for selection in selections:
        parts.append(f"<h3>{escape(selection.title)}</h3>")
        if selection.figure is not None:
            parts.append(_png(selection.figure, selection.title, colours=256))
        if selection.notes:
            parts.append(_notes(selection.notes))
    return "\n".join(parts)


_RUN_COLUMNS = (
    ("run_id", "run"),
    ("dataset", "dataset"),
    ("backbone", "backbone"),
    ("labeling", "labeling"),
    ("strategy", "strategy"),
    ("seed", "seed"),
    ("status", "status"),
    ("rounds_of", "rounds"),
    ("aualc", "AuALC (%)"),
    ("final_miou", "final mIoU (%)"),
    ("gini_foreground", "1 − Gini (fg)"),
    ("clicks_spent", "clicks"),
    ("protocol_hash", "protocol"),
)


def _runs_table(runs: Sequence[Run], options: ReportOptions, ids: _Ids) -> str:
    records = [
        {**r, "rounds_of": f"{r['rounds_done']} of {r['rounds']}"} for r in run_records(runs, options.convention)
    ]

    def cell(key: str, value: object) -> str:
        if key == "status":
            return f'<span class="status {str(value).replace(" ", "-")}">{escape(str(value))}</span>'
        if key in ("run_id", "protocol_hash"):
            return f"<code>{escape(str(value))}</code>"
        return escape("–" if value is None else str(value))

    return (
        '<p class="lead">As <code>albench report runs</code> lists them: every run, finished or in progress '
        "(read from its checkpoint), with its headline numbers (AuALC and mIoU in percent).</p>\n"
        + _records_table(records, _RUN_COLUMNS, plural(len(records), "run"), ids, cell)
    )


def _protocols(runs: Sequence[Run]) -> str:
    """One table of settings × protocol hashes (settings that differ first), then each hash's environments."""
    by_protocol: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_protocol[run.protocol_hash].append(run)
    hashes = sorted(by_protocol)
    settings: dict[str, dict[str, str]] = defaultdict(dict)
    for protocol_hash in hashes:
        first = by_protocol[protocol_hash][0]
        values = {
            "dataset": first.dataset,
            "superpixels": first.superpixels,
            **{f"dataset.{k}": v for k, v in first.dataset_params.items()},
            **{f"superpixels.{k}": v for k, v in first.superpixels_params.items()},
            **{k: v for k, v in first.protocol.items()},
        }
        for key, value in values.items():
            settings[key][protocol_hash] = str(value)
    differ = [k for k, v in settings.items() if len(set(v.values())) > 1 or len(v) < len(hashes)]
    same = [k for k in settings if k not in differ]
    head = "".join(f'<th scope="col"><code>{escape(h)}</code></th>' for h in hashes)
    rows = "\n".join(
        f'<tr{" class=differs" if key in differ else ""}><th scope="row">{escape(key)}</th>'
        + "".join(f'<td class="text">{escape(settings[key].get(h, "–"))}</td>' for h in hashes)
        + "</tr>"
        for key in differ + same
    )
    environments = []
    for protocol_hash in hashes:
        counts = Counter(tuple(sorted(run.environment.items())) for run in by_protocol[protocol_hash])
        for environment, count in sorted(counts.items()):
            text = ", ".join(f"{k.removesuffix('_version')} {v}" for k, v in environment) or "not recorded"
            environments.append(f"<code>{escape(protocol_hash)}</code>: {plural(count, 'run')} with {escape(text)}")
    return "\n".join(
        [
            '<p class="lead">Runs are compared only within one protocol hash (its dataset, superpixels and protocol), '
            "each hash a column here with the settings its runs recorded; settings that differ between hashes come "
            "first. Then the environments the runs recorded.</p>",
            '<div class="table-block"><table class="settings">',
            f'<thead><tr><th scope="col">setting</th>{head}</tr></thead>',
            f"<tbody>{rows}</tbody></table></div>",
            "<h3>Environments</h3>",
            '<ul class="notes">' + "".join(f"<li>{e}</li>" for e in environments) + "</ul>",
        ]
    )
