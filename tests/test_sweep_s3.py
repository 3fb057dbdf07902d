"""Results on S3 through pyarrow's filesystem, against a real S3 API on the loopback (moto's server mode):
sweeps write and skip there, a killed run resumes from its checkpoint there, reports read from there, and
locks are conditional PUTs."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time

import pytest
from integration import require
from sweep_helpers import result_values, sweep_process, write_grid
from typer.testing import CliRunner

from albench.cli import app
from albench.results.locks import LockHolder, S3RunLock
from albench.results.remote import RemoteResults, location

pytestmark = pytest.mark.integration
runner = CliRunner()
BUCKET = "albench-results"


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on 127.0.0.1 with one bucket; stops by itself."""
    require("moto", "the s3:// results tests need moto's server: pip install 'moto[server]'")
    require("boto3", "locks on s3:// need boto3: pip install 'albench[s3]'")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ALBENCH_LOAD_PLUGINS": "",
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


def _objects(client, prefix: str) -> list[str]:
    reply = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    # pyarrow leaves an empty "folder" marker (a key ending in /) where it deleted a folder's last file
    return sorted(item["Key"] for item in reply.get("Contents", []) if not item["Key"].endswith("/"))


def test_a_path_typed_option_keeps_its_uri():
    assert location("s3:/bucket/results") == "s3://bucket/results"
    assert location("s3://bucket/results") == "s3://bucket/results"
    assert location("results/local") == "results/local"


def test_a_sweep_writes_its_results_to_s3_and_skips_them_after(s3, tmp_path):
    grid = write_grid(tmp_path, 'protocol = "tiny.toml"\nstrategies = ["random", "oreal"]\nseeds = [0]')
    uri = f"s3://{BUCKET}/sweeps/results"
    args = ["sweep", str(grid), "-r", uri, "--cache-dir", str(tmp_path / "cache")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 runs: 2 completed" in first.stderr
    keys = _objects(s3, "sweeps/results/")
    assert len([k for k in keys if k.endswith(".parquet")]) == 2
    assert not [k for k in keys if "/.partial/" in k or "/.locks/" in k]
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "2 runs: 2 skipped" in again.stderr
    plan = runner.invoke(app, [*args, "--dry-run"], env={"COLUMNS": "200"})
    total = next(line for line in plan.stdout.splitlines() if "total" in line)
    assert [cell.strip() for cell in total.split("│")[3:8]] == ["2", "0", "0", "0", "0"]
    local = runner.invoke(
        app, ["sweep", str(grid), "-r", str(tmp_path / "local"), "--cache-dir", str(tmp_path / "cache")]
    )
    assert local.exit_code == 0
    mirror = RemoteResults(uri).local_mirror(tmp_path / "cache")
    assert result_values(mirror) == result_values(tmp_path / "local")
    board = runner.invoke(
        app, ["leaderboard", "-r", uri, "--format", "csv"], env={"ALBENCH_CACHE_DIR": str(tmp_path / "c2")}
    )
    assert board.exit_code == 0, board.output
    assert "oreal" in board.stdout and "random" in board.stdout


def test_a_run_killed_mid_way_resumes_from_its_checkpoint_on_s3(s3, tmp_path):
    # faults.toml: runs of 8 rounds, so the kill after the first checkpoint lands mid-run
    grid = write_grid(tmp_path, 'protocol = "faults.toml"\nstrategies = ["oreal"]\nseeds = [0]')
    uri = f"s3://{BUCKET}/killed"
    process = sweep_process(grid, uri, tmp_path / "cache-a", log_dir=tmp_path)
    deadline = time.monotonic() + 300
    while not [k for k in _objects(s3, "killed/.partial/")] and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not [k for k in _objects(s3, "killed/") if k.endswith(".parquet")], "the run finished before the kill"
    # another node: an empty cache, so the checkpoint can only come from S3
    resumed = runner.invoke(app, ["sweep", str(grid), "-r", uri, "--cache-dir", str(tmp_path / "cache-b")])
    assert resumed.exit_code == 0, resumed.output
    assert "1 run: 1 resumed" in resumed.stderr
    assert "took over the stale lock" in resumed.stderr
    reference = runner.invoke(
        app, ["sweep", str(grid), "-r", str(tmp_path / "reference"), "--cache-dir", str(tmp_path / "cache-b")]
    )
    assert reference.exit_code == 0
    mirror = RemoteResults(uri).local_mirror(tmp_path / "cache-b")
    assert result_values(mirror) == result_values(tmp_path / "reference")
    assert not _objects(s3, "killed/.partial/") and not _objects(s3, "killed/.locks/")


def test_s3_locks_are_exclusive_conditional_puts(s3):
    remote = RemoteResults(f"s3://{BUCKET}/locks")
    first, second = S3RunLock(remote, "abc"), S3RunLock(remote, "abc")
    assert first.acquire()
    assert not second.acquire() and second.holder is not None and second.holder.token
    first.release()
    assert not _objects(s3, "locks/.locks/")
    winners = []
    barrier = threading.Barrier(8)

    def contend() -> None:
        lock = S3RunLock(remote, "race")
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


def test_a_stale_s3_lock_of_a_dead_host_is_taken_over_once(s3):
    remote = RemoteResults(f"s3://{BUCKET}/stale")
    dead = dataclasses.replace(LockHolder.me(), host="node-17", pid=4242, pid_start=None, token="dead")
    body = {k: v for k, v in dataclasses.asdict(dead).items() if k != "heartbeat"}
    s3.put_object(Bucket=BUCKET, Key="stale/.locks/abc.lock", Body=json.dumps(body).encode())
    live = S3RunLock(remote, "abc", stale_after_s=3600)
    assert not live.acquire()  # a fresh heartbeat: node-17 may still be running it
    stale_a, stale_b = S3RunLock(remote, "abc", stale_after_s=0), S3RunLock(remote, "abc", stale_after_s=0)
    assert stale_a.read() is not None and stale_b.read() is not None  # both saw the dead holder's version
    results = [stale_a.take_over(dead), stale_b.take_over(dead)]
    assert results == [True, False]  # compare-and-swap: only one replaces that version
    stale_a._mine = stale_a._mine or LockHolder.me()
    stale_a.release()
