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

import numpy as np

from albench.errors import AlbenchError
from albench.results.grouping import Collected, collect, column_key, dataset_columns, table_groups
from albench.results.leaderboard import leaderboard, parse_metric
from albench.results.metrics import Convention, aualc_per_class
from albench.results.paper import BACKBONES, DATASETS, Published, paper_dataset, published
from albench.results.runs import ConventionChoice, Run
from albench.results.tables import (
    AVERAGE,
    Cell,
    Column,
    Grid,
    Row,
    Scalar,
    add_average,
    mark_best,
    mark_best_in_rows,
    stat_cell,
)

__all__ = ["ablation_table", "add_reference_rows", "gini_table", "mean_vs_max_table", "per_class_gain", "run_records"]


def add_reference_rows(
    grid: Grid,
    values: Sequence[Published],
    aliases: Mapping[str, str] | None = None,
    aggregations: Callable[[Published], Sequence[str | None]] = lambda p: [None],
) -> None:
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
        grid.rows.append(
            Row(
                f"{row_name} (paper)", cells, {"strategy_label": row_values[0].strategy}, reference=row_values[0].source
            )
        )
    sources = sorted({v.source for v in values})
    setting = {(BACKBONES.get(v.backbone, v.backbone), v.labeling) for v in values}
    average = "; their Average is the paper's, over its datasets" if any(v.dataset == "average" for v in values) else ""
    grid.notes.append(
        f"(paper) rows: published values ({'; '.join(sources)}; "
        f"{', '.join(f'{b}, {lab} labels' for b, lab in sorted(setting))}); not ranked{average}"
    )


def _columns_for(grid: Grid, value: Published, aggregation: str | None, aliases: Mapping[str, str] | None) -> list[str]:
    if value.dataset == "average":
        return [AVERAGE]
    if value.dataset not in DATASETS:
        return []
    keys = [
        c.key
        for c in grid.columns
        if not c.reference_only
        and c.fields.get("dataset") is not None
        and paper_dataset(str(c.fields["dataset"]), aliases) == value.dataset
        and (aggregation is None or c.fields.get("aggregation") == aggregation)
    ]
    if keys:
        return keys
    key = f"paper:{value.dataset}" + (f"|{aggregation}" if aggregation else "")
    if not any(c.key == key for c in grid.columns):
        header = DATASETS[value.dataset] + (f" {aggregation}" if aggregation else "")
        column = Column(key, header, {"dataset": value.dataset, "aggregation": aggregation}, reference_only=True)
        position = next((i for i, c in enumerate(grid.columns) if c.key == AVERAGE), len(grid.columns))
        grid.columns.insert(position, column)
    return [key]


def ablation_table(
    runs: Sequence[Run],
    convention: ConventionChoice = "recorded",
    compare_paper: bool = False,
    aliases: Mapping[str, str] | None = None,
    by_aggregation: bool = False,
) -> list[Grid]:
    """Table 1 style: AuALC of every strategy label × datasets, per backbone × labeling (the leaderboard's
    tables); ``compare_paper`` adds Table 1's published rows under the tables of its labeling scheme."""
    grids = leaderboard(runs, parse_metric("aualc"), convention, by_aggregation)
    for grid in grids:
        grid.title = f"Table 1 style: {grid.title}"
        if compare_paper:
            aggregation = grid.fields["aggregation"]
            values = [
                v
                for v in published("aualc", labeling=grid.fields["labeling"])
                if aggregation is None or v.aggregation == aggregation
            ]
            add_reference_rows(grid, values, aliases)
    return grids


def _paper_stage(stage: int | None) -> int:
    """The paper's stage number (1, 2) of albench's 0-based stage index (None or −1: the last, 2)."""
    return 1 if stage == 0 else 2


def _published_gains(backbone: str, labeling: str, stage: int | None) -> list[Published]:
    """Table 2's rows (dominant labels, by backbone; ResNet50 for others) or Table 3's (weak labels, by
    stage); no other labeling scheme has published gains."""
    if labeling == "weak":
        return published("mean-to-max-gain", labeling="weak", stage=_paper_stage(stage))
    if labeling == "dominant":
        paper_backbone = backbone if backbone in BACKBONES else "deeplabv3-resnet50"
        return published("mean-to-max-gain", labeling="dominant", backbone=paper_backbone)
    return []


