"""Results files and checkpoints carry checksums; what fails them is quarantined, never silently read.

Rows of the fault table (docs/faults.md): damaged or foreign results files, bit flips in results files and
in checkpoints, leftovers of killed runs, file permissions.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import TINY_CONFIG

from albench.results.checkpoints import DamagedCheckpoint, encode_checkpoint, read_checkpoint, read_checkpoint_rows
from albench.results.runs import load_runs
from albench.results.store import read_results, read_run_file, tidy
from albench.run.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run

FIXTURES = Path(__file__).parent / "fixtures"


def _copy_fixture_runs(target: Path, count: int | None = None) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    sources = sorted((FIXTURES / "runs").glob("*.parquet"))[:count]
    for path in sources:
        (target / path.name).write_bytes(path.read_bytes())
    return [target / path.name for path in sources]


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _same(a, b) -> bool:
    """Equality with NaN equal to NaN, through lists."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_leaderboard_of_ten_good_files_one_corrupt_and_one_foreign(tmp_path):
    # The acceptance: ten good files are ranked, the two others are named in a note.
    from typer.testing import CliRunner

    from albench.cli import app

    good = _copy_fixture_runs(tmp_path, 12)
    corrupt, foreign = good.pop(), good.pop()
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size // 2])
    pq.write_table(pa.table({"note": ["a teammate's table"]}), foreign)
    result = CliRunner().invoke(app, ["leaderboard", "-r", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    contents = load_runs(tmp_path)
    assert sorted(run.run_id for run in contents.runs) == sorted(p.stem for p in good)
    notes = " ".join(result.stdout.split())
    assert f"set aside {corrupt}: not readable Parquet" in notes
    assert f"moved to {tmp_path / '.quarantine' / corrupt.name}" in notes
    assert f"skipped {foreign}: not an albench results file" in notes
    assert foreign.exists() and not corrupt.exists()
    reason = (tmp_path / ".quarantine" / f"{corrupt.name}.reason.txt").read_text()
    assert len(reason.splitlines()) == 1 and "not readable Parquet" in reason


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_a_damaged_results_file_of_a_grid_is_quarantined_and_the_run_redone(registry, options, damage):
    spec = resolve_run(registry, TINY_CONFIG, "random", 0)
    first = execute_run(spec, registry, options)
    path = first.path
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(random.Random(0).randbytes(5000))
    else:
        pq.write_table(pa.table({"x": [1, 2]}), path)
    again = execute_run(spec, registry, options)
    assert again.status == "completed" and again.table.to_pylist()[0]["run_id"] == spec.run_id
    quarantined = options.results_dir / ".quarantine" / path.name
    assert quarantined.exists() and (options.results_dir / ".quarantine" / f"{path.name}.reason.txt").exists()


def test_bit_flips_in_a_results_file_never_change_a_value_silently(tmp_path):
    # 300 single-bit flips (as in the issue): each one either reads back every value unchanged, or the
    # file is set aside; none reads back with a changed value.
    source = _copy_fixture_runs(tmp_path / "source", 1)[0]
    reference = read_results(source.parent).table.to_pylist()
    data = source.read_bytes()
    rng = random.Random(0)
    outcomes = {"unchanged": 0, "set aside": 0, "silently changed": 0}
    directory = tmp_path / "flipped"
    for _ in range(300):
        directory.mkdir(exist_ok=True)
        (directory / source.name).write_bytes(_flip(data, rng.randrange(len(data) * 8)))
        contents = read_results(directory)
        if contents.set_aside:
            outcomes["set aside"] += 1
        elif _same(contents.table.to_pylist(), reference):
            outcomes["unchanged"] += 1
        else:
            outcomes["silently changed"] += 1
        for path in list(directory.rglob("*")):
            if path.is_file():
                path.unlink()
    assert outcomes["silently changed"] == 0, outcomes
    assert outcomes["set aside"] > 0


def test_bit_flips_in_a_checkpoint_never_load_silently(tmp_path):
    # 200 flips (as in the issue): each one loads the exact checkpoint back, or is refused as damaged.
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 4, 3)
    spec = {"seed": 0, "name": "x"}
    rows = [{"round": 0, "miou": 0.25, "confusion": [1, 2, 3, 4]}]
    stages = [{"model": model.state_dict(), "ema": None}]
    data = encode_checkpoint(spec, rows, stages)
    rng = random.Random(0)
    outcomes = {"identical": 0, "refused": 0, "silently changed": 0}
    path = tmp_path / "c.pt"
    for _ in range(200):
        path.write_bytes(_flip(data, rng.randrange(len(data) * 8)))
        try:
            loaded = load_checkpoint(path, spec)
        except DamagedCheckpoint:
            outcomes["refused"] += 1
            continue
        same = (
            loaded is not None
            and loaded.rows == rows
            and all(torch.equal(loaded.stages[0]["model"][k], v) for k, v in stages[0]["model"].items())
        )
        outcomes["identical" if same else "silently changed"] += 1
    assert outcomes["silently changed"] == 0, outcomes
    assert outcomes["refused"] > 0


def test_a_checkpoint_round_trips_and_reports_read_its_rows_verified(tmp_path):
    path = tmp_path / ".partial" / "r.pt"
    stages = [{"model": {"w": torch.arange(6.0).reshape(2, 3)}, "ema": None}]
    save_checkpoint(path, Checkpoint({"seed": 1}, [{"round": 0}], stages))
    loaded = load_checkpoint(path, {"seed": 1})
    assert (
        loaded is not None
        and loaded.rows == [{"round": 0}]
        and torch.equal(loaded.stages[0]["model"]["w"], stages[0]["model"]["w"])
    )
    assert load_checkpoint(path, {"seed": 2}) is None  # another spec's checkpoint
    assert read_checkpoint_rows(path) == [{"round": 0}]
    payload = torch.load(path, weights_only=True)
    payload["stages"][0]["model"]["w"][0, 0] = 99.0  # weights changed after writing, rows intact
    torch.save(payload, path)
    assert read_checkpoint_rows(path) == [{"round": 0}]  # reports do not read the weights
    with pytest.raises(DamagedCheckpoint, match="does not match its checksum \\(weights changed or damaged\\)"):
        read_checkpoint(path)


def test_a_damaged_checkpoint_is_quarantined_and_the_run_starts_over(registry, options):
    spec = resolve_run(registry, TINY_CONFIG, "random", 0)
    partial = options.results_dir / ".partial" / f"{spec.run_id}.pt"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\x00" * 100)
    outcome = execute_run(spec, registry, options)
    assert outcome.status == "completed" and not partial.exists()
    assert (options.results_dir / ".quarantine" / partial.name).read_bytes() == b"\x00" * 100


def test_a_checkpoint_from_before_checksums_still_resumes(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"spec": {"seed": 1}, "rows": [{"round": 0}], "stages": []}, path)
    loaded = load_checkpoint(path, {"seed": 1})
    assert loaded is not None and loaded.rows == [{"round": 0}]


