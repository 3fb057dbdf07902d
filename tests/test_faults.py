"""The fault table (docs/faults.md), row by row: what a careless or adversarial user meets, and kills.

Each test repeats one row as the issue found it and checks the new behaviour: one plain line naming the
path or field and the fix, a grid that goes on past a broken plugin, a check before training.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from dataset_fixtures import write_folder
from PIL import Image
from sweep_helpers import FAULT_PROTOCOL_TOML
from typer.testing import CliRunner

from albench.cli import app
from albench.host.plugins import load_plugins
from albench.host.registry import Registry
from albench.results.store import ENVIRONMENT_COLUMNS
from albench.run.guards import training_memory

runner = CliRunner()

FOLDER_PROTOCOL = """
[protocol]
budget = 4
rounds = 2
steps = 2
batch_size = 2
eval_batch_size = 4
score_batch_size = 4
threads = 1

[dataset]
name = "folder"
image_size = 32

[backbone]
name = "tiny-deeplab"
width = 8

[superpixels]
name = "slic"
n_segments = 8
compactness = 20.0
"""


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def _run(tmp_path: Path, protocol: Path | str, *args: str, results: Path | None = None, cache: Path | None = None):
    return runner.invoke(
        app,
        [
            "run",
            "--protocol",
            str(protocol),
            "-r",
            str(results or tmp_path / "results"),
            "--cache-dir",
            str(cache or tmp_path / "cache"),
            *args,
        ],
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error_line(result) -> str:
    """The single ``error:`` line of a failed command (checked to be one line, without a traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _folder(root: Path, *, all_ignore: str | None = None) -> Path:
    """A small ``folder`` dataset: 12 training and 3 test images; ``all_ignore`` = a split whose masks are void."""
    write_folder(
        root, ["background", "cat", "dog"], {"train": [f"t{i}" for i in range(12)], "test": ["e0", "e1", "e2"]}
    )
    if all_ignore is not None:
        for mask in (root / "masks" / all_ignore).glob("*.png"):
            Image.fromarray(np.full((30, 40), 255, np.uint8)).save(mask)
    return root


@pytest.fixture
def folder_protocol(tmp_path: Path) -> Path:
    path = tmp_path / "folder.toml"
    path.write_text(FOLDER_PROTOCOL)
    return path


# --- protocol files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "[strategies.pixelball]\nnu = 3\n",
            "[strategies.pixelball]: unknown strategy 'pixelball'. Did you mean 'pixelbal'?",
        ),
        (
            "[strategies.pixelbal]\nnuu = 3\n",
            "[strategies.pixelbal]: strategy 'pixelbal' has no parameter 'nuu'. Did you mean 'nu'?",
        ),
        ("[strategy]\nnu = 3\n", "unknown section 'strategy'. Did you mean 'strategies'?"),
    ],
)
def test_a_misspelled_protocol_file_is_an_error_with_a_close_match(tmp_path, tiny_protocol_file, extra, message):
    # Before: [strategies.pixelball] was ignored and the run used the default ν, exit 0. The section is
    # checked even when that strategy is not among those run.
    protocol = tmp_path / "typo.toml"
    protocol.write_text(tiny_protocol_file.read_text() + "\n" + extra)
    line = _error_line(_run(tmp_path, protocol, "-s", "random"))
    assert str(protocol) in line and message in line, line
    assert not (tmp_path / "results").exists()


def test_an_unknown_protocol_key_names_the_file_and_section(tmp_path, tiny_protocol_file):
    # Its [protocol] used to vanish from the message (read as rich markup).
    protocol = tmp_path / "p.toml"
    protocol.write_text(tiny_protocol_file.read_text().replace("budget = 8", "budgett = 8"))
    line = _error_line(_run(tmp_path, protocol, "-s", "random"))
    assert f"{protocol}: [protocol] has no parameter 'budgett'. Did you mean 'budget'?" in line, line


