"""``ray``: each run a Ray task (``pip install 'albench[ray]'``), on a running cluster or a local Ray.

A task asks for ``num_cpus`` and ``num_gpus``; Ray places it. A worker or node lost mid-run makes Ray retry
the task (``max_retries``), which resumes from the run's checkpoint; a run that fails on its own is
reported by the task and never retried.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from albench import Executor, hookimpl
from albench.components import Task, TaskEnded
from albench.errors import AlbenchError
from albench.hookspecs import Register


@dataclass(frozen=True)
class RayParams:
    """Ray resources per run (one run = one task).

    Attributes:
        address: a running cluster (``auto``, ``ray://head:10001``); unset: start a local Ray.
        num_cpus: CPUs each task reserves.
        num_gpus: GPUs each task reserves (default: 1 for a CUDA sweep, else 0).
        max_retries: retries of a task whose worker or node was lost (a run's own failure is never retried).
        local_cpus: CPUs of the local Ray (default: all).
    """

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float | None = None
    max_retries: int = 3
    local_cpus: int | None = None

    def __post_init__(self) -> None:
        if self.num_cpus < 0 or (self.num_gpus is not None and self.num_gpus < 0):
            raise ValueError("num_cpus and num_gpus must be at least 0")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {self.max_retries}")


def _call(task: Task) -> Any:
    import ray

    # A retried task keeps its task id: it may take back the lock its lost predecessor left.
    os.environ["ALBENCH_LOCK_OWNER"] = f"ray:{ray.get_runtime_context().get_task_id()}"
    return task()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise AlbenchError("executor 'ray' needs Ray: pip install 'albench[ray]'") from None
    return ray


class RayExecutor(Executor):
    name = "ray"
    description = "one Ray task per run, on a cluster (address=...) or a local Ray (pip install 'albench[ray]')"
    Params = RayParams

    @property
    def slots(self) -> int:
        return int(self.params.local_cpus or os.cpu_count() or 1) if self.params.address is None else 0

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskEnded]:
        if not tasks:
            return
        ray = _ray()
        p: RayParams = self.params
        started = not ray.is_initialized()
        if started:
            if p.address is None:
                ray.init(num_cpus=p.local_cpus, include_dashboard=False, log_to_driver=True)
            else:
                ray.init(address=p.address, log_to_driver=True)
        try:
            refs: dict[Any, str] = {}
            for task in tasks:
                gpus = p.num_gpus if p.num_gpus is not None else float(task.gpus)
                remote = ray.remote(
                    num_cpus=p.num_cpus, num_gpus=gpus, max_retries=p.max_retries, retry_exceptions=False
                )(_call)
                refs[remote.remote(task)] = task.key
            while refs:
                (ready,), _ = ray.wait(list(refs), num_returns=1)
                key = refs.pop(ready)
                try:
                    yield TaskEnded(key, ray.get(ready))
                except ray.exceptions.RayError as error:
                    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    yield TaskEnded(key, error=f"Ray task lost ({type(error).__name__}): {first}")
                except Exception:
                    yield TaskEnded(key, error=traceback.format_exc())
        finally:
            if started:
                ray.shutdown()


@hookimpl
def register_executors(register: Register) -> None:
    register(RayExecutor)
