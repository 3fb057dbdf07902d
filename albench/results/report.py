"""The paper's tables regenerated from runs (pure functions from runs to :class:`albench.results.tables.Grid`).

- :func:`ablation_table`, Table 1 style: AuALC of every strategy label (ablations included) × datasets.
- :func:`mean_vs_max_table`, Tables 2/3 style: per strategy, the mIoU gain of max over mean aggregation,
  averaged over rounds, paired by seed.
- :func:`gini_table`, Table 4 style: 1 − Gini of the final labeled set per strategy, mean and max.
- :func:`per_class_gain`, Figs. 9–10 style: per class, the AuALC gain of one strategy over each baseline.
- :func:`run_records`: one flat record per run with every headline metric.

``--compare-paper`` reference rows come from :mod:`albench.results.paper` (:func:`add_reference_rows`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from albench.errors import AlbenchError
from albench.results.leaderboard import AVERAGE, column_key, dataset_columns, leaderboard, parse_metric, table_groups
from albench.results.metrics import Convention, aualc_per_class
from albench.results.paper import BACKBONES, DATASETS, Published, paper_dataset, published
from albench.results.runs import ConventionChoice, Run
from albench.results.tables import Cell, Column, Grid, Row, Scalar, stat_cell

__all__ = ["ablation_table", "add_reference_rows", "gini_table", "mean_vs_max_table", "per_class_gain", "run_records"]


def add_reference_rows(grid: Grid, values: Sequence[Published], aliases: Mapping[str, str] | None = None,
                       aggregations: Callable[[Published], Sequence[str | None]] = lambda p: [None]) -> None:
    """Append one italic row per published row name, its numbers under the matching dataset columns.

    A user column takes a published value when its dataset maps to the paper's (:func:`albench.results.paper.
    paper_dataset`) and, for columns split by aggregation, its ``aggregation`` is one of
    ``aggregations(value)``. Paper datasets without a user column get a reference-only column; the paper's
    Average goes in the Average column.
    """
    if not values:
        return
    by_row: dict[str, list[Published]] = defaultdict(list)
    for value in values:
        by_row[value.row].append(value)
    for value in values:
        if value.dataset == "average" and not any(c.key == AVERAGE for c in grid.columns):
            grid.columns.append(Column(AVERAGE, AVERAGE, {"dataset": None}))
    for row_name, row_values in by_row.items():
        cells: dict[str, Cell] = {}
        for value in row_values:
            for aggregation in aggregations(value):
                for key in _columns_for(grid, value, aggregation, aliases):
                    cells[key] = Cell(value.value)
        grid.rows.append(Row(f"{row_name} (paper)", cells, {"strategy_label": row_values[0].strategy},
                             reference=row_values[0].source))
    sources = sorted({v.source for v in values})
    setting = {(BACKBONES.get(v.backbone, v.backbone), v.labeling) for v in values}
    average = "; their Average is the paper's, over its datasets" if any(v.dataset == "average" for v in values) else ""
    grid.notes.append(f"(paper) rows: published values ({'; '.join(sources)}; "
                      f"{', '.join(f'{b}, {lab} labels' for b, lab in sorted(setting))}); not ranked{average}")


def _columns_for(grid: Grid, value: Published, aggregation: str | None,
                 aliases: Mapping[str, str] | None) -> list[str]:
    if value.dataset == "average":
        return [AVERAGE]
    if value.dataset not in DATASETS:
        return []
    keys = [c.key for c in grid.columns if not c.reference_only and c.fields.get("dataset") is not None
            and paper_dataset(str(c.fields["dataset"]), aliases) == value.dataset
            and (aggregation is None or c.fields.get("aggregation") == aggregation)]
    if keys:
        return keys
    key = f"paper:{value.dataset}" + (f"|{aggregation}" if aggregation else "")
    if not any(c.key == key for c in grid.columns):
        header = DATASETS[value.dataset] + (f" {aggregation}" if aggregation else "")
        column = Column(key, header, {"dataset": value.dataset, "aggregation": aggregation}, reference_only=True)
        position = next((i for i, c in enumerate(grid.columns) if c.key == AVERAGE), len(grid.columns))
        grid.columns.insert(position, column)
    return [key]


def ablation_table(runs: Sequence[Run], convention: ConventionChoice = "recorded", compare_paper: bool = False,
                   aliases: Mapping[str, str] | None = None) -> list[Grid]:
    """Table 1 style: AuALC of every strategy label (aggregation included) × datasets, per backbone × labeling."""
    grids = leaderboard(runs, parse_metric("aualc"), convention, by_aggregation=False)
    for grid in grids:
        grid.title = f"Table 1 style: {grid.title}"
        if compare_paper:
            add_reference_rows(grid, published("aualc"), aliases)
    return grids


def _pairs(runs: Sequence[Run]) -> tuple[dict[tuple[str, str, int], dict[str, Run]], dict[tuple[str, str], int]]:
    """Complete mean and max runs by (label, column, seed); incomplete ones counted by (label, column)."""
    pairs: dict[tuple[str, str, int], dict[str, Run]] = defaultdict(dict)
    incomplete: dict[tuple[str, str], int] = defaultdict(int)
    for run in sorted(runs, key=lambda r: r.run_id):
        if run.aggregation not in ("mean", "max"):
            continue
        if run.complete:
            pairs[(run.label, column_key(run), run.seed)].setdefault(run.aggregation, run)
        else:
            incomplete[(run.label, column_key(run))] += 1
    return pairs, incomplete


def _paper_stage(stage: int | None) -> int:
    """The paper's stage number (1, 2) of albench's 0-based stage index (None or −1: the last, 2)."""
    return 1 if stage == 0 else 2


def mean_vs_max_table(runs: Sequence[Run], convention: ConventionChoice = "recorded", first_round: int = 1,
                      stage: int | None = None, compare_paper: bool = False,
                      aliases: Mapping[str, str] | None = None) -> list[Grid]:
    """Tables 2/3 style: mean over rounds ≥ ``first_round`` of mIoU(max) − mIoU(mean), in points, paired by
    seed, per strategy × dataset; ``stage`` picks a training stage of multi-stage labeling (weak)."""
    def curve(run: Run) -> np.ndarray:
        return run.stage_mious(stage) if stage is not None else run.miou(convention)

    grids = []
    for (backbone, labeling, _), members in table_groups(runs, by_aggregation=False):
        pairs, incomplete = _pairs(members)
        values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        notes: list[str] = []
        for (label, column, seed), pair in sorted(pairs.items()):
            if len(pair) < 2:
                (only,) = pair
                notes.append(f"{label} seed {seed} on {pair[only].dataset}: only {only} aggregation, not paired")
                continue
            gain = curve(pair["max"])[first_round:] - curve(pair["mean"])[first_round:]
            if gain.size:
                values[label][column][seed] = 100 * float(gain.mean())
        if not values and not compare_paper:
            continue
        if not values:
            notes.append("no strategy here has complete runs with both mean and max aggregation (e.g. "
                         "`albench run -s oreal --set strategy.aggregation=mean`): only the published rows")
        columns = dataset_columns([r for r in members if r.aggregation in ("mean", "max")] or members)
        rows = [Row(label, {c.key: stat_cell(values[label].get(c.key, {}), incomplete.get((label, c.key), 0))
                            for c in columns}) for label in sorted(values)]
        _add_average(rows, columns)
        where = f"stage {stage}" if stage is not None else "mIoU"
        grid = Grid(
            title=f"Table 2 style: {where} gain of max over mean aggregation (points) · backbone {backbone} · "
                  f"{labeling} labels",
            fields={"metric": "mean-to-max-gain", "backbone": backbone, "labeling": labeling},
            row_header="strategy", columns=columns, rows=rows, digits=2, count_unit="seed pairs",
            notes=[f"per seed, the mean over rounds {first_round}…R−1 of mIoU(max) − mIoU(mean) in points (positive: "
                   "max is better), then mean ± std over the seeds that have both", *notes],
        )
        if compare_paper:
            if labeling == "weak":
                add_reference_rows(grid, published("mean-to-max-gain", labeling="weak", stage=_paper_stage(stage)),
                                   aliases)
            else:
                paper_backbone = backbone if backbone in BACKBONES else "deeplabv3-resnet50"
                add_reference_rows(grid, published("mean-to-max-gain", labeling="dominant", backbone=paper_backbone),
                                   aliases)
        grids.append(grid)
    return grids


def _add_average(rows: Sequence[Row], columns: list[Column]) -> None:
    """An Average column over the dataset columns (rows lacking a column get none), as the leaderboard's."""
    datasets = [c.fields["dataset"] for c in columns]
    if len(columns) < 2 or len(set(datasets)) < len(datasets):
        return
    for row in rows:
        cells = [row.cells[c.key] for c in columns]
        row.cells[AVERAGE] = Cell() if any(c.empty for c in cells) else Cell(float(np.mean([c.mean for c in cells])))
    columns.append(Column(AVERAGE, AVERAGE, {"dataset": None}))


def gini_table(runs: Sequence[Run], foreground: bool = True, round_index: int = -1, compare_paper: bool = False,
               aliases: Mapping[str, str] | None = None) -> list[Grid]:
    """Table 4 style: 1 − Gini of the labeled set after ``round_index`` (default: the last), per strategy ×
    dataset × aggregation; ``foreground``: foreground classes where a background class exists (the paper's)."""
    grids = []
    for (backbone, labeling, _), members in table_groups(runs, by_aggregation=False):
        aggregations: list[str | None] = [None]
        present = {r.aggregation for r in members if r.aggregation is not None}
        if present:
            aggregations = list(sorted(present, key=lambda a: (a != "mean", a != "max", a)))
        columns = [Column(f"{c.key}|{a}", f"{c.header} {a or ''}".strip(), {**c.fields, "aggregation": a})
                   for c in dataset_columns(members) for a in aggregations]
        values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        incomplete: dict[tuple[str, str], int] = defaultdict(int)
        for run in members:
            keys = [f"{column_key(run)}|{a}" for a in aggregations if run.aggregation in (a, None)]
            for key in keys:
                if not run.complete:
                    incomplete[(run.label, key)] += 1
                    continue
                value = run.paper_balance(round_index) if foreground else run.balance(round_index)
                values[run.label][key].setdefault(run.seed, value)
        labels = sorted(set(values) | {label for label, _ in incomplete})
        rows = [Row(label, {c.key: stat_cell(values[label].get(c.key, {}), incomplete.get((label, c.key), 0))
                            for c in columns}) for label in labels]
        free = {r.label for r in members if r.aggregation is None}
        _mark_aggregation_pairs([r for r in rows if r.label not in free], columns, digits=2)
        _underline_best(rows, [c.key for c in columns], digits=2)
        which = "foreground classes where the dataset has a background class (the paper's)" if foreground else "all classes"
        grid = Grid(
            title=f"Table 4 style: 1 − Gini of the {'final ' if round_index == -1 else ''}labeled set · backbone "
                  f"{backbone} · {labeling} labels",
            fields={"metric": "gini" if foreground else "gini-all", "backbone": backbone, "labeling": labeling},
            row_header="strategy", columns=columns, rows=rows, digits=2,
            notes=[f"1 − Gini (Farris) of per-class labeled-region counts, {which}; mean ± std over complete seeds",
                   "bold: the better aggregation of a strategy on a dataset; underlined: best in its column",
                   *(f"{label}: no aggregation parameter, the same runs under every aggregation" for label in sorted(free))],
        )
        if compare_paper:
            # Random has no aggregation in the paper either: its value goes under every aggregation.
            add_reference_rows(grid, published("gini", labeling="dominant"), aliases,
                               aggregations=_paper_aggregations(aggregations))
        grids.append(grid)
    return grids


def _paper_aggregations(columns: Sequence[str | None]) -> Callable[[Published], Sequence[str | None]]:
    """A published value's aggregation, or every column's for one without (Random, in the paper too)."""
    return lambda value: [value.aggregation] if value.aggregation else columns


def _mark_aggregation_pairs(rows: Sequence[Row], columns: Sequence[Column], digits: int) -> None:
    by_dataset: dict[str, list[str]] = defaultdict(list)
    for column in columns:
        by_dataset[f"{column.fields.get('dataset')}@{column.fields.get('protocol_hash')}"].append(column.key)
    for row in rows:
        for keys in by_dataset.values():
            shown = {k: round(row.cells[k].mean, digits) for k in keys if not row.cells[k].empty}
            if len(shown) < 2:
                continue
            best = max(shown.values())
            for key, value in shown.items():
                row.cells[key] = replace(row.cells[key], bold=value == best)


def _underline_best(rows: Sequence[Row], keys: Sequence[str], digits: int) -> None:
    for key in keys:
        shown = [round(r.cells[key].mean, digits) for r in rows if not r.cells[key].empty]
        if not shown:
            continue
        for row in rows:
            cell = row.cells[key]
            if not cell.empty and round(cell.mean, digits) == max(shown):
                row.cells[key] = replace(cell, underline=True)


def per_class_gain(runs: Sequence[Run], target: str, convention: ConventionChoice = "standard") -> list[Grid]:
    """Figs. 9–10 style: per class, AuALC(target) − AuALC(baseline) in points, paired by seed, one table per
    backbone × labeling × aggregation × dataset, one column per baseline of the same table."""
    labels = sorted({r.label for r in runs})
    if target not in labels:
        raise AlbenchError(f"--target {target!r} matches no strategy; the runs have: {', '.join(labels) or '(none)'}")
    per_class: Convention = "paper" if convention == "paper" else "standard"
    grids = []
    for (backbone, labeling, aggregation), members in table_groups(runs):
        for column in dataset_columns(members):
            in_column = [r for r in members if column_key(r) == column.key]
            complete = {(r.label, r.seed): r for r in sorted(in_column, key=lambda r: r.run_id, reverse=True) if r.complete}
            ours = {seed: run for (label, seed), run in complete.items() if label == target}
            baselines = sorted({label for label, _ in complete} - {target})
            if not ours or not baselines:
                continue
            class_names = next(iter(ours.values())).class_names
            gains: dict[str, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
            for baseline in baselines:
                for seed, run in ours.items():
                    other = complete.get((baseline, seed))
                    if other is None:
                        continue
                    gain = 100 * (aualc_per_class(run.iou(per_class)) - aualc_per_class(other.iou(per_class)))
                    for c, value in enumerate(gain):
                        if not math.isnan(value):
                            gains[baseline][c][seed] = float(value)
            columns = [Column(b, b, {"baseline": b}) for b in baselines]
            rows = [Row(name, {b: stat_cell(gains[b][c]) for b in baselines}, {"class_index": c})
                    for c, name in enumerate(class_names)]
            skipped = sorted({r.describe() for r in in_column if not r.complete})
            grids.append(Grid(
                title=f"Per-class AuALC gain of {target} over each baseline (points) · {column.fields['dataset']} · "
                      f"backbone {backbone} · {labeling} labels · aggregation {aggregation or '–'}",
                fields={"metric": "per-class-aualc-gain", "target": target, "backbone": backbone, "labeling": labeling,
                        "aggregation": aggregation, "dataset": column.fields["dataset"],
                        "protocol_hash": column.fields["protocol_hash"]},
                row_header="class", columns=columns, rows=rows, digits=1, count_unit="seed pairs",
                notes=[f"per class c and seed: AuALC_c({target}) − AuALC_c(baseline), with IoU_c recomputed from the "
                       f"confusion matrices ({per_class} convention); positive: {target} is better. Classes absent "
                       "from the evaluation ground truth are left out (–)",
                       *(f"not paired, incomplete: {d}" for d in skipped)],
            ))
    return grids


def run_records(runs: Sequence[Run], convention: ConventionChoice = "recorded") -> list[dict[str, Scalar]]:
    """One record per run: what it compared, whether it is complete, and its headline numbers."""
    records: list[dict[str, Scalar]] = []
    for run in sorted(runs, key=lambda r: (r.dataset, r.backbone, r.labeling, r.strategy_label, r.seed)):
        final = run.miou(convention)
        records.append({
            "run_id": run.run_id, "dataset": run.dataset, "backbone": run.backbone, "labeling": run.labeling,
            "strategy": run.strategy_label, "aggregation": run.aggregation, "seed": run.seed,
            "protocol_hash": run.protocol_hash, "rounds_done": run.rounds_done, "rounds": run.rounds,
            "status": "complete" if run.complete else ("in progress" if run.source == "checkpoint" else "incomplete"),
            "aualc": round(100 * run.aualc(convention), 4), "final_miou": round(100 * float(final[-1]), 4),
            "gini_foreground": _rounded(run.balance(foreground_only=True)) if run.background_class is not None else None,
            "gini_all": _rounded(run.balance()), "clicks_spent": int(run.clicks_spent[-1]),
            "labeled_regions": int(run.labeled_per_class[-1].sum()),
            "label_quality": _rounded(100 * run.label_quality) if run.label_quality is not None else None,
        })
    return records


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