def test_a_protocol_directory_is_a_one_line_error(tmp_path):
    (tmp_path / "protocols").mkdir()
    (tmp_path / "protocols" / "voc.toml").write_text("")
    line = _error_line(_run(tmp_path, tmp_path / "protocols", "-s", "random"))
    assert line == (
        f"error: protocol file {tmp_path / 'protocols'} is a directory; pass the TOML file itself, "
        f"e.g. {tmp_path / 'protocols' / 'voc.toml'} (it holds voc.toml)"
    )


def test_a_protocol_file_that_is_not_utf8_is_a_one_line_error(tmp_path):
    protocol = tmp_path / "latin1.toml"
    protocol.write_bytes("[protocol]\nbudget = 8  # café\n".encode("latin-1"))
    line = _error_line(_run(tmp_path, protocol, "-s", "random"))
    assert (
        line
        == f"error: protocol file {protocol} is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8, as TOML requires"
    )


@pytest.mark.parametrize("seed", ["99999999999999999999999", "0-99999999999999999999999", "-9223372036854775809"])
def test_a_seed_beyond_64_bits_is_a_one_line_error(tmp_path, tiny_protocol_file, seed):
    # Before: an OverflowError traceback after the run had trained (or a range that never finished expanding).
    line = _error_line(_run(tmp_path, tiny_protocol_file, "-s", "random", "--seed", seed))
    assert f"--seed '{seed}': seed" in line and "is out of range; seeds are 64-bit integers" in line
    assert not (tmp_path / "results").exists()


def test_a_seed_beyond_64_bits_in_a_protocol_file_is_rejected(registry, tmp_path, tiny_protocol_file):
    from albench.errors import ParameterError
    from albench.run.protocol import load_protocol_file
    from albench.run.spec import resolve_grid

    protocol = tmp_path / "p.toml"
    protocol.write_text(tiny_protocol_file.read_text())
    config = load_protocol_file(protocol)
    with pytest.raises(ParameterError, match=r"seed 9223372036854775808 is out of range"):
        resolve_grid(registry, config, ["random"], [2**63])


