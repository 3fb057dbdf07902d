"""Runs as the reports see them: each run's rows in round order, from finished results and checkpoints.

A finished run is one Parquet file; a run in progress (or one that crashed) keeps its rows so far in
``<results>/.partial/<run_id>.pt``. Both become a :class:`Run`. A run with fewer rounds than its protocol
is *incomplete*: reports show it, flag it, and never average it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from albench.errors import AlbenchError
from albench.results import files
from albench.results.checkpoints import PARTIAL_DIR, DamagedCheckpoint, read_checkpoint_rows
from albench.results.metrics import Convention, aualc, balance, iou_per_class, mean_iou
from albench.results.store import SCHEMA, SetAside, quarantine, read_results

__all__ = ["ConventionChoice", "LoadedRuns", "Run", "RunFilter", "load_runs", "runs_from_table", "strip_aggregation"]

# "recorded": the run's own ``miou`` column; "standard"/"paper": recomputed from the stored confusion.
ConventionChoice = Literal["recorded", "standard", "paper"]
Source = Literal["results", "checkpoint"]

_AGGREGATION_PARAMETER = re.compile(r"^aggregation=")


def strip_aggregation(label: str) -> str:
    """``oreal(aggregation=mean, tie_order=first-seen)`` → ``oreal(tie_order=first-seen)``: the label of a
    strategy within a table that is already split by aggregation."""
    if not label.endswith(")") or "(" not in label:
        return label
    name, inner = label[:-1].split("(", 1)
    kept = [part for part in inner.split(", ") if not _AGGREGATION_PARAMETER.match(part)]
    return f"{name}({', '.join(kept)})" if kept else name


@dataclass(frozen=True)
class Run:
    """One run: what it compared (components, seed, protocol) and its per-round record.

    Per-round arrays have one entry per round done, in round order.
    """

    run_id: str
    protocol_hash: str
    dataset: str
    backbone: str
    superpixels: str
    labeling: str
    strategy: str
    strategy_label: str
    strategy_params: dict[str, Any]
    strategy_version: str
    aggregation: str | None
    seed: int
    rounds: int
    budget: int
    class_names: tuple[str, ...]
    background_class: int | None
    metric: str
    source: Source
    round_indices: np.ndarray
    recorded_miou: np.ndarray
    confusion: np.ndarray
    clicks_spent: np.ndarray
    labeled_per_class: np.ndarray
    stage_miou: tuple[tuple[float, ...] | None, ...] = field(default=())
    label_quality: float | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    dataset_params: dict[str, Any] = field(default_factory=dict)
    superpixels_params: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    converged: tuple[bool | None, ...] = field(default=())

    @property
    def unconverged_rounds(self) -> int:
        """Rounds whose training a step cap ended while validation was still improving (None: not known)."""
        return sum(1 for verdict in self.converged if verdict is False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def rounds_done(self) -> int:
        return int(self.round_indices.size)

    @property
    def complete(self) -> bool:
        """Every round of the protocol recorded, 0…R−1, none missing."""
        return self.rounds_done == self.rounds and bool(np.array_equal(self.round_indices, np.arange(self.rounds)))

    @property
    def label(self) -> str:
        """The strategy label without its aggregation (tables are split by aggregation)."""
        return strip_aggregation(self.strategy_label)

    def describe(self) -> str:
        """One line for the notes, e.g. ``oreal seed 2 on toy: 2 of 3 rounds (checkpoint: in progress or crashed)``."""
        where = "checkpoint: in progress or crashed" if self.source == "checkpoint" else "results file"
        return (
            f"{self.strategy_label} seed {self.seed} on {self.dataset}: {self.rounds_done} of {self.rounds} "
            f"rounds ({where}, run {self.run_id})"
        )

    def miou(self, convention: ConventionChoice = "recorded") -> np.ndarray:
        """mIoU (fraction) per round: the recorded column, or recomputed from the confusion matrices."""
        if convention == "recorded":
            return self.recorded_miou
        return np.array([mean_iou(c, convention, self.background_class) for c in self.confusion])

    def stage_mious(self, stage: int) -> np.ndarray:
        """mIoU (fraction) per round of training stage ``stage`` (0-based; -1 the last), as recorded."""
        values = []
        for round_index, stages in zip(self.round_indices, self.stage_miou):
            if stages is None or not -len(stages) <= stage < len(stages):
                raise AlbenchError(
                    f"run {self.run_id} has no training stage {stage} recorded in round {round_index}; "
                    "only runs of multi-stage labeling schemes (e.g. weak) record stages"
                )
            values.append(stages[stage])
        return np.asarray(values, dtype=np.float64)

    def iou(self, convention: Convention = "standard") -> np.ndarray:
        """``(rounds done, C)`` per-class IoU recomputed from the confusion matrices.

        Classes absent from the evaluation ground truth in a round are NaN in every convention: there is
        nothing of them to measure.
        """
        rows = []
        for confusion in self.confusion:
            iou = iou_per_class(confusion, convention)
            iou[confusion.sum(axis=1) == 0] = np.nan
            rows.append(iou)
        return np.asarray(rows, dtype=np.float64).reshape(-1, self.num_classes)

    def aualc(self, convention: ConventionChoice = "recorded") -> float:
        """AuALC (fraction): area under this run's mIoU-vs-round curve, over the rounds done."""
        return aualc(self.miou(convention))

    def balance(self, round_index: int = -1, *, foreground_only: bool = False) -> float:
        """1 − Gini of the labeled set's per-class region counts after ``round_index`` (default: the last);
        ``foreground_only`` leaves the background class out (for datasets without one it changes nothing)."""
        return balance(self.labeled_per_class[round_index], self.background_class, foreground_only=foreground_only)

    def paper_balance(self, round_index: int = -1) -> float:
        """1 − Gini as the paper's Table 4 counts it: foreground classes where a background class exists."""
        return self.balance(round_index, foreground_only=self.background_class is not None)


