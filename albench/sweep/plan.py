"""The plan of a sweep (``--dry-run``): what is finished, running, partial, failed or to do, and the compute
left, estimated from the ``time_*`` columns of finished runs on the same dataset and backbone.

Everything is read from one listing of each bookkeeping folder, never one file check per run, so that a
10,000-run grid is planned in well under a second (benchmarks/bench_sweep.py).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from albench.results.locks import RunLock, S3RunLock
from albench.results.remote import RemoteResults
from albench.run.spec import RunSpec

__all__ = ["GroupPlan", "Plan", "STATES", "clear_stale_locks", "make_plan", "run_states", "unfinished"]

STATES = ("finished", "running", "partial", "failed", "to do")
_TIME_COLUMNS = ("time_query_s", "time_train_s", "time_eval_s")
_SAMPLES_PER_GROUP = 20


Store = Path | RemoteResults


def _names(folder: Path, suffix: str) -> set[str]:
    """Stems of the files in ``folder`` ending in ``suffix`` (empty when the folder does not exist)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name[: -len(suffix)] for e in entries if e.name.endswith(suffix)}
    except FileNotFoundError:
        return set()


def _listing(store: Store, folder: str, suffix: str) -> set[str]:
    if isinstance(store, RemoteResults):
        return set(store.names(folder, suffix))
    return _names(store / folder if folder else store, suffix)


def run_states(specs: list[RunSpec], store: Store) -> dict[str, str]:
    """Each run id's state, one of :data:`STATES`. A lock whose holder is gone counts as partial or to do."""
    finished = _listing(store, "", ".parquet")
    partial = _listing(store, ".partial", ".pt")
    locked = _listing(store, ".locks", ".lock")
    failed = _listing(store, ".failed", ".txt")
    states: dict[str, str] = {}
    for spec in specs:
        run_id = spec.run_id
        if run_id in states:
            continue
        if run_id in finished:
            states[run_id] = "finished"
        elif run_id in locked and _held(store, run_id):
            states[run_id] = "running"
        elif run_id in failed:
            states[run_id] = "failed"
        elif run_id in partial:
            states[run_id] = "partial"
        else:
            states[run_id] = "to do"
    return states


def unfinished(specs: list[RunSpec], store: Store) -> tuple[list[RunSpec], list[RunSpec]]:
    """``specs`` split into (to run, finished), from one listing of the results: a sweep hands only the first
    to its executor (a cluster never gets a job for a finished run)."""
    finished = _listing(store, "", ".parquet")
    todo = [spec for spec in specs if spec.run_id not in finished]
    done = [spec for spec in specs if spec.run_id in finished]
    return todo, done


def clear_stale_locks(store: Store, run_ids: list[str]) -> int:
    """Remove the stale locks of finished runs (a worker killed between writing its result and releasing its
    lock leaves one); return how many. Live locks are left alone."""
    cleared = 0
    for run_id in _listing(store, ".locks", ".lock") & set(run_ids):
        lock = S3RunLock(store, run_id) if isinstance(store, RemoteResults) else RunLock(store, run_id)
        holder = lock.read()
        if holder is not None and holder.stale_reason(lock.stale_after_s) is not None and lock.take_over(holder):
            lock.release()
            cleared += 1
    return cleared


def _held(store: Store, run_id: str) -> bool:
    lock = S3RunLock(store, run_id) if isinstance(store, RemoteResults) else RunLock(store, run_id)
    holder = lock.read()
    return holder is not None and holder.stale_reason(lock.stale_after_s) is None


@dataclass
class GroupPlan:
    """The runs of one dataset and backbone."""

    dataset: str
    backbone: str
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    seconds_per_run: float | None = None
    measured_runs: int = 0

    @property
    def left(self) -> int:
        return self.states["partial"] + self.states["failed"] + self.states["to do"]

    @property
    def seconds_left(self) -> float | None:
        return None if self.seconds_per_run is None else self.seconds_per_run * self.left


@dataclass
class Plan:
    groups: list[GroupPlan]
    slots: int

    @property
    def total(self) -> dict[str, int]:
        return {state: sum(g.states[state] for g in self.groups) for state in STATES}

    @property
    def seconds_left(self) -> float | None:
        """Compute left where every group with work left has an estimate; None otherwise."""
        parts = [g.seconds_left for g in self.groups if g.left]
        return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def _run_seconds(store: Store, run_id: str) -> float | None:
    try:
        if isinstance(store, RemoteResults):
            table = pq.read_table(store.key(f"{run_id}.parquet"), columns=list(_TIME_COLUMNS), filesystem=store.fs)
        else:
            table = pq.read_table(store / f"{run_id}.parquet", columns=list(_TIME_COLUMNS))
    except (OSError, pa.ArrowInvalid, KeyError):
        return None
    return float(sum(pa.compute.sum(table[c]).as_py() or 0.0 for c in _TIME_COLUMNS))


def make_plan(specs: list[RunSpec], store: Store, slots: int) -> Plan:
    """Count the states per (dataset, backbone) and estimate each group's time per run from up to
    20 of its finished runs."""
    states = run_states(specs, store)
    groups: dict[tuple[str, str], GroupPlan] = {}
    finished: dict[tuple[str, str], list[str]] = defaultdict(list)
    seen: set[str] = set()
    for spec in specs:
        if spec.run_id in seen:
            continue
        seen.add(spec.run_id)
        key = (spec.dataset.label, spec.backbone.label)
        group = groups.setdefault(key, GroupPlan(*key))
        state = states[spec.run_id]
        group.states[state] += 1
        if state == "finished":
            finished[key].append(spec.run_id)
    for key, group in groups.items():
        times = [t for run_id in finished[key][:_SAMPLES_PER_GROUP] if (t := _run_seconds(store, run_id)) is not None]
        if times:
            group.seconds_per_run = sum(times) / len(times)
            group.measured_runs = len(times)
    return Plan(list(groups.values()), slots)