def test_results_files_and_checkpoints_follow_the_umask(registry, tmp_path):
    previous = os.umask(0o002)
    try:
        options = RunOptions(tmp_path / "results", tmp_path / "cache")
        spec = resolve_run(registry, TINY_CONFIG, "random", 0)
        outcome = execute_run(spec, registry, options)
        save_checkpoint(tmp_path / "results" / ".partial" / "x.pt", Checkpoint({}, [], []))
    finally:
        os.umask(previous)
    assert outcome.path.stat().st_mode & 0o777 == 0o664
    assert (tmp_path / "results" / ".partial" / "x.pt").stat().st_mode & 0o777 == 0o664
    assert all(p.stat().st_mode & 0o777 == 0o664 for p in (tmp_path / "cache").rglob("*.npz"))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(registry, options):
    import socket

    spec = resolve_run(registry, TINY_CONFIG, "random", 0)
    finished = execute_run(spec, registry, options).path
    results = options.results_dir
    host, dead = socket.gethostname(), _dead_pid()
    # What kills leave: an empty temporary file of a dead writer (results dir and .partial), one from before
    # temporary names carried a process id (an hour old), and a checkpoint older than its finished file.
    leftovers = [
        results / f".{finished.name}~{host}~{dead}~ab12cd34.tmp",
        results / ".partial" / f".{spec.run_id}.pt~{host}~{dead}~ef56ab78.tmp",
        results / f".{spec.run_id}.x1y2z3.tmp",
    ]
    (results / ".partial").mkdir(exist_ok=True)
    for path in leftovers:
        path.write_bytes(b"")
    hour_ago = time.time() - 3700
    os.utime(leftovers[2], (hour_ago, hour_ago))
    stale = results / ".partial" / f"{spec.run_id}.pt"
    save_checkpoint(stale, Checkpoint(spec.canonical(), [], []))
    os.utime(stale, (hour_ago, hour_ago))
    # Kept: a temporary file of a live writer (this process), and a checkpoint newer than its results file
    # (a --force rerun in progress).
    live = results / f".other.parquet~{host}~{os.getpid()}~00000000.tmp"
    live.write_bytes(b"")
    forced = results / ".partial" / "0123456789abcdef.pt"
    (results / "0123456789abcdef.parquet").write_bytes(finished.read_bytes())
    os.utime(results / "0123456789abcdef.parquet", (hour_ago, hour_ago))
    save_checkpoint(forced, Checkpoint({}, [], []))
    removed = tidy(results)
    assert sorted(removed) == sorted([*leftovers, stale])
    assert live.exists() and forced.exists() and finished.exists()