# --- plain errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["x/[/y]", "x/[b]/y"])
def test_bracketed_text_in_an_error_is_printed_as_it_is(tmp_path, root):
    # Before: '[b]' vanished from the message and '[/y]' crashed the error printer (rich markup).
    result = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            "folder",
            "--data-root",
            root,
            "-s",
            "random",
            "-r",
            str(tmp_path / "results"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    line = _error_line(result)
    assert line.startswith(f"error: data root {root} of dataset 'folder' does not exist or is not a directory")


def test_console_output_never_reads_user_text_as_markup():
    from rich.table import Table

    from albench.cli._common import out

    table = Table(title="run [bold]x[/bold]")
    table.add_column("toy [fa2c1d0e]")  # a protocol-hash column: the hash used to vanish
    table.add_row("[/y]")
    with out.capture() as captured:
        out.print(table)
    text = captured.get()
    assert "toy [fa2c1d0e]" in text and "[/y]" in text and "run [bold]x[/bold]" in text


def test_a_results_path_that_is_a_file_fails_before_training(tmp_path, tiny_protocol_file):
    # Before: NotADirectoryError traceback after round 0 had trained.
    (tmp_path / "afile").write_text("")
    line = _error_line(_run(tmp_path, tiny_protocol_file, "-s", "random", results=tmp_path / "afile"))
    assert line == (
        f"error: cannot write results to {tmp_path / 'afile'}: a part of the path is a file, not a "
        f"directory; pass --results-dir DIR with a directory you can write to"
    )
    assert not list((tmp_path / "cache").rglob("*.npz"))  # nothing was computed


@contextlib.contextmanager
def _tmpfs(path: Path, size_kib: int, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at ``path`` (a real full or read-only disk); skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kib}k" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to make a full or read-only disk here (needs root): {mounted.stderr!r}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(directory: Path, leave: int = 0) -> None:
    """Fill the disk of ``directory``, leaving about ``leave`` bytes free."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    with contextlib.suppress(OSError), open(directory / "filler", "wb") as filler:
        filler.write(b"\0" * max(free - leave, 0))


def test_a_full_results_disk_is_named_before_training(tmp_path, tiny_protocol_file):
    with _tmpfs(tmp_path / "disk", 64) as disk:
        _fill(disk)
        line = _error_line(_run(tmp_path, tiny_protocol_file, "-s", "random", results=disk / "results"))
    assert line == (
        f"error: cannot write results to {disk / 'results'}: no space left on the device; free space "
        f"there or pass --results-dir DIR on another disk"
    )


def test_a_results_disk_that_fills_during_the_run_names_the_file_and_keeps_the_data(tmp_path, tiny_protocol_file):
    # Before: a C++ stream error from torch.save, without the path.
    with _tmpfs(tmp_path / "disk", 64) as disk:
        (disk / "results").mkdir()
        _fill(disk, leave=8 * 1024)  # room for the write check, not for a checkpoint
        result = _run(tmp_path, tiny_protocol_file, "-s", "random", results=disk / "results")
        leftovers = [p for p in (disk / "results").rglob("*") if p.is_file()]
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = _one_line(result.stderr)
    assert (
        f"cannot write {disk / 'results' / '.partial'}/" in message
        and ".pt: no space left on the device; free space there or pass --results-dir DIR on another disk" in message
    ), message
    assert leftovers == []  # no half-written file


def test_a_full_cache_disk_is_named_with_the_cache_option(tmp_path, tiny_protocol_file):
    # Before: "[Errno 28] No space left on device" without the path.
    with _tmpfs(tmp_path / "disk", 64) as disk:
        _fill(disk)
        line = _error_line(_run(tmp_path, tiny_protocol_file, "-s", "random", cache=disk / "cache"))
    assert line.startswith(f"error: cannot write the superpixel cache to {disk / 'cache'}")
    assert line.endswith(
        "no space left on the device; free space there or pass --cache-dir (or set "
        "ALBENCH_CACHE_DIR) DIR on another disk"
    )


def test_a_read_only_results_disk_is_named_before_training(tmp_path, tiny_protocol_file):
    with _tmpfs(tmp_path / "disk", 64, read_only=True) as disk:
        line = _error_line(_run(tmp_path, tiny_protocol_file, "-s", "random", results=disk))
    assert line.startswith(f"error: cannot write results to {disk}")
    assert line.endswith("read-only file system; pass --results-dir DIR with a directory you can write to")


# --- plugins -------------------------------------------------------------------------------------------

BROKEN_SELECT = """
from albench import Strategy, hookimpl


class Broken(Strategy):
    name = "broken"
    version = "1"

    def select(self, context):
        raise ZeroDivisionError("division by zero inside a plugin")


@hookimpl
def register_strategies(register):
    register(Broken)
"""


def _distribution(site: Path, name: str, module: str, source: str) -> None:
    """An installed plugin distribution: a module and its entry-point metadata, found as pip installs them."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[albench]\n{module} = {module}\n")


