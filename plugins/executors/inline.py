"""``inline``: every run in this process, one after the other (the default, and what most tests use)."""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence

from albench import Executor, hookimpl
from albench.components import Task, TaskEnded
from albench.hookspecs import Register


class InlineExecutor(Executor):
    """Calls each task in turn. Ctrl-C stops the sweep; the run in progress keeps its checkpoint."""

    name = "inline"
    description = "in this process, one run after the other"

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskEnded]:
        for task in tasks:
            try:
                value = task()
            except Exception:  # a task reports its own failures; this is a bug in the task itself
                yield TaskEnded(task.key, error=traceback.format_exc())
            else:
                yield TaskEnded(task.key, value)


@hookimpl
def register_executors(register: Register) -> None:
    register(InlineExecutor)