def test_a_kill_during_the_results_write_leaves_the_old_file_or_none(tmp_path):
    # SIGKILL between writing the temporary file and renaming it: the target is untouched, the temporary
    # file is a leftover that the next run removes.
    target = tmp_path / "r.parquet"
    target.write_bytes(b"old")
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from albench._atomic import atomic_write\n"
        "def write(temporary):\n"
        "    temporary.write_bytes(b'new, half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic_write(Path({str(target)!r}), write)\n"
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert process.returncode == -9
    assert target.read_bytes() == b"old"
    (leftover,) = tmp_path.glob(".r.parquet~*.tmp")
    assert tidy(tmp_path) == [leftover]


def test_an_unverified_file_from_before_checksums_is_read_with_a_note(tmp_path):
    (path,) = _copy_fixture_runs(tmp_path, 1)
    table = pq.read_table(path)
    footer = {k: v for k, v in table.schema.metadata.items() if k != b"albench.checksum"}
    pq.write_table(table.replace_schema_metadata(footer), path)
    contents = read_results(tmp_path)
    assert contents.table.num_rows == table.num_rows and not contents.set_aside
    assert contents.notes() == [
        f"1 results file(s) carry no checksum (written by an albench before checksums), read unverified: {path.name}"
    ]


def test_a_file_whose_values_were_edited_fails_its_checksum(tmp_path):
    (path,) = _copy_fixture_runs(tmp_path, 1)
    table = pq.read_table(path)
    miou = pa.array([0.99] * table.num_rows)
    pq.write_table(table.set_column(table.column_names.index("miou"), "miou", miou), path)
    table_read, aside = read_run_file(path, tmp_path)
    assert table_read is None and aside is not None
    assert aside.reason == "its content does not match its checksum (changed or damaged after albench wrote it)"


def test_a_failed_write_is_one_line_naming_the_path_and_the_fix(tmp_path):
    # A real ENOSPC: /dev/full refuses every write, and a failed write() names no file; the atomic writer
    # puts the target's path on the error, and the message names it with the fix.
    from albench._atomic import atomic_write
    from albench.errors import os_error_message

    def write_to_a_full_disk(temporary: Path) -> None:
        with open("/dev/full", "wb") as full:
            full.write(b"x")
            full.flush()

    with pytest.raises(OSError) as raised:
        atomic_write(tmp_path / "r.parquet", write_to_a_full_disk)
    assert raised.value.errno == 28 and raised.value.filename == str(tmp_path / "r.parquet")
    assert os_error_message(raised.value, action="write") == (
        f"cannot write {tmp_path / 'r.parquet'}: no space left on the device; free space there or choose a "
        f"directory on another disk"
    )
    assert not list(tmp_path.iterdir())  # no temporary file left behind
