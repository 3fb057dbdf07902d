"""Executors: where a sweep's runs execute (in process, a local worker pool, Slurm, Ray).

An executor only launches tasks and reports how each ended. It never decides what to run: a task is an
idempotent, picklable callable keyed by its run id, which takes the run's lock, skips finished work, resumes
from the run's checkpoint and writes its own result file (see :mod:`albench.sweep.task`). So an executor
needs no bookkeeping of its own, and any of them can be killed and restarted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from albench.params import NoParams

__all__ = ["Executor", "Task", "TaskEnded"]


class Task(Protocol):
    """One unit of work: a run, as the executors see it."""

    @property
    def key(self) -> str:
        """A unique, stable name (the run id)."""

    @property
    def gpus(self) -> int:
        """GPUs the task needs (0 on CPU)."""

    def __call__(self) -> Any:
        """Do the work; return a picklable value. Failures of the work itself are returned, not raised."""


@dataclass(frozen=True)
class TaskEnded:
    """How a task ended: its return value, or what the executor saw go wrong (a worker died, a job was lost)."""

    key: str
    value: Any = None
    error: str | None = None


class Executor(ABC):
    """Base class of executor plugins, registered through the ``register_executors`` hook.

    :meth:`run` submits every task and yields a :class:`TaskEnded` for each as soon as it ends, in any
    order. It must yield exactly one per task, also when the task's worker died, so the sweep can report it.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams
    #: One line for ``albench plugins`` and the dry-run plan.
    description: ClassVar[str] = ""

    def __init__(self, params: Any) -> None:
        self.params = params

    @property
    def slots(self) -> int:
        """How many tasks run at once (for the dry-run estimate); 0 when unknown (a cluster)."""
        return 1

    @abstractmethod
    def run(self, tasks: Sequence[Task]) -> Iterator[TaskEnded]:
        """Run ``tasks``; yield one :class:`TaskEnded` per task as each ends."""
