"""The leaderboard: a pure function from result rows to ranked tables. Rendering is the CLI's job.

Runs are grouped by dataset × backbone × superpixels × labeling × protocol hash, so runs of different
protocols are never averaged together. Within a group, each strategy (label: name plus non-default
parameters) gets the mean and sample standard deviation over its seeds of AuALC, final mIoU and final
1 − Gini, and strategies are ranked by mean AuALC. A run with fewer rounds than its protocol is counted
apart as incomplete, never averaged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from albench.metrics import aualc, balance

__all__ = ["Group", "RunSummary", "Standing", "Stat", "leaderboard", "records", "summarise_runs"]

GROUP_KEYS = ("dataset", "backbone", "superpixels", "labeling", "protocol_hash")


@dataclass(frozen=True)
class RunSummary:
    """One run reduced to its headline numbers (mIoU and AuALC in percent)."""

    run_id: str
    group: tuple[str, ...]
    strategy: str
    seed: int
    rounds_done: int
    rounds: int
    aualc: float
    final_miou: float
    balance_all: float
    balance_foreground: float

    @property
    def complete(self) -> bool:
        return self.rounds_done >= self.rounds


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (NaN for one value) over seeds."""

    mean: float
    std: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        array = np.asarray(list(values), dtype=np.float64)
        if array.size == 0:
            return cls(math.nan, math.nan)
        return cls(float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else math.nan)


@dataclass(frozen=True)
class Standing:
    """A strategy's place in its group."""

    rank: int
    strategy: str
    seeds: tuple[int, ...]
    aualc: Stat
    final_miou: Stat
    balance_all: Stat
    balance_foreground: Stat
    incomplete_runs: int


@dataclass(frozen=True)
class Group:
    """Runs that can be compared: same dataset, backbone, superpixels, labeling and protocol."""

    key: Mapping[str, str]
    has_background: bool
    standings: list[Standing] = field(default_factory=list)


def summarise_runs(table: pa.Table) -> list[RunSummary]:
    """One :class:`RunSummary` per run id in ``table``."""
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        by_run[row["run_id"]].append(row)
    summaries = []
    for run_id, rows in sorted(by_run.items()):
        rows.sort(key=lambda r: r["round"])
        last = rows[-1]
        counts, background = last["labeled_per_class"], last["background_class"]
        summaries.append(
            RunSummary(
                run_id=run_id,
                group=tuple(str(last[k]) for k in GROUP_KEYS),
                strategy=last["strategy_label"],
                seed=int(last["seed"]),
                rounds_done=len(rows),
                rounds=int(last["rounds"]),
                aualc=100 * aualc([r["miou"] for r in rows]),
                final_miou=100 * last["miou"],
                balance_all=balance(counts),
                balance_foreground=balance(counts, background, foreground_only=True),
            )
        )
    return summaries


def leaderboard(table: pa.Table) -> list[Group]:
    """Groups of comparable runs, each with its strategies ranked by mean AuALC (best first)."""
    backgrounds = {}
    for row in table.select(["run_id", "background_class"]).to_pylist():
        backgrounds[row["run_id"]] = row["background_class"] is not None
    grouped: dict[tuple[str, ...], dict[str, list[RunSummary]]] = defaultdict(lambda: defaultdict(list))
    for summary in summarise_runs(table):
        grouped[summary.group][summary.strategy].append(summary)
    groups = []
    for key, strategies in sorted(grouped.items()):
        standings = []
        for strategy, runs in strategies.items():
            done = sorted((r for r in runs if r.complete), key=lambda r: r.seed)
            standings.append(
                Standing(
                    rank=0,
                    strategy=strategy,
                    seeds=tuple(r.seed for r in done),
                    aualc=Stat.of(r.aualc for r in done),
                    final_miou=Stat.of(r.final_miou for r in done),
                    balance_all=Stat.of(r.balance_all for r in done),
                    balance_foreground=Stat.of(r.balance_foreground for r in done),
                    incomplete_runs=len(runs) - len(done),
                )
            )
        standings.sort(key=lambda s: (math.isnan(s.aualc.mean), -np.nan_to_num(s.aualc.mean), s.strategy))
        ranked = [Standing(**{**s.__dict__, "rank": i + 1}) for i, s in enumerate(standings)]
        any_run = next(iter(strategies.values()))[0]
        groups.append(Group(dict(zip(GROUP_KEYS, key)), backgrounds[any_run.run_id], ranked))
    return groups


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def records(groups: list[Group]) -> list[dict[str, Any]]:
    """The leaderboard as flat records (one per group × strategy), NaN as None: for CSV and JSON."""
    flat = []
    for group in groups:
        for s in group.standings:
            flat.append(
                {
                    **group.key,
                    "rank": s.rank,
                    "strategy": s.strategy,
                    "n_seeds": len(s.seeds),
                    "seeds": " ".join(str(seed) for seed in s.seeds),
                    "aualc_mean": _number(s.aualc.mean),
                    "aualc_std": _number(s.aualc.std),
                    "final_miou_mean": _number(s.final_miou.mean),
                    "final_miou_std": _number(s.final_miou.std),
                    "balance_foreground_mean": _number(s.balance_foreground.mean) if group.has_background else None,
                    "balance_foreground_std": _number(s.balance_foreground.std) if group.has_background else None,
                    "balance_all_mean": _number(s.balance_all.mean),
                    "balance_all_std": _number(s.balance_all.std),
                    "incomplete_runs": s.incomplete_runs,
                }
            )
    return flat
