"""One run as an executor sees it: a picklable callable that locks, runs or skips, and never raises.

The same :class:`RunTask` runs in this process (``inline``), in a worker process (``local``), in a Slurm job
or in a Ray task. Whatever goes wrong inside a run (a plugin raising, bad input, a corrupt file) is caught
here: the traceback goes to ``<results>/.failed/<run_id>.txt`` and the run is reported as failed, so one
run never stops the others.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from albench.errors import AlbenchError
from albench.host.registry import Registry, load_registry
from albench.results.failures import clear_failure, record_failure
from albench.results.locks import RunLock
from albench.results.store import result_path
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
    """Run ``spec`` with ``options``: skip it if finished, else lock it, run or resume it, release the lock."""

    spec: RunSpec
    options: RunOptions

    @property
    def key(self) -> str:
        return self.spec.run_id

    @property
    def gpus(self) -> int:
        return 1 if self.options.device.startswith("cuda") else 0

    def __call__(self) -> RunResult:
        started = time.perf_counter()
        spec, options = self.spec, self.options
        run_id, what = spec.run_id, describe(spec)
        path = result_path(options.results_dir, run_id)
        if path.exists() and not options.force:
            return RunResult(run_id, "skipped", what, str(path), "results exist")
        lock = RunLock(options.results_dir, run_id)
        if not lock.acquire():
            holder = lock.holder.describe() if lock.holder else "another process"
            return RunResult(run_id, "locked", what, message=f"running elsewhere ({holder})")
        try:
            progress = _progress.get() or LineProgress(run_id)
            if lock.broke:
                progress.log(lock.broke)
            # Another worker may have finished it between our check and our lock.
            if path.exists() and not options.force:
                return RunResult(run_id, "skipped", what, str(path), "results exist")
            outcome = execute_run(spec, registry(), options, progress)
        except Exception as error:
            record = record_failure(options.results_dir, run_id, what, traceback.format_exc())
            # Bad input is one plain line; anything else names its exception type.
            summary = str(error) if isinstance(error, AlbenchError) else f"{type(error).__name__}: {error}"
            return RunResult(run_id, "failed", what, str(record), summary, time.perf_counter() - started)
        finally:
            lock.release()
        clear_failure(options.results_dir, run_id)
        return RunResult(
            run_id, outcome.status, what, str(outcome.path), lock.broke or "", time.perf_counter() - started
        )


_REGISTRY: list[Registry] = []


def registry() -> Registry:
    """The plugin registry, loaded once per process (a worker runs many tasks; the CLI has one already)."""
    if not _REGISTRY:
        _REGISTRY.append(load_registry())
    return _REGISTRY[0]


def share_registry(loaded: Registry) -> None:
    """Let runs in this process use the registry the CLI loaded."""
    _REGISTRY[:] = [loaded]
