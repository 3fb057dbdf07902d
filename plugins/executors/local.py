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
from typing import Any

from albench import Executor, hookimpl
from albench.components import Task, TaskEnded
from albench.hookspecs import Register


@dataclass(frozen=True)
class LocalParams:
    """``workers``: runs at once on the CPU; ``gpus``: GPU ids, one run per GPU at a time (then ``workers``
    is ignored and each run sees only its GPU, as ``cuda:0``)."""

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


def _worker(task: Task, gpu: int | None, parent: int, conn: Connection) -> None:
    _die_with_parent(parent)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    try:
        ended = TaskEnded(task.key, task())
    except Exception:
        ended = TaskEnded(task.key, error=traceback.format_exc())
    conn.send(ended)
    conn.close()


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
        free: list[int | None] = list(self.params.gpus) or [None] * self.params.workers
        pending = list(reversed(tasks))
        running: dict[Any, tuple[BaseProcess, Connection, Task, int | None]] = {}
        received: dict[Any, TaskEnded | None] = {}
        try:
            while pending or running:
                while pending and free:
                    task, gpu = pending.pop(), free.pop(0)
                    receive, send = context.Pipe(duplex=False)
                    process = context.Process(target=_worker, args=(task, gpu, os.getpid(), send),
                                              name=f"albench-{task.key}", daemon=False)
                    process.start()
                    send.close()
                    running[process.sentinel] = (process, receive, task, gpu)
                # Read results as they come (a large one would block its worker) and reap exited workers.
                receivers = {entry[1]: sentinel for sentinel, entry in running.items() if sentinel not in received}
                for ready in wait([*running, *receivers]):
                    if ready in receivers:
                        try:
                            received[receivers[ready]] = ready.recv()  # type: ignore[union-attr]
                        except (EOFError, OSError):  # died before sending: the exit code will say why
                            received[receivers[ready]] = None
                        continue
                    if ready not in running:
                        continue
                    process, receive, task, gpu = running[ready]
                    if ready not in received and receive.poll():
                        try:
                            received[ready] = receive.recv()
                        except (EOFError, OSError):
                            pass
                    del running[ready]
                    process.join()
                    receive.close()
                    free.append(gpu)
                    ended = received.pop(ready, None)
                    yield ended or TaskEnded(task.key, error=f"worker process {process.pid} "
                                                            f"{_describe_exit(process.exitcode)}")
        finally:
            for process, receive, _task, _gpu in running.values():
                process.terminate()
                process.join(5)
                receive.close()


@hookimpl
def register_executors(register: Register) -> None:
    register(LocalExecutor)