def mean_vs_max_table(
    runs: Sequence[Run],
    convention: ConventionChoice = "recorded",
    first_round: int = 1,
    stage: int | None = None,
    compare_paper: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> list[Grid]:
    """Tables 2/3 style: mean over rounds ≥ ``first_round`` of mIoU(max) − mIoU(mean), in points, paired by
    seed, per strategy × dataset; ``stage`` picks a training stage of multi-stage labeling (weak)."""

    def curve(run: Run) -> np.ndarray:
        return run.stage_mious(stage) if stage is not None else run.miou(convention)

    grids = []
    for key, members in table_groups(runs):
        paired = [r for r in members if r.aggregation in ("mean", "max")]
        columns = dataset_columns(paired or members)
        datasets = {c.key: c.fields["dataset"] for c in columns}
        best, mean = (
            collect([r for r in paired if r.aggregation == a], curve, lambda r: r.label) for a in ("max", "mean")
        )
        gains: Collected[float] = Collected()
        notes: list[str] = []
        for label in sorted(set(best.values) | set(mean.values)):
            for column in sorted(set(best.values.get(label, {})) | set(mean.values.get(label, {}))):
                with_max, with_mean = best.values[label][column], mean.values[label][column]
                for seed in sorted(set(with_max) | set(with_mean)):
                    if seed not in with_max or seed not in with_mean:
                        only = "max" if seed in with_max else "mean"
                        notes.append(f"{label} seed {seed} on {datasets[column]}: only {only} aggregation, not paired")
                        continue
                    gain = with_max[seed][first_round:] - with_mean[seed][first_round:]
                    if gain.size:
                        gains.values[label][column][seed] = 100 * float(gain.mean())
        for label in gains.values:
            for collected in (best, mean):
                for column, left_out in collected.incomplete.get(label, {}).items():
                    gains.incomplete[label][column].extend(left_out)
        references = _published_gains(key.backbone, key.labeling, stage) if compare_paper else []
        if not gains.values and not references:
            continue
        if not gains.values:
            notes.append(
                "no strategy here has complete runs with both mean and max aggregation (e.g. "
                "`albench run -s oreal --set strategy.aggregation=mean`): only the published rows"
            )
        rows = gains.rows(columns)
        add_average(rows, columns)
        where = f"stage {stage}" if stage is not None else "mIoU"
        grid = Grid(
            title=f"Table 2 style: {where} gain of max over mean aggregation (points) · backbone {key.backbone} · "
            f"{key.labeling} labels",
            fields={"metric": "mean-to-max-gain", "backbone": key.backbone, "labeling": key.labeling},
            row_header="strategy",
            columns=columns,
            rows=rows,
            digits=2,
            count_unit="seed pairs",
            notes=[
                f"per seed, the mean over rounds {first_round}…R−1 of mIoU(max) − mIoU(mean) in points (positive: "
                "max is better), then mean ± std over the seeds that have both (docs/reports.md)",
                *notes,
            ],
        )
        add_reference_rows(grid, references, aliases)
        grids.append(grid)
    return grids


def gini_table(
    runs: Sequence[Run],
    foreground: bool = True,
    round_index: int = -1,
    compare_paper: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> list[Grid]:
    """Table 4 style: 1 − Gini of the labeled set after ``round_index`` (default: the last), per strategy ×
    dataset × aggregation; ``foreground``: foreground classes where a background class exists (the paper's)."""
    grids = []
    for key, members in table_groups(runs):
        aggregations: list[str | None] = [None]
        present = {r.aggregation for r in members if r.aggregation is not None}
        if present:
            aggregations = list(sorted(present, key=lambda a: (a != "mean", a != "max", a)))
        datasets = dataset_columns(members)
        columns = [
            Column(f"{c.key}|{a}", f"{c.header} {a or ''}".strip(), {**c.fields, "aggregation": a})
            for c in datasets
            for a in aggregations
        ]

        def value(run: Run) -> float:
            return run.paper_balance(round_index) if foreground else run.balance(round_index)

        collected = collect(members, value, lambda run: run.label, _gini_columns(aggregations))
        rows = collected.rows(columns)
        free = {r.label for r in members if r.aggregation is None}
        mark_best_in_rows(
            [r for r in rows if r.label not in free],
            [[f"{c.key}|{a}" for a in aggregations] for c in datasets],
            digits=2,
        )
        mark_best(rows, [c.key for c in columns], digits=2, best="underline", second=None)
        which = (
            "foreground classes where the dataset has a background class (the paper's)" if foreground else "all classes"
        )
        grid = Grid(
            title=f"Table 4 style: 1 − Gini of the {'final ' if round_index == -1 else ''}labeled set · backbone "
            f"{key.backbone} · {key.labeling} labels",
            fields={"metric": "gini" if foreground else "gini-all", "backbone": key.backbone, "labeling": key.labeling},
            row_header="strategy",
            columns=columns,
            rows=rows,
            digits=2,
            notes=[
                f"1 − Gini (Farris) of per-class labeled-region counts, {which}; mean ± std over complete seeds "
                "(docs/metrics.md)",
                "bold: the better aggregation of a strategy on a dataset; underlined: best in its column",
                *(
                    f"{label}: no aggregation parameter, the same runs under every aggregation"
                    for label in sorted(free)
                ),
                *collected.notes,
            ],
        )
        if compare_paper:
            # Random has no aggregation in the paper either: its value goes under every aggregation.
            add_reference_rows(
                grid, published("gini", labeling=key.labeling), aliases, aggregations=_paper_aggregations(aggregations)
            )
        grids.append(grid)
    return grids


def _gini_columns(aggregations: Sequence[str | None]) -> Callable[[Run], list[str]]:
    """A run's Table 4 columns: its dataset under its aggregation, or under each for a run without one."""
    return lambda run: [f"{column_key(run)}|{a}" for a in aggregations if run.aggregation in (a, None)]


def _paper_aggregations(columns: Sequence[str | None]) -> Callable[[Published], Sequence[str | None]]:
    """A published value's aggregation, or every column's for one without (Random, in the paper too)."""
    return lambda value: [value.aggregation] if value.aggregation else columns


def per_class_gain(runs: Sequence[Run], target: str, convention: ConventionChoice = "standard") -> list[Grid]:
    """Figs. 9–10 style: per class, AuALC(target) − AuALC(baseline) in points, paired by seed, one table per
    backbone × labeling × aggregation × dataset, one column per baseline of the same table."""
    labels = sorted({r.label for r in runs})
    if target not in labels:
        raise AlbenchError(f"--target {target!r} matches no strategy; the runs have: {', '.join(labels) or '(none)'}")
    per_class: Convention = "paper" if convention == "paper" else "standard"
    grids = []
    for key, members in table_groups(runs, by_aggregation=True):
        for column in dataset_columns(members):
            in_column = [r for r in members if column_key(r) == column.key]
            collected = collect(in_column, lambda run: aualc_per_class(run.iou(per_class)), lambda run: run.label)
            ours = collected.values.get(target, {}).get(column.key, {})
            baselines = [label for label in sorted(collected.values) if label != target]
            if not ours or not baselines:
                continue
            class_names = next(r.class_names for r in in_column if r.label == target)
            gains: dict[str, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
            for baseline in baselines:
                theirs = collected.values[baseline][column.key]
                for seed in sorted(set(ours) & set(theirs)):
                    for c, value in enumerate(100 * (ours[seed] - theirs[seed])):
                        if not math.isnan(value):
                            gains[baseline][c][seed] = float(value)
            columns = [Column(b, b, {"baseline": b}) for b in baselines]
            rows = [
                Row(name, {b: stat_cell(gains[b][c]) for b in baselines}, {"class_index": c})
                for c, name in enumerate(class_names)
            ]
            skipped = sorted({r.describe() for r in in_column if not r.complete})
            grids.append(
                Grid(
                    title=f"Per-class AuALC gain of {target} over each baseline (points) · {column.fields['dataset']} · "
                    f"backbone {key.backbone} · {key.labeling} labels · aggregation {key.aggregation or '–'}",
                    fields={
                        "metric": "per-class-aualc-gain",
                        "target": target,
                        "backbone": key.backbone,
                        "labeling": key.labeling,
                        "aggregation": key.aggregation,
                        "dataset": column.fields["dataset"],
                        "protocol_hash": column.fields["protocol_hash"],
                    },
                    row_header="class",
                    columns=columns,
                    rows=rows,
                    digits=1,
                    count_unit="seed pairs",
                    notes=[
                        f"per class c and seed: AuALC_c({target}) − AuALC_c(baseline), with IoU_c recomputed from the "
                        f"confusion matrices ({per_class} convention); positive: {target} is better. Classes absent "
                        "from the evaluation ground truth are left out (–) (docs/metrics.md)",
                        *(f"not paired, incomplete: {d}" for d in skipped),
                        *collected.notes,
                    ],
                )
            )
    return grids


def run_records(runs: Sequence[Run], convention: ConventionChoice = "recorded") -> list[dict[str, Scalar]]:
    """One record per run: what it compared, whether it is complete, and its headline numbers."""
    records: list[dict[str, Scalar]] = []
    for run in sorted(runs, key=lambda r: (r.dataset, r.backbone, r.labeling, r.strategy_label, r.seed)):
        final = run.miou(convention)
        records.append(
            {
                "run_id": run.run_id,
                "dataset": run.dataset,
                "backbone": run.backbone,
                "labeling": run.labeling,
                "strategy": run.strategy_label,
                "aggregation": run.aggregation,
                "seed": run.seed,
                "protocol_hash": run.protocol_hash,
                "rounds_done": run.rounds_done,
                "rounds": run.rounds,
                "status": "complete"
                if run.complete
                else ("in progress" if run.source == "checkpoint" else "incomplete"),
                "aualc": round(100 * run.aualc(convention), 4),
                "final_miou": round(100 * float(final[-1]), 4),
                "gini_foreground": _rounded(run.balance(foreground_only=True))
                if run.background_class is not None
                else None,
                "gini_all": _rounded(run.balance()),
                "clicks_spent": int(run.clicks_spent[-1]),
                "labeled_regions": int(run.labeled_per_class[-1].sum()),
                "label_quality": _rounded(100 * run.label_quality) if run.label_quality is not None else None,
            }
        )
    return records


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