def test_a_strategy_that_raises_fails_its_run_alone(tmp_path, tiny_protocol_file, monkeypatch):
    # Before: a traceback, and `random` never ran. Now: the broken run fails with its traceback saved, the
    # grid goes on, and the summary names the failed run and the command that reruns it.
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "albench-broken-select", "albench_broken_select", BROKEN_SELECT)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "albench-broken-select")
    result = _run(tmp_path, tiny_protocol_file, "-s", "broken", "-s", "random")
    assert result.exit_code == 1 and "Traceback" not in result.output
    results = tmp_path / "results"
    (finished,) = results.glob("*.parquet")
    assert pq.read_table(finished).column("strategy").to_pylist()[0] == "random"
    (failed,) = (results / ".failed").glob("*.txt")
    assert "ZeroDivisionError: division by zero inside a plugin" in failed.read_text()
    assert "Traceback" in failed.read_text()
    message = _one_line(result.stderr)
    assert f"(run {failed.stem}): ZeroDivisionError: division by zero inside a plugin" in message
    assert f"2 runs: 1 completed, 1 failed 1 failed (tracebacks in {results / '.failed'}):" in message
    # The command rerunning only the failed run, rebuilt from the options as typed.
    assert "rerun only these with: albench run --strategy broken --strategy random" in message
    assert message.endswith(f"--only {failed.stem}")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "import sys\nsys.exit('licence server not reachable')\n",
            "SystemExit: the plugin called sys.exit('licence server not reachable')",
        ),
        ("raise KeyboardInterrupt\n", "KeyboardInterrupt: raised by the plugin itself"),
    ],
)
def test_a_plugin_that_exits_at_import_is_reported_by_name_and_distribution(tmp_path, monkeypatch, source, error):
    # Before: `albench plugins` and `albench run` exited 1 showing only the plugin's text.
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "albench-exit-at-import", "albench_exit_at_import", source)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "albench-exit-at-import")
    registry = Registry(load_plugins())
    (broken,) = registry.broken
    assert (broken.name, broken.distribution, broken.error) == (
        "albench_exit_at_import",
        "albench-exit-at-import",
        error,
    )
    listed = runner.invoke(app, ["plugins"])
    message = _one_line(listed.stderr)
    assert listed.exit_code == 0 and "1 plugin(s) failed to load" in message
    assert f"plugin 'albench_exit_at_import' (albench-exit-at-import 0.1): {error}" in message, message
    assert "oreal" in registry.names("strategy")  # the rest works


def test_a_real_ctrl_c_while_a_plugin_imports_still_stops_albench(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    _distribution(
        site, "albench-slow-import", "albench_slow_import", "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n"
    )  # the user presses Ctrl-C
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "albench-slow-import")
    with pytest.raises(KeyboardInterrupt):
        load_plugins()


# --- data ------------------------------------------------------------------------------------------------


def test_editing_a_mask_in_place_gives_a_new_run_id(tmp_path, folder_protocol):
    # Before: the same run id; the rerun said "skipped: results exist" and kept the old numbers.
    data = _folder(tmp_path / "data")
    first = _run(tmp_path, folder_protocol, "-s", "random", "--data-root", str(data))
    assert first.exit_code == 0, first.output
    mask_path = data / "masks" / "train" / "t0.png"
    mask = np.array(Image.open(mask_path))
    mask[mask == 1] = 2  # same name, same classes, different labels
    Image.fromarray(mask).save(mask_path)
    second = _run(tmp_path, folder_protocol, "-s", "random", "--data-root", str(data))
    assert second.exit_code == 0, second.output
    assert "skipped" not in second.stderr
    assert len(list((tmp_path / "results").glob("*.parquet"))) == 2


def test_a_dataset_whose_masks_are_all_ignore_is_an_error_before_training(tmp_path, folder_protocol):
    # Before: completed with mIoU nan, exit 0, no note.
    data = _folder(tmp_path / "data", all_ignore="train")
    line = _error_line(_run(tmp_path, folder_protocol, "-s", "random", "--data-root", str(data)))
    assert re.search(r"every pixel of the pool split of dataset 'folder' \(\d+ images, e\.g\. \S+\)", line), line
    assert "is ignore (255), so mIoU is undefined; check the masks' label values" in line


def test_an_evaluation_split_that_is_all_ignore_is_an_error(tmp_path, folder_protocol):
    data = _folder(tmp_path / "data", all_ignore="test")
    result = _run(tmp_path, folder_protocol, "-s", "random", "--data-root", str(data))
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = _one_line(result.stderr)
    assert re.search(
        r"every pixel of the evaluation split of dataset 'folder' \(3 images, e\.g\. \S+\) is ignore "
        r"\(255\), so mIoU is undefined",
        message,
    ), message
    assert not list((tmp_path / "results").glob("*.parquet"))


