"""Per-run locks: exclusive, who holds them, the staleness rule, and taking over a stale one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from albench.results.locks import LockHolder, RunLock, lock_path


def _write_lock(results: Path, run_id: str, holder: LockHolder, heartbeat: float) -> Path:
    path = lock_path(results, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in asdict(holder).items() if k != "heartbeat"}))
    os.utime(path, (heartbeat, heartbeat))
    return path


def test_a_lock_is_exclusive_and_says_who_holds_it(tmp_path):
    first, second = RunLock(tmp_path, "abc"), RunLock(tmp_path, "abc")
    assert first.acquire()
    assert not second.acquire()
    assert second.holder is not None
    assert (second.holder.host, second.holder.pid) == (socket.gethostname(), os.getpid())
    assert f"pid {os.getpid()}" in second.holder.describe()
    first.release()
    assert not lock_path(tmp_path, "abc").exists()
    assert second.acquire()
    second.release()


def test_the_lock_of_a_dead_process_on_this_host_is_stale_and_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    holder = replace(LockHolder.me(), pid=pid, pid_start=None, token="old")
    _write_lock(tmp_path, "abc", holder, time.time())
    lock = RunLock(tmp_path, "abc")
    assert lock.acquire()
    assert lock.broke is not None and f"process {pid} on this host is gone" in lock.broke
    assert json.loads(lock_path(tmp_path, "abc").read_text())["pid"] == os.getpid()
    lock.release()


def test_a_reused_pid_does_not_keep_a_lock(tmp_path):
    # Our own pid, but recorded with another start time: the process that took the lock is gone.
    holder = replace(LockHolder.me(), pid_start=1.0, token="old")
    _write_lock(tmp_path, "abc", holder, time.time())
    lock = RunLock(tmp_path, "abc")
    assert lock.acquire() and lock.broke is not None and "pid was reused" in lock.broke
    lock.release()


def test_a_live_lock_of_another_host_is_kept_until_its_heartbeat_is_stale(tmp_path):
    holder = replace(LockHolder.me(), host="node-17", pid=4242, pid_start=None, token="theirs")
    _write_lock(tmp_path, "fresh", holder, time.time() - 60)
    fresh = RunLock(tmp_path, "fresh", stale_after_s=600)
    assert not fresh.acquire()
    assert fresh.holder is not None and "host node-17, pid 4242" in fresh.holder.describe()
    _write_lock(tmp_path, "dead", holder, time.time() - 7200)
    dead = RunLock(tmp_path, "dead", stale_after_s=600)
    assert dead.acquire()
    assert dead.broke is not None and "no heartbeat from host node-17 for 2.0 h" in dead.broke
    dead.release()


def test_a_requeued_job_takes_back_the_lock_of_its_own_owner_tag(tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_LOCK_OWNER", "slurm:1234_5")
    holder = replace(LockHolder.me(), host="node-3", pid=99, pid_start=None, token="before-requeue")
    _write_lock(tmp_path, "abc", holder, time.time())
    lock = RunLock(tmp_path, "abc")
    assert lock.acquire()
    assert lock.broke is not None and "belongs to this job (slurm:1234_5)" in lock.broke
    lock.release()


def test_a_half_written_lock_is_stale(tmp_path):
    path = lock_path(tmp_path, "abc")
    path.parent.mkdir(parents=True)
    path.write_text("")  # killed between the exclusive create and the write
    lock = RunLock(tmp_path, "abc")
    assert lock.acquire() and lock.broke is not None
    lock.release()


def test_the_heartbeat_refreshes_the_lock(tmp_path):
    lock = RunLock(tmp_path, "abc", heartbeat_s=0.05)
    assert lock.acquire()
    path = lock_path(tmp_path, "abc")
    os.utime(path, (1.0, 1.0))
    time.sleep(0.3)
    assert path.stat().st_mtime > time.time() - 5
    lock.release()


def test_release_leaves_a_lock_someone_else_took_over(tmp_path):
    lock = RunLock(tmp_path, "abc")
    assert lock.acquire()
    holder = replace(LockHolder.me(), token="new-owner")
    _write_lock(tmp_path, "abc", holder, time.time())
    lock.release()
    assert json.loads(lock_path(tmp_path, "abc").read_text())["token"] == "new-owner"


def test_of_many_threads_breaking_one_stale_lock_exactly_one_wins(tmp_path):
    holder = replace(LockHolder.me(), host="gone", pid=1, pid_start=None, token="stale")
    _write_lock(tmp_path, "abc", holder, time.time() - 7200)
    winners: list[RunLock] = []
    barrier = threading.Barrier(8)

    def contend() -> None:
        lock = RunLock(tmp_path, "abc")
        barrier.wait()
        if lock.acquire():
            winners.append(lock)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    winners[0].release()


@pytest.mark.parametrize("seconds, text", [(30, "30 s"), (600, "10 min"), (7200, "2.0 h")])
def test_holder_describes_its_age(seconds, text):
    holder = replace(LockHolder.me(), started=1000.0)
    assert f"started {text} ago" in holder.describe(now=1000.0 + seconds)
