"""Per-run locks: two workers or two sweeps never run the same run id at once.

A lock is the file ``<results>/.locks/<run_id>.lock``, created exclusively (``O_CREAT | O_EXCL``), holding
who took it: host, pid, the pid's start time, when, and an owner tag (``$ALBENCH_LOCK_OWNER``: executors set
it to the Slurm job or Ray task, so a requeued job or a retried task takes its own lock back at once). While
the run goes on, a thread touches the file every ``heartbeat_s`` seconds.

Staleness rule: a lock is stale when its holder is on this host and its process is gone (or the pid now
belongs to a younger process), when it carries this process's owner tag, or when its heartbeat is older than
``stale_after_s`` (a dead host). A stale lock is broken under a second exclusive file, so that of two
processes that both found it stale only one takes it over.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from albench.errors import AlbenchError
from albench.results.remote import RemoteResults

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "LockHolder", "RunLock", "S3RunLock", "lock_path"]

HEARTBEAT_S = 30.0
STALE_AFTER_S = 600.0
_BREAK_STALE_S = 60.0


def lock_path(results_dir: Path, run_id: str) -> Path:
    return results_dir / ".locks" / f"{run_id}.lock"


def _process_start(pid: int) -> float | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return float(stat.rsplit(")", 1)[1].split()[19])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as written in the lock file."""

    host: str
    pid: int
    pid_start: float | None
    started: float
    owner: str
    token: str
    heartbeat: float = 0.0

    @classmethod
    def me(cls) -> LockHolder:
        pid = os.getpid()
        return cls(
            socket.gethostname(),
            pid,
            _process_start(pid),
            time.time(),
            os.environ.get("ALBENCH_LOCK_OWNER", ""),
            uuid.uuid4().hex,
        )

    def describe(self, now: float | None = None) -> str:
        age = (now or time.time()) - self.started
        owner = f", {self.owner}" if self.owner else ""
        return f"host {self.host}, pid {self.pid}{owner}, started {_duration(age)} ago"

    def stale_reason(self, stale_after_s: float, now: float | None = None) -> str | None:
        """Why this lock no longer protects a live run, or None when its holder may still be running."""
        now = now or time.time()
        mine = LockHolder.me()
        if self.owner and self.owner == mine.owner:
            return f"it belongs to this job ({self.owner}), restarted"
        if self.host == mine.host:
            if not _alive(self.pid):
                return f"process {self.pid} on this host is gone"
            start = _process_start(self.pid)
            if self.pid_start is not None and start is not None and start != self.pid_start:
                return f"process {self.pid} on this host is gone (its pid was reused)"
            return None
        if now - self.heartbeat > stale_after_s:
            return f"no heartbeat from host {self.host} for {_duration(now - self.heartbeat)}"
        return None


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class RunLock:
    """The lock of one run id. ``acquire()`` returns whether we got it; ``holder`` says who has it if not."""

    def __init__(
        self, results_dir: Path, run_id: str, *, heartbeat_s: float = HEARTBEAT_S, stale_after_s: float = STALE_AFTER_S
    ) -> None:
        self.path = lock_path(results_dir, run_id)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.holder: LockHolder | None = None
        self.broke: str | None = None  # why a stale lock was taken over, for the log
        self._mine: LockHolder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _create(self) -> bool:
        me = LockHolder.me()
        data = json.dumps(asdict(me)).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._mine = me
        return True

    def read(self) -> LockHolder | None:
        """The current holder, or None when there is no lock (or it was half-written by a killed process)."""
        try:
            text = self.path.read_text()
            heartbeat = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            fields: dict[str, Any] = json.loads(text)
            return LockHolder(**{**fields, "heartbeat": heartbeat})
        except (ValueError, TypeError):
            # Killed between the exclusive create and the write: nobody can own it; treat as long dead.
            return LockHolder("?", -1, None, heartbeat, "", "", heartbeat=0.0)

    def acquire(self) -> bool:
        for _ in range(3):
            if self._create():
                self._start_heartbeat()
                return True
            holder = self.read()
            if holder is None:
                continue  # released between our create and our read
            reason = holder.stale_reason(self.stale_after_s)
            if reason is None:
                self.holder = holder
                return False
            if self.take_over(holder):
                self.broke = f"took over the stale lock of {holder.describe()}: {reason}"
                self._start_heartbeat()
                return True
        self.holder = self.read()
        return False

    def take_over(self, stale: LockHolder) -> bool:
        """Replace the stale lock by ours, unless someone else is breaking it or already replaced it."""
        breaker = self.path.with_suffix(".break")
        try:
            fd = os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - breaker.stat().st_mtime > _BREAK_STALE_S:
                    breaker.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return False
        os.close(fd)
        try:
            current = self.read()
            if current is None or current.token != stale.token:
                return False
            self.path.unlink(missing_ok=True)
            return self._create()
        finally:
            breaker.unlink(missing_ok=True)

    def _beat(self) -> bool:
        """Refresh the heartbeat; False when the lock is gone."""
        try:
            os.utime(self.path)
        except OSError:
            return False
        return True

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.heartbeat_s):
                try:
                    if not self._beat():
                        return
                except Exception:  # a heartbeat must never kill the run; staleness takes over
                    return

        self._thread = threading.Thread(target=beat, name=f"albench-lock-{self.path.stem}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._mine is None:
            return
        current = self.read()
        if current is not None and current.token == self._mine.token:
            self.path.unlink(missing_ok=True)
        self._mine = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class S3RunLock(RunLock):
    """The same lock on S3: create with ``If-None-Match: *``, heartbeat and take over with ``If-Match`` on the
    version read (compare-and-swap), so of two workers only one wins. Needs boto3 (``albench[s3]``)."""

    def __init__(self, remote: RemoteResults, run_id: str, **kwargs: Any) -> None:
        super().__init__(Path("/nonexistent"), run_id, **kwargs)
        try:
            import boto3
            import botocore.exceptions
        except ImportError:
            raise AlbenchError("locks on s3:// need boto3: pip install 'albench[s3]'") from None
        bucket, prefix, options = remote.s3_address()
        self._client = boto3.client("s3", **options)
        self._errors = botocore.exceptions.ClientError
        self.bucket = bucket
        self.key = f"{prefix}/.locks/{run_id}.lock".lstrip("/")
        self.path = Path(f"s3://{bucket}/{self.key}")
        self._etag: str | None = None  # of the version last read or written by us

    def _failed_precondition(self, error: Exception) -> bool:
        response = getattr(error, "response", {})
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)

    def _put(self, holder: LockHolder, **condition: str) -> bool:
        try:
            reply = self._client.put_object(
                Bucket=self.bucket, Key=self.key, Body=json.dumps(asdict(holder)).encode(), **condition
            )
        except self._errors as error:
            if self._failed_precondition(error):
                return False
            raise
        self._etag = reply["ETag"]
        return True

    def _create(self) -> bool:
        me = LockHolder.me()
        if self._put(me, IfNoneMatch="*"):
            self._mine = me
            return True
        return False

    def read(self) -> LockHolder | None:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.key)
        except self._errors as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        self._etag = reply["ETag"]
        heartbeat = reply["LastModified"].timestamp()
        try:
            fields: dict[str, Any] = json.loads(reply["Body"].read())
            return LockHolder(**{**fields, "heartbeat": heartbeat})
        except (ValueError, TypeError):
            return LockHolder("?", -1, None, heartbeat, "", "", heartbeat=0.0)

    def take_over(self, stale: LockHolder) -> bool:
        me = LockHolder.me()
        if self._etag is not None and self._put(me, IfMatch=self._etag):
            self._mine = me
            return True
        return False

    def _beat(self) -> bool:
        """Rewrite the lock (its LastModified is the heartbeat), only if it is still the version we wrote."""
        return self._mine is not None and self._etag is not None and self._put(self._mine, IfMatch=self._etag)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._mine is None:
            return
        current = self.read()
        if current is not None and current.token == self._mine.token:
            self._client.delete_object(Bucket=self.bucket, Key=self.key)
        self._mine = None
