"""The loop against the real tools: a Label Studio server on the loopback, and datumaro reading the CVAT XML.

The tools live in their own venv (label-studio pins pyarrow<25 and datumaro pins pillow~=12, both older than
ours): ``.tools/label-studio`` (made by ``.ci/run``) or ``$ALBENCH_LABEL_STUDIO_VENV``. The test drives the
server with ``label-studio-sdk`` from that venv (tests/tools/labelstudio_driver.py), answering each task with
the toy dataset's ground truth as an annotator would; the same loop with the simulated annotator and no
server must give the same labels, the same model (every weight, bit for bit) and the same next query.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from integration import require
from test_loop import cli

from albench.host.registry import load_registry
from albench.loop.session import LoopSession
from albench.loop.workspace import Workspace

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
TOOLS = Path(os.environ.get("ALBENCH_LABEL_STUDIO_VENV", REPO / ".tools" / "label-studio"))
WHY = f"the Label Studio tools venv; create it with: python3 -m venv {TOOLS} && {TOOLS}/bin/pip install label-studio==1.23.2 datumaro==1.13.3"
TOKEN = "albench-test-token-0123456789"


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def label_studio(tmp_path: Path) -> Iterator[str]:
    """A fresh server (temporary data directory, no network, legacy token) that stops with the test."""
    require(str(TOOLS / "bin" / "label-studio"), WHY)
    data, port = tmp_path / "label-studio-data", _free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    log = (tmp_path / "label-studio.log").open("wb")
    server = subprocess.Popen(
        [
            str(TOOLS / "bin" / "label-studio"),
            "start",
            "--no-browser",
            "--data-dir",
            str(data),
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--username",
            "annotator@example.com",
            "--password",
            "albench-test",
            "--user-token",
            TOKEN,
            "--enable-legacy-api-token",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a fresh data directory migrates its database first (~1 min)
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Label Studio did not start: {(tmp_path / 'label-studio.log').read_text()[-2000:]}")
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _tools_python(*args: str | Path) -> str:
    done = subprocess.run([str(TOOLS / "bin" / "python"), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _label_in_label_studio(url: str, loop: Path, example: Path, round_index: int, tmp_path: Path) -> Path:
    """Answer the round's tasks through the server's API with the ground truth, export them as JSON."""
    truth = tmp_path / f"truth-{round_index}.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", truth)
    answers = {}
    for task in json.loads(truth.read_text()):
        result = task["annotations"][0]["result"]
        answers[task["data"]["albench_region"]] = result[0]["value"]["choices"] if result else []
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    studio = loop / "rounds" / f"round-{round_index:03d}" / "label-studio"
    export = tmp_path / f"label-studio-export-{round_index}.json"
    _tools_python(
        REPO / "tests" / "tools" / "labelstudio_driver.py",
        url,
        TOKEN,
        studio / "config.xml",
        studio / "tasks.json",
        tmp_path / "answers.json",
        export,
    )
    return export


def _loop(tmp_path: Path, name: str, example: Path, protocol: Path) -> Path:
    directory = tmp_path / name
    cli(
        "loop",
        "init",
        directory,
        "--images",
        example / "images",
        "--classes",
        example / "classes.txt",
        "--protocol",
        protocol,
        "--seed",
        "0",
    )
    return directory


def test_label_studio_loop_equals_the_simulated_annotator_bit_for_bit(tmp_path, label_studio, tiny_protocol_file):
    example = tmp_path / "example"
    cli("loop", "example", example, "--protocol", tiny_protocol_file)
    studio, simulated = (_loop(tmp_path, n, example, tiny_protocol_file) for n in ("studio", "simulated"))
    for round_index in range(2):
        for loop in (studio, simulated):
            cli("loop", "query", loop, "--strategy", "oreal")
        export = _label_in_label_studio(label_studio, studio, example, round_index, tmp_path)
        assert "0 problems" in cli("loop", "import", studio, export)
        assert "already recorded" in cli("loop", "import", studio, export)
        truth = tmp_path / f"simulated-{round_index}.json"
        cli("loop", "answer", simulated, "--masks", example / "masks", "--out", truth)
        cli("loop", "import", simulated, truth)
        for loop in (studio, simulated):
            cli("loop", "train", loop, "--val", example / "val")
    for loop in (studio, simulated):
        cli("loop", "query", loop, "--strategy", "oreal")

    labels = [pq.read_table(loop / "labels.parquet").to_pylist() for loop in (studio, simulated)]
    key = ("round", "image_id", "superpixel", "classes")
    assert [tuple(r[k] for k in key) for r in labels[0]] == [tuple(r[k] for k in key) for r in labels[1]]
    assert {r["annotator"] for r in labels[0]} == {"user 1"}  # the JSON export names annotators by user id
    assert all(r["answered_at"].startswith("20") for r in labels[0])
    models = [torch.load(loop / "model.pt", weights_only=True) for loop in (studio, simulated)]
    for ours, theirs in zip(models[0]["stages"], models[1]["stages"]):
        assert ours["model"].keys() == theirs["model"].keys()
        assert all(torch.equal(ours["model"][k], theirs["model"][k]) for k in ours["model"])
    assert [r["val_miou"] for r in models[0]["rows"]] == [r["val_miou"] for r in models[1]["rows"]]
    selections = [
        json.loads((loop / "rounds" / "round-002" / "selection.json").read_text()) for loop in (studio, simulated)
    ]
    assert selections[0]["regions"] == selections[1]["regions"]


def test_datumaro_reads_the_cvat_selection_back(tmp_path, tiny_protocol_file):
    require(str(TOOLS / "bin" / "python"), WHY)
    example = tmp_path / "example"
    cli("loop", "example", example, "--protocol", tiny_protocol_file)
    loop = _loop(tmp_path, "loop", example, tiny_protocol_file)
    cli("loop", "query", loop)
    cvat = loop / "rounds" / "round-000" / "cvat"
    read = json.loads(_tools_python(REPO / "tests" / "tools" / "datumaro_read_cvat.py", cvat))
    assert read["formats"] == ["cvat"]
    selection = json.loads((loop / "rounds" / "round-000" / "selection.json").read_text())
    assert sorted(s["region"] for s in read["shapes"]) == sorted(
        f"{r['image']}#{r['superpixel']}" for r in selection["regions"]
    )
    session = LoopSession(Workspace(loop), load_registry(entry_points=False))
    for shape in read["shapes"]:
        image_id, _, superpixel = shape["region"].rpartition("#")
        superpixels = session.run.store.get(image_id).labels
        assert shape["label"] == "unlabeled" and shape["size"] == list(superpixels.shape)
        assert shape["pixels"] == np.flatnonzero(superpixels.reshape(-1) == int(superpixel)).tolist()
