"""The label-quality tool: superpixel counts and sizes, and the dominant-label mIoU ceiling, computed by hand
on a two-image dataset whose superpixels are chosen by hand, then through ``albench superpixels stats``."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import TINY_CONFIG
from typer.testing import CliRunner

import albench.cli.superpixels as superpixels_cli
from albench import Dataset, Sample, Split, SuperpixelMethod, hookimpl
from albench.cli import app
from albench.components.labeling import dominant_confusion
from albench.host.registry import load_registry
from albench.run.label_quality import label_quality
from albench.run.protocol import BenchmarkConfig, ComponentChoice
from albench.run.spec import resolve_run
from albench.run.superpixel_cache import SuperpixelStore

runner = CliRunner()

V = 255  # void
# Image "a": four 2×2 quadrants. Image "b": two 2×2 regions on top (the right one all void), one 2×4 below.
MASKS = {
    "a": np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 1, 1, 2], [0, 0, 2, 2]]),
    "b": np.array([[2, 2, V, V], [2, 1, V, V], [0, 0, 0, 0], [0, 0, 0, 0]]),
}
REGIONS = {
    "a": np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]),
    "b": np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 2]]),
}
# Dominant labels: a → 0, 1, 0 (one class-1 pixel lost), 2 (one class-1 pixel lost); b → 2 (one class-1 pixel
# lost), void (all void), 0. Confusion [ground truth, dominant label]:
#   class 0: 4 + 3 (a) + 8 (b) = 15 pixels → 0
#   class 1: 4 → 1; 1 → 0 (a, bottom left); 1 → 2 (a, bottom right); 1 → 2 (b, top left)
#   class 2: 3 → 2 (a); 3 → 2 (b)
CONFUSION = [[15, 0, 0], [1, 4, 2], [0, 0, 6]]
# IoU_c = TP / (GT + Pred − TP): 15 / (15 + 16 − 15) = 15/16; 4 / (7 + 4 − 4) = 4/7; 6 / (6 + 8 − 6) = 3/4
MIOU = (15 / 16 + 4 / 7 + 3 / 4) / 3  # = 253/336 ≈ 0.75298
MIOU_PAPER = (4 / 7 + 3 / 4) / 2  # background (class 0) left out: 37/56 ≈ 0.66071


@dataclass(frozen=True)
class HandParams:
    pass


class HandDataset(Dataset):
    """Two 4×4 images; the red channel carries the hand-chosen superpixel id."""

    name = "hand"
    Params = HandParams
    classes = ("background", "thing", "other")
    ignore_index = V
    background_class = 0

    def image_ids(self):
        return ["a", "b"]

    def load(self, image_id):
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        image[..., 0] = REGIONS[image_id]
        return Sample(image=image, mask=MASKS[image_id])

    def split(self, seed):
        return Split(pool=("a", "b"), val=("a",))


class RedChannel(SuperpixelMethod):
    """Superpixels read from the red channel."""

    name = "red-channel"
    Params = HandParams

    def segment(self, image):
        return image[..., 0].astype(np.int64)


class HandPlugin:
    @hookimpl
    def register_datasets(self, register):
        register(HandDataset)

    @hookimpl
    def register_superpixel_methods(self, register):
        register(RedChannel)


@pytest.fixture
def hand_registry():
    return load_registry(entry_points=False, extra=(HandPlugin(),))


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


def test_dominant_confusion_of_one_histogram_by_hand():
    histogram = np.array(
        [
            [3, 1, 0],  # → class 0: 3 px of 0 right, 1 px of 1 wrong
            [0, 2, 2],  # tie → lowest index (1): 2 px of 2 wrong
            [0, 0, 0],
        ]
    )  # all void: nothing
    assert dominant_confusion(histogram, 3, V).tolist() == [[3, 0, 0], [1, 2, 0], [0, 2, 0]]


def test_label_quality_of_the_hand_made_dataset(hand_registry, tmp_path):
    config = BenchmarkConfig(dataset=ComponentChoice("hand"), superpixels=ComponentChoice("red-channel"))
    spec = resolve_run(hand_registry, config, "random", 0)
    dataset = hand_registry.create("dataset", "hand").instance
    method = hand_registry.create("superpixels", "red-channel").instance
    store = SuperpixelStore(tmp_path, dataset, method, spec.dataset, spec.superpixels)
    quality = label_quality(store, ["a", "b"])
    assert quality.confusion.tolist() == CONFUSION
    assert quality.miou() == pytest.approx(MIOU)
    assert quality.miou("paper") == pytest.approx(MIOU_PAPER)
    assert quality.regions_per_image.tolist() == [4, 3]
    assert sorted(quality.region_sizes.tolist()) == [4, 4, 4, 4, 4, 4, 8]
    assert quality.region_sizes.mean() == pytest.approx(32 / 7)


def _stats(*args: str):
    return runner.invoke(app, ["superpixels", "stats", *args])


def test_stats_command_on_the_hand_made_dataset_json_and_table(hand_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(superpixels_cli, "load_registry", lambda: hand_registry)
    args = ["--dataset", "hand", "--superpixels", "red-channel", "--cache-dir", str(tmp_path), "--reference", "monarch"]
    result = _stats(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == 2 and data["regions"] == 7
    assert data["regions_per_image"] == {"mean": 3.5, "median": 3.5, "min": 3.0, "max": 4.0}
    assert data["region_size_px"]["mean"] == pytest.approx(32 / 7)
    assert data["region_size_px"]["median"] == 4.0 and data["region_size_px"]["max"] == 8.0
    assert data["dominant_miou_pct"]["standard"] == pytest.approx(100 * MIOU, abs=1e-4)
    assert data["dominant_miou_pct"]["paper"] == pytest.approx(100 * MIOU_PAPER, abs=1e-4)
    assert [(c["class"], c["pixels"]) for c in data["iou_pct"]] == [("background", 15), ("thing", 7), ("other", 6)]
    assert data["iou_pct"][1]["iou"] == pytest.approx(100 * 4 / 7, abs=1e-4)
    assert data["paper_ceiling"] == {"dataset": "MONARCH", "miou_pct": 82.3}
    assert [(r["image_id"], r["regions"], r["pixels"]) for r in data["per_image"]] == [("a", 4, 16), ("b", 3, 16)]
    table = _stats(*args)
    assert table.exit_code == 0, table.output
    text = table.stdout
    assert "2 images, 7 regions" in text
    assert "75.3" in text and "66.1" in text and "82.3" in text and "paper, MONARCH" in text
    assert "superpixel cache:" in table.stderr


def test_stats_on_the_toy_dataset_share_the_cache_with_runs(registry, tmp_path):
    settings = [
        "--set",
        "dataset.num_images=20",
        "--set",
        "dataset.image_size=32",
        "--set",
        "superpixels.n_segments=16",
    ]
    result = _stats(*settings, "--cache-dir", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    spec = resolve_run(registry, TINY_CONFIG, "random", 0)  # the same components a tiny run uses
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    store = SuperpixelStore(
        tmp_path,
        dataset,
        registry.create("superpixels", "slic", spec.superpixels.params).instance,
        spec.dataset,
        spec.superpixels,
    )
    assert data["cache"] == str(store.directory)
    pool = dataset.split(0).pool
    assert all(store.read(image_id) is not None for image_id in pool)  # a run now finds every entry cached
    assert data["images"] == len(pool) == 16
    assert data["regions"] == sum(r["regions"] for r in data["per_image"])
    assert data["paper_ceiling"] is None
    direct = label_quality(store, list(pool))
    assert data["dominant_miou_pct"]["standard"] == pytest.approx(100 * direct.miou(), abs=1e-4)
    table = _stats(*settings, "--cache-dir", str(tmp_path), "--max-images", "4")
    assert table.exit_code == 0, table.output
    assert "superpixels slic on toy · seed 0 pool: 4 images" in " ".join(table.stdout.split())


def test_stats_take_the_dataset_and_superpixels_from_a_protocol_file(tiny_protocol_file, tmp_path):
    result = _stats("--protocol", str(tiny_protocol_file), "--cache-dir", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dataset_params"]["num_images"] == 20 and data["superpixels_params"]["n_segments"] == 16


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "voc"], "unknown dataset 'voc'."),
        (["--superpixels", "slick"], "unknown superpixels 'slick'. Did you mean 'slic'?"),
        (
            ["--set", "superpixels.n_segments=many"],
            "superpixels 'slic': parameter 'n_segments' must be int, got 'many'",
        ),
        (["--set", "dataset.size=3"], "dataset 'toy' has no parameter 'size'"),
        (["--set", "backbone.width=3"], "superpixels stats only takes dataset.* and superpixels.* settings"),
        (["--reference", "voc"], "--reference 'voc': the paper reports ceilings for pascal-voc, endovis2018"),
        (["--protocol", "/no/such.toml"], "protocol file /no/such.toml does not exist"),
    ],
)
def test_stats_errors_are_one_clear_line(tmp_path, args, message):
    result = _stats("--cache-dir", str(tmp_path), *args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_stats_reject_formats_other_than_table_and_json(tmp_path):
    result = _stats("--cache-dir", str(tmp_path), "--format", "csv")
    assert result.exit_code == 2
    assert "'csv' is not one of 'table', 'json'" in " ".join(result.output.replace("│", " ").split())


def test_paper_ceilings_are_the_papers():
    from albench.run.label_quality import PAPER_CEILINGS

    assert {k: v.miou for k, v in PAPER_CEILINGS.items()} == {
        "pascal-voc": 93.7,
        "endovis2018": 83.3,
        "cityscapes": 74.6,
        "monarch": 82.3,
    }


def test_the_hand_made_masks_match_the_comment():
    """Guard the hand computation: every pixel is counted once (32 px, of which 4 void)."""
    assert sum(int((m != V).sum()) for m in MASKS.values()) == int(np.asarray(CONFUSION).sum()) == 28
