"""`albench loop` end to end with a simulated annotator, its files and every error message.

The central test: three rounds of query → answer from the ground truth → import → train give the same
selections, confusion matrices and mIoU, bit for bit, as `albench run` with the same strategy, budget and seed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from albench.cli import app
from albench.loop.answers import read_answers
from albench.loop.cvat import cvat_rle, read_cvat, write_cvat
from albench.loop.labelstudio import labeling_config

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def cli(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def cli_fails(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    return result.output


@pytest.fixture
def example(tmp_path: Path, tiny_protocol_file: Path) -> Path:
    cli("loop", "example", tmp_path / "ex", "--protocol", tiny_protocol_file, "--seed", "0")
    return tmp_path / "ex"


@pytest.fixture
def loop(tmp_path: Path, example: Path, tiny_protocol_file: Path) -> Path:
    directory = tmp_path / "loop"
    cli(
        "loop",
        "init",
        directory,
        "--images",
        example / "images",
        "--classes",
        example / "classes.txt",
        "--protocol",
        tiny_protocol_file,
        "--seed",
        "0",
    )
    return directory


def one_round(loop: Path, example: Path, tmp_path: Path, number: int, val: bool = True) -> None:
    cli("loop", "query", loop, "--strategy", "oreal")
    export = tmp_path / f"export-{number}.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", export)
    cli("loop", "import", loop, export)
    cli("loop", "train", loop, *(["--val", example / "val"] if val else []))


def model_rows(loop: Path) -> list[dict]:
    return torch.load(loop / "model.pt", weights_only=True)["rows"]


def test_three_rounds_equal_albench_run_bit_for_bit(tmp_path, example, loop, tiny_protocol_file):
    for number in range(3):
        one_round(loop, example, tmp_path, number)
    cli(
        "run",
        "--protocol",
        tiny_protocol_file,
        "-s",
        "oreal",
        "--seed",
        "0",
        "--rounds",
        "3",
        "-r",
        tmp_path / "results",
        "--cache-dir",
        tmp_path / "cache",
    )
    (results,) = (tmp_path / "results").glob("*.parquet")
    benchmark = sorted(pq.read_table(results).to_pylist(), key=lambda r: r["round"])
    rows = model_rows(loop)
    assert len(rows) == len(benchmark) == 3
    for ours, theirs in zip(rows, benchmark):
        assert ours["added_image"] == theirs["added_image"]
        assert ours["added_superpixel"] == theirs["added_superpixel"]
        assert ours["val_confusion"] == theirs["confusion"]
        assert ours["val_miou"] == theirs["miou"]
        assert ours["clicks_spent"] == theirs["clicks_spent"]


def test_query_writes_label_studio_cvat_and_previews(loop):
    output = cli("loop", "query", loop, "--budget", "5")
    assert "round 0: 5 regions" in output
    round_dir = loop / "rounds" / "round-000"
    tasks = json.loads((round_dir / "label-studio" / "tasks.json").read_text())
    assert len(tasks) == 5
    assert all(t["data"]["image"].startswith("data:image/png;base64,") for t in tasks)
    selection = json.loads((round_dir / "selection.json").read_text())
    assert [(t["data"]["albench_image"], t["data"]["albench_superpixel"]) for t in tasks] == [
        (r["image"], r["superpixel"]) for r in selection["regions"]
    ]
    config = ET.fromstring((round_dir / "label-studio" / "config.xml").read_text())
    assert config.find("Choices").get("choice") == "single"
    cvat = ET.parse(round_dir / "cvat" / "annotations.xml").getroot()
    assert len(list(cvat.iter("mask"))) == 5
    for image in cvat.iter("image"):
        assert (round_dir / "cvat" / "images" / image.get("name")).is_file()
    previews = sorted((round_dir / "preview").glob("*.png"))
    assert len(previews) == len({r["image"] for r in selection["regions"]})
    with Image.open(previews[0]) as picture:
        assert min(picture.size) >= 384  # small images are enlarged so the outline stays visible


def test_weak_labels_ask_for_several_classes():
    root = ET.fromstring(labeling_config(["background", "cat"], multiple=True))
    choices = root.find("Choices")
    assert choices.get("choice") == "multiple"
    assert [c.get("value") for c in choices] == ["background", "cat"]


def test_reimporting_an_export_records_nothing_twice(tmp_path, example, loop):
    cli("loop", "query", loop)
    export = tmp_path / "export.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", export, "--annotator", "ann@example.com")
    assert "8 answers recorded, 0 already recorded" in cli("loop", "import", loop, export)
    assert "0 answers recorded, 8 already recorded" in cli("loop", "import", loop, export)
    answers = read_answers(loop / "labels.parquet")
    assert len(answers) == 8
    assert {a.annotator for a in answers} == {"ann@example.com"}
    assert all(a.answered_at and a.tool == "label-studio" for a in answers)


def test_a_bad_export_gives_one_message_per_problem_and_keeps_the_valid_answers(tmp_path, example, loop):
    cli("loop", "query", loop)
    export = tmp_path / "export.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", export)
    tasks = json.loads(export.read_text())
    valid = len(tasks) - 6
    tasks[0]["annotations"][0]["result"][0]["value"]["choices"] = ["kangaroo"]
    tasks[1]["annotations"][0]["result"][0]["value"]["choices"] = ["background", "disk"]
    tasks[2]["annotations"][0]["result"] = []
    tasks[3]["data"]["albench_superpixel"] = 10_000
    tasks[4]["data"]["albench_loop"] = "another"
    tasks[5]["annotations"] = []  # not answered yet: not a problem
    tasks.append({"id": 99, "data": {"image": "x.png"}, "annotations": []})
    export.write_text(json.dumps(tasks))
    result = runner.invoke(app, ["loop", "import", str(loop), str(export)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert len(lines) == 6, result.output
    for expected in (
        "'kangaroo' is not a class",
        "2 classes chosen",
        "no class chosen",
        "was not asked for",
        "belongs to another loop",
        "not an albench task",
    ):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    assert f"{valid - 0} answers recorded" in result.output and "1 tasks not answered yet" in result.output
    assert len(read_answers(loop / "labels.parquet")) == valid


def test_a_skipped_task_is_an_unlabelable_region(tmp_path, example, loop):
    cli("loop", "query", loop)
    export = tmp_path / "export.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", export)
    tasks = json.loads(export.read_text())
    tasks[0]["annotations"][0].update(was_cancelled=True, result=[])
    export.write_text(json.dumps(tasks))
    cli("loop", "import", loop, export)
    skipped = [a for a in read_answers(loop / "labels.parquet") if not a.classes]
    assert len(skipped) == 1
    assert "1 skipped as unlabelable" in cli("loop", "status", loop)


def test_import_errors_name_the_file(tmp_path, loop):
    assert "does not exist" in cli_fails("loop", "import", loop, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "no round" in cli_fails("loop", "import", loop, bad)
    cli("loop", "query", loop)
    assert f"{bad} is not JSON" in cli_fails("loop", "import", loop, bad)


def test_cvat_rle_by_hand():
    mask = np.zeros((4, 5), dtype=bool)
    mask[1, 1:3] = True
    mask[2, 2:4] = True
    # bounding box rows 1-2, columns 1-3: [1 1 0 / 0 1 1] → runs: 0 zeros, 2 ones, 2 zeros, 2 ones
    assert cvat_rle(mask) == ("0,2,2,2", 1, 1, 3, 2)
    mask = np.zeros((3, 3), dtype=bool)
    mask[0, 1] = mask[1, 0] = True  # box rows 0-1, cols 0-1: [0 1 / 1 0] → 1 zero, 2 ones, 1 zero
    assert cvat_rle(mask) == ("1,2,1", 0, 0, 2, 2)


def test_a_labeled_cvat_file_imports_with_its_problems(tmp_path):
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:3, 1:3] = True
    path = tmp_path / "annotations.xml"
    write_cvat(path, "t", ["background", "cat"], [("a", "a.png", (6, 6), [(0, mask), (1, mask), (2, mask), (3, mask)])])
    root = ET.parse(path).getroot()
    masks = list(root.iter("mask"))
    masks[0].set("label", "cat")
    masks[1].set("label", "dog")
    masks[2].set("label", "cat")
    extra = ET.SubElement(root.find("image"), "mask", dict(masks[2].attrib, label="background"))
    ET.SubElement(extra, "attribute", name="albench_region").text = "a#2"
    ET.ElementTree(root).write(path)
    asked = {("a", k): 0 for k in range(4)}
    reading = read_cvat(path, asked=asked, classes=["background", "cat"], multiple=False)
    assert [(a.superpixel, a.class_names) for a in reading.answers] == [(0, ("cat",))]
    assert len(reading.problems) == 2 and reading.unanswered == 1
    assert "'dog' is not a class" in reading.problems[0] and "dominant labels take one" in reading.problems[1]
    weak = read_cvat(path, asked=asked, classes=["background", "cat"], multiple=True)
    assert sorted((a.superpixel, a.class_names) for a in weak.answers) == [(0, ("cat",)), (2, ("background", "cat"))]


def test_status_and_predict(tmp_path, example, loop):
    one_round(loop, example, tmp_path, 0)
    output = cli("loop", "status", loop)
    assert "random (initial)" in output and "class-balance Gini" in output and "background" in output
    masks = tmp_path / "predicted"
    cli("loop", "predict", loop, "--out", masks)
    written = sorted(masks.glob("*.png"))
    assert len(written) == len(list((example / "images").glob("*.png")))
    with Image.open(written[0]) as picture:
        assert picture.size == (32, 32)
        assert np.array(picture).max() < 7


def test_loop_commands_explain_what_to_do_next(tmp_path, example, loop):
    assert "is not a loop directory" in cli_fails("loop", "status", tmp_path / "nowhere")
    assert "has not been queried yet" in cli_fails("loop", "train", loop)
    assert "no model yet" in cli_fails("loop", "predict", loop, "--out", tmp_path / "m")
    cli("loop", "query", loop)
    assert "already queried" in cli_fails("loop", "query", loop)
    assert "no answers to train on" in cli_fails("loop", "train", loop)
    assert "needs the ground truth" in cli_fails("loop", "query", loop, "--again", "--strategy", "full")
    assert "already a loop directory" in cli_fails(
        "loop", "init", loop, "--images", example / "images", "--classes", example / "classes.txt"
    )
    assert "expected" in cli_fails("loop", "train", loop, "--val", tmp_path)


def test_images_dataset_pools_unlabeled_images_and_evaluates_masked_ones(tmp_path, registry):
    (tmp_path / "img" / "sub").mkdir(parents=True)
    (tmp_path / "masks").mkdir()
    (tmp_path / "classes.txt").write_text("background\ncat\n")
    for name in ("a", "sub/b", "c"):
        Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "img" / f"{name}.jpg")
    Image.fromarray(np.ones((10, 12), np.uint8)).save(tmp_path / "masks" / "c.png")
    params = {"classes": str(tmp_path / "classes.txt"), "masks": str(tmp_path / "masks")}
    dataset = registry.create("dataset", "images", params, root=tmp_path / "img").instance
    split = dataset.split(0)
    assert split.pool == ("a", "sub/b") and split.evaluation == ("c",)
    assert (dataset.load("a").mask == 255).all() and (dataset.load("c").mask == 1).all()
    assert dataset.background_class == 0
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "img" / "d.png")
    fresh = registry.create("dataset", "images", params, root=tmp_path / "img").instance
    with pytest.raises(Exception, match="images of different sizes need a working size"):
        fresh.load("d")
    resized = registry.create("dataset", "images", {**params, "image_size": 16}, root=tmp_path / "img").instance
    assert resized.load("d").image.shape == (16, 16, 3)


def test_exports_of_two_rounds_with_equal_annotation_ids_and_times_are_both_recorded(tmp_path, example, loop):
    """Label Studio numbers annotations per server and stamps them to the second: two rounds exported within
    one second can carry the same ids and times, and are still different answers."""
    cli("loop", "query", loop, "--strategy", "oreal")
    first = tmp_path / "export-0.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", first)
    cli("loop", "import", loop, first)
    cli("loop", "train", loop)
    cli("loop", "query", loop, "--strategy", "oreal")
    second = tmp_path / "export-1.json"
    cli("loop", "answer", loop, "--masks", example / "masks", "--out", second)
    stamps = {t["id"]: t["annotations"][0]["updated_at"] for t in json.loads(first.read_text())}
    tasks = json.loads(second.read_text())
    for task in tasks:
        annotation = task["annotations"][0]
        annotation["created_at"] = annotation["updated_at"] = stamps[annotation["id"]]
    second.write_text(json.dumps(tasks))
    output = cli("loop", "import", loop, second)
    assert f"{len(tasks)} answers recorded, 0 already recorded" in output
    cli("loop", "train", loop)


def test_init_from_the_default_protocol_drops_early_stopping_and_keeps_unset_values(tmp_path, example):
    # the default protocol early-stops (patience 3), which needs a validation split a loop does not have
    from albench.run.protocol import DEFAULT_CONFIG, load_protocol_file

    directory = tmp_path / "default-loop"
    cli("loop", "init", directory, "--images", example / "images", "--classes", example / "classes.txt")
    protocol = load_protocol_file(directory / "protocol.toml").protocol
    assert DEFAULT_CONFIG.protocol.patience is not None and protocol.patience is None
    assert protocol.ema_decay == DEFAULT_CONFIG.protocol.ema_decay
    assert 'patience = "none"' in (directory / "protocol.toml").read_text()
