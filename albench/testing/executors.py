"""``check_executor``: an executor yields exactly one outcome per task, keyed by the task, and nothing for none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from albench.components import Executor, TaskEnded
from albench.testing._contract import Contract

__all__ = ["EchoTask", "check_executor"]


@dataclass(frozen=True)
class EchoTask:
    """A trivial picklable task (importable from any worker): returns its key doubled, or raises."""

    key: str
    gpus: int = 0
    fail: bool = False

    def __call__(self) -> str:
        if self.fail:
            raise RuntimeError(f"task {self.key} failed on purpose")
        return self.key * 2


def check_executor(
    executor: type[Executor], params: Mapping[str, Any] | object | None = None, *, run_tasks: bool = True
) -> None:
    """Check an executor class against its contract; raise :class:`ContractError` naming the broken rule.

    ``slots`` is a non-negative int; running no task yields nothing (and starts nothing). With ``run_tasks``
    (leave it off where the executor needs a cluster): three tasks, one of which raises, give exactly one
    :class:`TaskEnded` each, keyed by the task: the value the task returned, or an error naming the failure.
    """
    contract = Contract("executor", executor, params)
    instance = executor(contract.params)
    with contract.calling("says how many runs go at once", "slots"):
        slots = instance.slots
    contract.check(
        isinstance(slots, int) and slots >= 0,
        "has slots >= 0",
        f"slots must be a non-negative int (0: unknown, a cluster), got {slots!r}",
    )
    with contract.calling("runs no task", "run([])"):
        nothing = list(instance.run([]))
    contract.check(not nothing, "yields nothing for no task", f"run([]) yielded {nothing!r}")
    if not run_tasks:
        return
    tasks = [EchoTask("a"), EchoTask("b", fail=True), EchoTask("c")]
    with contract.calling("runs tasks", "run(three tasks)"):
        ended = list(instance.run(tasks))
    contract.check(
        all(isinstance(e, TaskEnded) for e in ended),
        "yields TaskEnded",
        f"run() must yield albench.TaskEnded, got {[type(e).__name__ for e in ended]}",
    )
    by_key = {e.key: e for e in ended}
    contract.check(
        len(ended) == 3 and set(by_key) == {"a", "b", "c"},
        "yields one outcome per task",
        f"run() of tasks a, b, c yielded outcomes for {[e.key for e in ended]}",
    )
    contract.check(
        by_key["a"].value == "aa" and by_key["c"].value == "cc" and by_key["a"].error is None,
        "returns what each task returned",
        f"got {by_key['a']!r} and {by_key['c']!r}",
    )
    contract.check(
        by_key["b"].error is not None and "failed on purpose" in by_key["b"].error,
        "reports a task that raised, with its error",
        f"got {by_key['b']!r}",
    )
