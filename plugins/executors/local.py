"""``local``: a pool of worker processes on this machine, ``workers`` on the CPU or one per GPU id.

Each run gets a fresh process (``spawn``), so a run that crashes or is killed takes nothing else with it:
the pool notices the exit, reports that run, and starts the next one in the freed slot. A worker dies with
the sweep (Linux: ``PR_SET_PDEATHSIG``), so killing the sweep never leaves runs going on unwatched.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from albench import Executor, hookimpl
from albench.components import Task, TaskEnded
from albench.hookspecs import Register


@dataclass(frozen=True)
class LocalParams:
    """Parameters of the local worker pool.

    Attributes:
        workers: runs at once, each in its own worker process (ignored when ``gpus`` is given).
        gpus: GPU ids, one run per GPU at a time; each run sees only its GPU, as ``cuda:0``.
    """

    workers: int = 1
    gpus: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if len(set(self.gpus)) != len(self.gpus) or any(g < 0 for g in self.gpus):
            raise ValueError(f"gpus must be distinct GPU ids, got {self.gpus}")


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the sweep dies; elsewhere, best effort."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the sweep died before prctl took effect
        os._exit(1)


def _serve(conn: Connection, gpu: int | None, parent: int) -> None:
    """A worker: run the tasks the sweep sends, one at a time, until it sends None."""
    _die_with_parent(parent)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    while (task := conn.recv()) is not None:
        try:
            ended = TaskEnded(task.key, task())
        except Exception:
            ended = TaskEnded(task.key, error=traceback.format_exc())
        conn.send(ended)


@dataclass
class _Slot:
    """One worker process, and the task it is running (None when idle)."""

    process: BaseProcess
    conn: Connection
    gpu: int | None
    task: Task | None = None


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code} without a result"


class LocalExecutor(Executor):
    """At most ``workers`` (or ``len(gpus)``) runs at once, each in its own process."""

    name = "local"
    description = "a pool of worker processes on this machine (workers=N, or gpus=0,1,...)"
    Params = LocalParams

    @property
    def slots(self) -> int:
        return len(self.params.gpus) or int(self.params.workers)

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskEnded]:
        context = multiprocessing.get_context("spawn")

        def start(gpu: int | None) -> _Slot:
            conn, child = context.Pipe(duplex=True)
            process = context.Process(target=_serve, args=(child, gpu, os.getpid()), name="albench-worker")
            process.start()
            child.close()
            return _Slot(process, conn, gpu)

        gpus: list[int | None] = list(self.params.gpus) or [None] * self.params.workers
        pending = list(reversed(tasks))
        slots = [start(gpu) for gpu in gpus[: len(tasks)]]
        try:
            while pending or any(slot.task for slot in slots):
                for index, slot in enumerate(slots):
                    if slot.task is None and pending:
                        if not slot.process.is_alive():
                            slot = slots[index] = start(slot.gpu)
                        slot.task = pending.pop()
                        try:
                            slot.conn.send(slot.task)
                        except (BrokenPipeError, ConnectionResetError):  # died while idle: a fresh one
                            slot.process.join()
                            slot.conn.close()
                            replacement = slots[index] = start(slot.gpu)
                            replacement.task = slot.task
                            replacement.conn.send(slot.task)
                busy = [slot for slot in slots if slot.task is not None]
                ready = wait([slot.conn for slot in busy] + [slot.process.sentinel for slot in busy])
                for slot in busy:
                    task = slot.task
                    assert task is not None
                    if slot.conn in ready or slot.conn.poll():
                        try:
                            ended: TaskEnded = slot.conn.recv()
                        except (EOFError, OSError):
                            pass  # died mid-task: reported below, from its exit code
                        else:
                            slot.task = None
                            yield ended
                            continue
                    if slot.process.sentinel in ready:
                        slot.process.join()
                        slot.task = None
                        yield TaskEnded(
                            task.key,
                            error=f"worker process {slot.process.pid} "
                            f"{_describe_exit(slot.process.exitcode)} while running it",
                        )
        finally:
            for slot in slots:
                if slot.process.is_alive():
                    if slot.task is None:
                        slot.conn.send(None)
                        slot.process.join(10)
                    if slot.process.is_alive():
                        slot.process.terminate()
                        slot.process.join(5)
                slot.conn.close()


@hookimpl
def register_executors(register: Register) -> None:
    register(LocalExecutor)