ENVIRONMENT = ("albench_version", "torch_version", "python_version", "device", "git_sha")


def _json(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def _int_list(values: Sequence[int] | None, length: int) -> list[int]:
    return list(values) if values is not None else [0] * length


def _one_run(run_id: str, rows: list[dict[str, Any]], source: Source) -> Run:
    rows = sorted(rows, key=lambda r: int(r["round"]))
    last = rows[-1]
    class_names = tuple(last["class_names"] or ())
    num_classes = len(class_names) or int(last["num_classes"] or 0)
    if not class_names:
        class_names = tuple(f"class {c}" for c in range(num_classes))
    if any(len(r["confusion"] or ()) != num_classes * num_classes for r in rows):
        raise AlbenchError(
            f"run {run_id}: confusion matrices do not have {num_classes}×{num_classes} entries; "
            "the results file is damaged, rerun that run with --force"
        )
    confusion = np.array([r["confusion"] for r in rows], dtype=np.int64)
    return Run(
        run_id=run_id,
        protocol_hash=str(last["protocol_hash"]),
        dataset=str(last["dataset"]),
        backbone=str(last["backbone"]),
        superpixels=str(last["superpixels"]),
        labeling=str(last["labeling"]),
        strategy=str(last["strategy"]),
        strategy_label=str(last["strategy_label"] or last["strategy"]),
        strategy_params=_json(last["strategy_params"]),
        strategy_version=str(last["strategy_version"] or ""),
        aggregation=last["aggregation"],
        seed=int(last["seed"]),
        rounds=int(last["rounds"]),
        budget=int(last["budget"] or 0),
        class_names=class_names,
        background_class=last["background_class"],
        metric=str(last["metric"] or "standard"),
        source=source,
        round_indices=np.array([int(r["round"]) for r in rows], dtype=np.int64),
        recorded_miou=np.array([r["miou"] for r in rows], dtype=np.float64),
        confusion=confusion.reshape(len(rows), num_classes, num_classes),
        clicks_spent=np.array([r["clicks_spent"] or 0 for r in rows], dtype=np.int64),
        labeled_per_class=np.array([_int_list(r["labeled_per_class"], num_classes) for r in rows], dtype=np.int64),
        stage_miou=tuple(tuple(r["stage_miou"]) if r["stage_miou"] is not None else None for r in rows),
        label_quality=last.get("label_quality"),
        protocol=_json(last["protocol"]),
        dataset_params=_json(last["dataset_params"]),
        superpixels_params=_json(last["superpixels_params"]),
        environment={key: str(last[key]) for key in ENVIRONMENT if last.get(key)},
        converged=tuple(r.get("converged") for r in rows),
    )


def runs_from_table(table: pa.Table, source: Source = "results") -> list[Run]:
    """One :class:`Run` per run id of a results table (columns of :data:`albench.results.store.SCHEMA`)."""
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        by_run[row["run_id"]].append(row)
    return [_one_run(run_id, rows, source) for run_id, rows in sorted(by_run.items())]


@dataclass
class LoadedRuns:
    """The runs of a results directory, and notes on what could not be read."""

    runs: list[Run]
    notes: list[str] = field(default_factory=list)


def load_runs(results_dir: Path, *, checkpoints: bool = True) -> LoadedRuns:
    """Every finished run under ``results_dir`` and, with ``checkpoints``, every run in progress.

    A checkpoint whose run also has a results file is ignored (the file is the finished run). Damaged files
    are moved to the quarantine and foreign ones skipped (:func:`albench.results.store.read_results`); the
    notes name them.
    """
    contents = read_results(results_dir)
    runs = runs_from_table(contents.table)
    notes = contents.notes()
    if checkpoints:
        finished = {run.run_id for run in runs}
        for path in files.list_files(results_dir / PARTIAL_DIR, ".pt"):
            if path.stem in finished:
                continue
            try:
                rows = read_checkpoint_rows(path)
            except DamagedCheckpoint as damaged:
                aside = SetAside(
                    path, f"checkpoint {damaged.reason}", quarantined=quarantine(path, results_dir, damaged.reason)
                )
                notes.append(f"{aside.note()}; its run is left out")
                continue
            if rows:
                runs.extend(runs_from_table(pa.Table.from_pylist(rows, schema=SCHEMA), source="checkpoint"))
    return LoadedRuns(runs, notes)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True)
class RunFilter:
    """Glob filters (any pattern of a list may match; an empty list matches everything).

    ``strategy`` patterns match the strategy name or its full label, e.g. ``oreal*`` or
    ``'oreal(aggregation=mean)'``; ``protocol`` patterns match the protocol hash (``3fa2*``).
    """

    dataset: Sequence[str] = ()
    backbone: Sequence[str] = ()
    strategy: Sequence[str] = ()
    labeling: Sequence[str] = ()
    protocol: Sequence[str] = ()

    def __call__(self, runs: Iterable[Run]) -> list[Run]:
        return [
            run
            for run in runs
            if _matches(run.dataset, self.dataset)
            and _matches(run.backbone, self.backbone)
            and (_matches(run.strategy, self.strategy) or _matches(run.strategy_label, self.strategy))
            and _matches(run.labeling, self.labeling)
            and _matches(run.protocol_hash, self.protocol)
        ]
