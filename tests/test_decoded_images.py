"""The on-disk datasets keep decoded, resized samples in the run's cache: read back bit for bit, redone when a file
changes, and a run with the cache gives the numbers of a run without it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from albench_plugins.datasets import _base
from albench_plugins.datasets.pascal_voc import PascalVoc, PascalVocParams
from conftest import TINY_CONFIG
from dataset_fixtures import write_voc
from test_runner import _values
from typer.testing import CliRunner

from albench.cli import app
from albench.host.registry import load_registry
from albench.run.protocol import BenchmarkConfig, ComponentChoice
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run
from albench.run.superpixel_cache import image_cache_directory

TRAIN = [f"2007_{i:06d}" for i in range(1, 9)]
VAL = ["2008_000001", "2008_000002"]


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    write_voc(tmp_path, TRAIN, VAL)
    return tmp_path


def _voc(root: Path, cache: Path | None = None) -> PascalVoc:
    dataset = PascalVoc(PascalVocParams(image_size=40), root)  # the files' own size: the void column stays
    if cache is not None:
        dataset.use_cache(cache)
    return dataset


def _no_decoding(monkeypatch):
    def refuse(path):
        raise AssertionError(f"decoded {path}")

    monkeypatch.setattr(_base, "read_rgb_image", refuse)


def test_a_cached_sample_is_the_decoded_sample_and_needs_no_decoding(voc_root, tmp_path, monkeypatch):
    expected = _voc(voc_root).load(TRAIN[0])
    _voc(voc_root, tmp_path / "images").load(TRAIN[0])  # decodes and writes the entry
    _no_decoding(monkeypatch)
    cached = _voc(voc_root, tmp_path / "images").load(TRAIN[0])
    assert np.array_equal(cached.image, expected.image) and cached.image.dtype == np.uint8
    assert np.array_equal(cached.mask, expected.mask) and cached.mask.dtype == np.int64
    assert 255 in expected.mask  # the void border survives the byte-sized mask channel


def test_a_changed_file_is_decoded_again_and_its_old_entry_removed(voc_root, tmp_path):
    dataset = _voc(voc_root, tmp_path / "images")
    dataset.load(TRAIN[0])
    (first,) = (tmp_path / "images").glob("*.npz")
    mask = voc_root / "VOCdevkit/VOC2012/SegmentationClass" / f"{TRAIN[0]}.png"
    stat = mask.stat()
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    dataset.load(TRAIN[0])
    (second,) = (tmp_path / "images").glob("*.npz")
    assert second != first


def test_a_corrupt_entry_is_decoded_again(voc_root, tmp_path):
    dataset = _voc(voc_root, tmp_path / "images")
    expected = dataset.load(TRAIN[1])
    (entry,) = (tmp_path / "images").glob("*.npz")
    entry.write_bytes(b"not an array")
    assert np.array_equal(dataset.load(TRAIN[1]).image, expected.image)


def test_a_damaged_entry_fails_its_crc_and_is_decoded_again(voc_root, tmp_path):
    dataset = _voc(voc_root, tmp_path / "images")
    expected = dataset.load(TRAIN[1])
    (entry,) = (tmp_path / "images").glob("*.npz")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit inside the pixels: the archive still opens
    entry.write_bytes(bytes(data))
    assert np.array_equal(dataset.load(TRAIN[1]).image, expected.image)


def test_an_unwritable_cache_costs_a_decode_not_the_load(voc_root, tmp_path):
    (tmp_path / "images").write_text("a file where the cache directory should be")
    dataset = _voc(voc_root, tmp_path / "images")
    assert np.array_equal(dataset.load(TRAIN[0]).image, _voc(voc_root).load(TRAIN[0]).image)


def test_the_cache_directory_follows_the_datasets_content_digest(registry, voc_root, tmp_path):
    """A mask edited in place (same size, same modification time) never meets the entries of its old bytes."""

    def directory():
        config = BenchmarkConfig(dataset=ComponentChoice("pascal-voc", {"image_size": 20}))
        spec = resolve_run(registry, config, "random", 0, data_root=voc_root)
        dataset = registry.create("dataset", "pascal-voc", spec.dataset.params, root=voc_root).instance
        return image_cache_directory(tmp_path / "cache", dataset, spec.dataset)

    before = directory()
    mask = voc_root / "VOCdevkit/VOC2012/SegmentationClass" / f"{TRAIN[0]}.png"
    stat = mask.stat()
    data = bytearray(mask.read_bytes())
    data[-20] ^= 0x01
    mask.write_bytes(bytes(data))
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert directory() != before


def test_the_cache_directory_ignores_split_and_augmentation_parameters(registry, voc_root):
    def directory(**params):
        config = BenchmarkConfig(dataset=ComponentChoice("pascal-voc", {"image_size": 20, **params}))
        spec = resolve_run(registry, config, "random", 0, data_root=voc_root)
        return image_cache_directory(
            Path("/cache"),
            registry.create("dataset", "pascal-voc", spec.dataset.params, root=voc_root).instance,
            spec.dataset,
        )

    assert directory(zoom_max=10, folds=3) == directory()
    assert directory(image_size=24) != directory()


def test_a_run_with_the_image_cache_equals_one_without(voc_root, tmp_path):
    registry = load_registry(entry_points=False)
    config = BenchmarkConfig(
        protocol=TINY_CONFIG.protocol.replace(rounds=2),
        dataset=ComponentChoice("pascal-voc", {"image_size": 20}),
        backbone=TINY_CONFIG.backbone,
        superpixels=TINY_CONFIG.superpixels,
    )
    spec = resolve_run(registry, config, "oreal", 0, data_root=voc_root)
    cached = execute_run(spec, registry, RunOptions(tmp_path / "a", tmp_path / "ca", data_root=voc_root))
    assert list((tmp_path / "ca" / "images").glob("*/*.npz"))
    plain = execute_run(
        spec, registry, RunOptions(tmp_path / "b", tmp_path / "cb", data_root=voc_root, image_cache=False)
    )
    assert not (tmp_path / "cb" / "images").exists()
    assert _values(cached.table) == _values(plain.table)


def test_the_command_line_can_turn_the_image_cache_off(voc_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")
    settings = [
        "protocol.steps=1",
        "protocol.batch_size=2",
        "protocol.threads=1",
        "backbone.width=8",
        "superpixels.n_segments=16",
        "dataset.image_size=20",
    ]
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--dataset",
            "pascal-voc",
            "--data-root",
            str(voc_root),
            "-s",
            "random",
            "--rounds",
            "1",
            "--budget",
            "4",
            "-r",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-image-cache",
            *[x for s in settings for x in ("--set", s)],
        ],
    )
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "r").glob("*.parquet"))
    assert (tmp_path / "c" / "superpixels").is_dir() and not (tmp_path / "c" / "images").exists()
