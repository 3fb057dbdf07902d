"""One run as an executor sees it: a picklable callable that locks, runs or skips, and never raises.

The same :class:`RunTask` runs in this process (``inline``), in a worker process (``local``), in a Slurm job
or in a Ray task. Whatever goes wrong inside a run (a plugin raising, bad input, a corrupt file) is caught
here: the traceback goes to ``<results>/.failed/<run_id>.txt`` and the run is reported as failed, so one
run never stops the others.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from albench.errors import AlbenchError, StorageError
from albench.host.registry import Registry, load_registry
from albench.results.failures import clear_failure, failure_path, record_failure
from albench.results.locks import RunLock, S3RunLock
from albench.results.remote import RemoteResults
from albench.results.store import result_path
from albench.run.checkpoint import checkpoint_path
from albench.run.progress import Advance, Progress
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import RunSpec

__all__ = ["LineProgress", "RunResult", "RunTask", "Status", "describe", "registry", "share_registry", "use_progress"]

Status = Literal["completed", "resumed", "skipped", "locked", "failed"]

_progress: ContextVar[Progress | None] = ContextVar("albench_sweep_progress", default=None)


def use_progress(progress: Progress) -> AbstractContextManager[None]:
    """Runs executed in this process report to ``progress`` (the CLI's bars) instead of plain lines."""

    @contextmanager
    def scope() -> Iterator[None]:
        token = _progress.set(progress)
        try:
            yield
        finally:
            _progress.reset(token)

    return scope()


class LineProgress:
    """Progress for a worker process or a cluster job: log lines only, prefixed with the run id."""

    def __init__(self, run_id: str) -> None:
        self.prefix = f"[{run_id}] "

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        def advance(n: int = 1) -> None:
            pass

        yield advance

    def log(self, message: str) -> None:
        print(self.prefix + message, file=sys.stderr, flush=True)


def describe(spec: RunSpec) -> str:
    """``oreal(aggregation=mean) on toy, seed 1`` plus the backbone and labeling when not the toy default."""
    return (
        f"{spec.strategy.label} on {spec.dataset.label}, {spec.backbone.label}, {spec.labeling.label}, seed {spec.seed}"
    )


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as reported back to the sweep (small and picklable)."""

    run_id: str
    status: Status
    what: str
    path: str = ""
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class RunTask:
    """Run ``spec`` with ``options``: skip it if finished, else lock it, run or resume it, release the lock.

    With ``remote`` (a URI such as ``s3://bucket/results``), the results live there: ``options.results_dir`` is
    the local mirror the run works in, and the task syncs the checkpoint (after every round), the result
    file and the failure record (:mod:`albench.results.remote`).
    """

    spec: RunSpec
    options: RunOptions
    remote: str | None = None

    @property
    def key(self) -> str:
        return self.spec.run_id

    @property
    def gpus(self) -> int:
        return 1 if self.options.device.startswith("cuda") else 0

    def __call__(self) -> RunResult:
        if self.remote is not None:
            return _remote_call(self, RemoteResults(self.remote))
        started = time.perf_counter()
        spec, options = self.spec, self.options
        run_id, what = spec.run_id, describe(spec)
        path = result_path(options.results_dir, run_id)
        if path.exists() and not options.force:
            return RunResult(run_id, "skipped", what, str(path), "results exist")
        lock = RunLock(options.results_dir, run_id)
        if not lock.acquire():
            return _locked(run_id, what, lock)
        try:
            # Another worker may have finished it between our check and our lock.
            if path.exists() and not options.force:
                return RunResult(run_id, "skipped", what, str(path), "results exist")
            return _execute(self, lock, started)
        finally:
            lock.release()


def _locked(run_id: str, what: str, lock: RunLock) -> RunResult:
    holder = lock.holder.describe() if lock.holder else "another process"
    return RunResult(run_id, "locked", what, message=f"running elsewhere ({holder})")


def _execute(task: RunTask, lock: RunLock, started: float) -> RunResult:
    """Run under the lock; any failure becomes a record and a ``failed`` result."""
    spec, options = task.spec, task.options
    run_id, what = spec.run_id, describe(spec)
    progress = _progress.get() or LineProgress(run_id)
    if lock.broke:
        progress.log(lock.broke)
    try:
        outcome = execute_run(spec, registry(), options, progress)
    except StorageError as error:
        # The results directory cannot be written (full, read-only): no record can be written either, and the
        # one line already names the path and the fix.
        return RunResult(run_id, "failed", what, "", str(error), time.perf_counter() - started)
    except Exception as error:
        record = record_failure(options.results_dir, run_id, what, traceback.format_exc())
        # Bad input is one plain line; anything else names its exception type.
        summary = str(error) if isinstance(error, AlbenchError) else f"{type(error).__name__}: {error}"
        summary = " ".join(summary.split()) or type(error).__name__
        return RunResult(run_id, "failed", what, str(record), summary, time.perf_counter() - started)
    clear_failure(options.results_dir, run_id)
    return RunResult(run_id, outcome.status, what, str(outcome.path), lock.broke or "", time.perf_counter() - started)


class _CheckpointSync:
    """Uploads the run's checkpoint whenever it changes (each round), so a run resumes on any node."""

    def __init__(self, remote: RemoteResults, local: Path, relative: str, every_s: float = 1.0) -> None:
        self.remote, self.local, self.relative, self.every_s = remote, local, relative, every_s
        self._seen: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="albench-checkpoint-sync", daemon=True)

    def __enter__(self) -> _CheckpointSync:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sync()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sync()

    def sync(self) -> None:
        try:
            stamp = self.local.stat().st_mtime
        except FileNotFoundError:
            return
        if stamp != self._seen:
            self._seen = stamp
            self.remote.upload(self.local, self.relative)


def _remote_call(task: RunTask, remote: RemoteResults) -> RunResult:
    started = time.perf_counter()
    spec, options = task.spec, task.options
    run_id, what = spec.run_id, describe(spec)
    result_key = f"{run_id}.parquet"
    if remote.exists(result_key) and not options.force:
        return RunResult(run_id, "skipped", what, remote.key(result_key), "results exist")
    lock = S3RunLock(remote, run_id)
    if not lock.acquire():
        return _locked(run_id, what, lock)
    try:
        if remote.exists(result_key) and not options.force:
            return RunResult(run_id, "skipped", what, remote.key(result_key), "results exist")
        partial = checkpoint_path(options.results_dir, run_id)
        partial_key = f".partial/{run_id}.pt"
        if not options.force:
            remote.download(partial_key, partial)
        with _CheckpointSync(remote, partial, partial_key):
            result = _execute(task, lock, started)
        failure_key = f".failed/{run_id}.txt"
        if result.status == "failed":
            remote.upload(failure_path(options.results_dir, run_id), failure_key)
            return dataclasses.replace(result, path=f"{remote.uri.rstrip('/')}/{failure_key}")
        remote.upload(result_path(options.results_dir, run_id), result_key)
        remote.delete(partial_key)
        remote.delete(failure_key)
        return dataclasses.replace(result, path=f"{remote.uri.rstrip('/')}/{result_key}")
    finally:
        lock.release()


_REGISTRY: list[Registry] = []


def registry() -> Registry:
    """The plugin registry, loaded once per process (a worker runs many tasks; the CLI has one already)."""
    if not _REGISTRY:
        _REGISTRY.append(load_registry())
    return _REGISTRY[0]


def share_registry(loaded: Registry) -> None:
    """Let runs in this process use the registry the CLI loaded."""
    _REGISTRY[:] = [loaded]