# --- memory ----------------------------------------------------------------------------------------------


def test_a_batch_that_cannot_fit_in_memory_fails_before_training(tmp_path, tiny_protocol_file):
    # Before: accepted; the process grew to 23 GB and the kernel killed it.
    result = _run(tmp_path, tiny_protocol_file, "-s", "random", "--set", "protocol.batch_size=100000000")
    message = _one_line(result.stderr)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "protocol.batch_size=100000000 needs about" in message
    assert re.search(
        r"GiB to train backbone 'tiny-deeplab' on 32×32 images \([\d.]+ MiB per image, measured\), "
        r"but cpu has [\d.]+ GiB available",
        message,
    ), message
    assert "GiB available; lower protocol.batch_size (about" in message
    assert not list((tmp_path / "results").glob("*.parquet"))
    assert not list((tmp_path / "cache").rglob("*.npz"))  # failed before the superpixels were computed


def test_the_training_memory_estimate_by_hand():
    # A 1×1 convolution from 3 to 2 channels on 4×4 images, cross-entropy. Per image, autograd saves the
    # convolution's input (3·16 float32 = 192 B), the log-softmax output (2·16 float32 = 128 B) and the
    # target (16 int64 = 128 B): 448 B. Once: the weight (2·3 float32 = 24 B) and the loss's total weight
    # (one float32, 4 B). Plus gradient and two Adam moments of the 8 parameters (3 · 32 B = 96 B).
    model = torch.nn.Conv2d(3, 2, kernel_size=1)
    estimate = training_memory(model, 10, 4, 4, 2)
    assert estimate is not None
    needed, per_image = estimate
    assert per_image == 448
    assert needed == 28 + 10 * 448 + 96


# --- kills -------------------------------------------------------------------------------------------------


def _values(path: Path) -> str:
    """The computed columns as canonical JSON (NaN written as NaN, so equal NaNs compare equal)."""
    table = pq.read_table(path)
    keep = [c for c in table.column_names if c not in ENVIRONMENT_COLUMNS]
    return json.dumps(table.select(keep).to_pylist(), sort_keys=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_run_killed_after_a_round_resumes_to_identical_values(tmp_path, sig):
    # This already held before (about 30 random kills in the issue); kept here as the table's last row.
    # Runs of 8 rounds: after the first checkpoint seven are left, so the kill lands mid-run on a fast machine.
    protocol_file = tmp_path / "faults.toml"
    protocol_file.write_text(FAULT_PROTOCOL_TOML)
    command = [
        sys.executable,
        "-c",
        "from albench.cli import main; main()",
        "run",
        "--protocol",
        str(protocol_file),
        "-s",
        "random",
        "-r",
        str(tmp_path / "killed"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    env = {**os.environ, "ALBENCH_LOAD_PLUGINS": ""}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "killed" / ".partial").glob("*.pt")) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.05)
    process.send_signal(sig)
    process.wait()
    assert not list((tmp_path / "killed").glob("*.parquet")), "the run finished before the kill"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run" in resumed.stderr
    clean = _run(tmp_path, protocol_file, "-s", "random", results=tmp_path / "clean")
    assert clean.exit_code == 0
    (killed_file,) = (tmp_path / "killed").glob("*.parquet")
    assert _values(killed_file) == _values(tmp_path / "clean" / killed_file.name)


def test_runs_checking_one_results_directory_at_once_do_not_trip_over_each_other(tmp_path):
    """The runs of a sweep (Ray, local workers) check the results directory at the same moment: each
    probe is a file of its own, so no check removes another's."""
    from concurrent.futures import ThreadPoolExecutor

    from albench.results.files import ensure_writable

    results = tmp_path / "results"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: [ensure_writable(results) for _ in range(200)], range(8)))
    assert list(results.iterdir()) == []  # no probe is left behind
