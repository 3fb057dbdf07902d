"""Hand tasks to an executor, collect how each ended, and sum up: what finished, what was skipped, what failed.

The driver keeps no state of its own: the results directory is the state (result files, checkpoints, locks,
failure records). A failed run is recorded and reported; it never stops the others.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from albench._words import plural
from albench.components import Executor
from albench.results.failures import failure_path, record_failure
from albench.sweep.task import RunResult, RunTask, describe

__all__ = ["SweepSummary", "rerun_command", "run_tasks"]


@dataclass
class SweepSummary:
    """Every run's result, in the order they ended."""

    results: list[RunResult] = field(default_factory=list)

    def count(self) -> Counter[str]:
        return Counter(result.status for result in self.results)

    @property
    def failed(self) -> list[RunResult]:
        return [result for result in self.results if result.status == "failed"]

    @property
    def locked(self) -> list[RunResult]:
        return [result for result in self.results if result.status == "locked"]

    def line(self) -> str:
        """``12 runs: 8 completed, 2 resumed, 1 skipped, 1 failed``."""
        counts = self.count()
        order = ("completed", "resumed", "skipped", "locked", "failed")
        words = {"locked": "running elsewhere"}
        parts = [f"{counts[status]} {words.get(status, status)}" for status in order if counts[status]]
        return f"{plural(len(self.results), 'run')}: {', '.join(parts) or 'nothing to do'}"


def run_tasks(
    tasks: Sequence[RunTask], executor: Executor, report: Callable[[RunResult, int, int], None] | None = None
) -> SweepSummary:
    """Run ``tasks`` on ``executor``; call ``report(result, done, total)`` as each ends."""
    by_key = {task.key: task for task in tasks}
    summary = SweepSummary()
    for ended in executor.run(list(by_key.values())):
        task = by_key[ended.key]
        if ended.error is not None or not isinstance(ended.value, RunResult):
            # The executor saw the run's worker, job or task die: record it like any failure.
            error = ended.error or f"the executor returned {ended.value!r} instead of a run result"
            results_dir = task.options.results_dir
            record_failure(results_dir, task.key, describe(task.spec), error)
            summary_line = error.strip().splitlines()[-1] if error.strip() else "worker lost"
            result = RunResult(
                task.key, "failed", describe(task.spec), str(failure_path(results_dir, task.key)), summary_line
            )
        else:
            result = ended.value
        summary.results.append(result)
        if report is not None:
            report(result, len(summary.results), len(by_key))
    return summary


def rerun_command(command: Sequence[str], run_ids: Sequence[str]) -> str:
    """``command`` (as typed, without any ``--only``) plus ``--only`` the given runs, ready to paste."""
    kept: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
            continue
        if arg == "--only":
            skip = True
            continue
        if arg.startswith("--only="):
            continue
        kept.append(arg)
    return shlex.join([*kept, "--only", ",".join(run_ids)])
