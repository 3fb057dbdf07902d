"""``slurm``: each run a Slurm job, submitted through submitit (``pip install 'albench[slurm]'``).

The runs go out as one job array (``array_parallelism`` at a time). A job that is preempted or reaches its
time limit gets Slurm's early signal; submitit then calls :meth:`_SlurmRun.checkpoint`, which hands back the
same run, and requeues it; the requeued job resumes from the run's own checkpoint (saved after every round),
so no state needs to travel with it. ``cluster = "local"`` runs the jobs through submitit's local executor
(real subprocesses and pickles, no Slurm): what the tests use.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from albench import Executor, hookimpl
from albench.components import Task, TaskEnded
from albench.errors import AlbenchError
from albench.hookspecs import Register


@dataclass(frozen=True)
class SlurmParams:
    """Slurm resources per run (one run = one job).

    Attributes:
        partition: the Slurm partition (default: the cluster's).
        time: the time limit of one job, in minutes; a run that reaches it is requeued and resumes.
        gpus: GPUs per job.
        cpus: CPUs per job.
        mem_gb: memory per job in GB (default: the partition's).
        array_parallelism: jobs of the array running at once.
        account: the Slurm account to charge.
        qos: the Slurm quality of service.
        max_timeouts: how often a job may time out and be requeued before it is given up.
        signal_delay_s: how long before the time limit the job is warned (USR2) to checkpoint.
        folder: where submitit keeps its scripts, pickles and logs.
        cluster: ``slurm``, or ``local`` for submitit's local executor (no Slurm; tests, a workstation).
        poll_s: how often the sweep polls the jobs, in seconds.
    """

    partition: str | None = None
    time: int = 24 * 60
    gpus: int = 1
    cpus: int = 8
    mem_gb: float | None = None
    array_parallelism: int = 64
    account: str | None = None
    qos: str | None = None
    max_timeouts: int = 3
    signal_delay_s: int = 120
    folder: str = "slurm-logs"
    cluster: Literal["slurm", "local"] = "slurm"
    poll_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("time", "cpus", "array_parallelism"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.gpus < 0:
            raise ValueError(f"gpus must be at least 0, got {self.gpus}")


class _SlurmRun:
    """The pickled job: runs the task under this job's lock owner tag; checkpointable for submitit."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __call__(self) -> Any:
        import submitit

        # A requeued job keeps its job id: it may take back the lock its killed predecessor left.
        os.environ["ALBENCH_LOCK_OWNER"] = f"slurm:{submitit.JobEnvironment().job_id}"
        return self.task()

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Preempted or timed out: requeue the same run; it resumes from its own checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise AlbenchError("executor 'slurm' needs submitit: pip install 'albench[slurm]'") from None
    return submitit


class SlurmExecutor(Executor):
    name = "slurm"
    description = "one Slurm job per run through submitit (pip install 'albench[slurm]')"
    Params = SlurmParams

    @property
    def slots(self) -> int:
        return int(self.params.array_parallelism)

    def _executor(self) -> Any:
        submitit = _submitit()
        p: SlurmParams = self.params
        executor = submitit.AutoExecutor(folder=Path(p.folder), cluster=p.cluster, slurm_max_num_timeout=p.max_timeouts)
        options: dict[str, Any] = {
            "timeout_min": p.time,
            "gpus_per_node": p.gpus,
            "cpus_per_task": p.cpus,
            "tasks_per_node": 1,
            "nodes": 1,
            "name": "albench",
        }
        if p.mem_gb is not None:
            options["mem_gb"] = p.mem_gb
        slurm = {
            "slurm_array_parallelism": p.array_parallelism,
            "slurm_signal_delay_s": p.signal_delay_s,
            "slurm_partition": p.partition,
            "slurm_account": p.account,
            "slurm_qos": p.qos,
        }
        options.update({key: value for key, value in slurm.items() if value is not None})
        executor.update_parameters(**options)
        return executor

    def run(self, tasks: Sequence[Task]) -> Iterator[TaskEnded]:
        if not tasks:
            return
        submitit = _submitit()
        executor = self._executor()
        with executor.batch():
            jobs = [executor.submit(_SlurmRun(task)) for task in tasks]
        keys = {job.job_id: task.key for job, task in zip(jobs, tasks)}
        for job in submitit.helpers.as_completed(jobs, poll_frequency=self.params.poll_s):
            key = keys[job.job_id]
            try:
                yield TaskEnded(key, job.result())
            except submitit.core.utils.UncompletedJobError as error:
                yield TaskEnded(
                    key,
                    error=f"Slurm job {job.job_id} ended without a result (killed, cancelled "
                    f"or out of requeues): {str(error).splitlines()[0]}; logs in "
                    f"{job.paths.stderr}",
                )
            except Exception:
                yield TaskEnded(key, error=f"Slurm job {job.job_id} failed:\n{traceback.format_exc()}")


@hookimpl
def register_executors(register: Register) -> None:
    register(SlurmExecutor)
