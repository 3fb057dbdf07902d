"""``pascal-voc`` on a VOCdevkit fixture: classes, ids, splits, loaded values, SBD, every error naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from albench_plugins.datasets import _base
from albench_plugins.datasets.pascal_voc import PascalVoc, PascalVocParams
from dataset_fixtures import BOUNDARY, voc_class_of, write_voc
from PIL import Image

from albench.errors import DatasetError

TRAIN = [f"2007_{i:06d}" for i in range(1, 9)]
VAL = ["2008_000001", "2008_000002", "2008_000003"]


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    write_voc(tmp_path, TRAIN, VAL)
    return tmp_path


def _voc(root: Path | None, **params) -> PascalVoc:
    return PascalVoc(PascalVocParams(**({"image_size": 20} | params)), root)


def test_metadata():
    dataset = _voc(None)
    assert dataset.num_classes == 21 and dataset.classes[0] == "background" and dataset.classes[20] == "tvmonitor"
    assert dataset.ignore_index == 255 and dataset.background_class == 0


def test_ids_and_split(voc_root):
    dataset = _voc(voc_root)
    assert dataset.image_ids() == TRAIN + VAL
    split = dataset.split(0)
    assert split.test == tuple(VAL) and split.evaluation == tuple(VAL)
    assert sorted(split.pool + split.val) == TRAIN and not set(split.pool) & set(split.val)
    assert split == dataset.split(0) and split.val != dataset.split(1).val


@pytest.mark.parametrize("relative", ["", "VOCdevkit", "VOCdevkit/VOC2012"])
def test_the_three_data_root_forms(voc_root, relative):
    assert _voc(voc_root / relative if relative else voc_root).image_ids() == TRAIN + VAL


def test_loaded_sample_values(voc_root):
    """Palette mask: background left half, class 1 + position mod 20 right half, void boundary column.
    At 20×20 (from 40 wide), nearest picks source column 2j + 1, so the void column 20 is skipped."""
    dataset = _voc(voc_root)
    sample = dataset.load(TRAIN[2])
    assert sample.image.shape == (20, 20, 3) and sample.image.dtype == np.uint8
    assert sample.mask.shape == (20, 20) and sample.mask.dtype == np.int64
    assert (sample.mask[:, :10] == 0).all() and (sample.mask[:, 10:] == voc_class_of(2)).all()
    native = dataset._read_labels(dataset.record(TRAIN[2]))
    assert native.shape == (30, 40)
    assert (native[:, BOUNDARY] == 255).all() and native[0, BOUNDARY - 1] == 0 and native[0, BOUNDARY + 1] == 3


def test_the_image_colour_follows_the_label(voc_root):
    sample = _voc(voc_root).load(TRAIN[0])
    left, right = sample.image[:, :8].reshape(-1, 3).mean(0), sample.image[:, 12:].reshape(-1, 3).mean(0)
    assert np.abs(left - right).max() > 20


def test_sbd_augmented_training_set(tmp_path):
    """train_aug.txt lists train ids, extra SBD ids and (wrongly) a val id, which is dropped."""
    voc = write_voc(tmp_path, TRAIN[:6], VAL, aug=["2009_000001", "2009_000002"])
    dataset = _voc(tmp_path, train_set="train_aug")
    assert dataset.image_ids() == [*TRAIN[:6], "2009_000001", "2009_000002", *VAL]
    assert dataset.record("2009_000001").mask == voc / "SegmentationClassAug" / "2009_000001.png"
    assert dataset.record(VAL[0]).mask == voc / "SegmentationClass" / f"{VAL[0]}.png"
    assert set(np.unique(dataset.load("2009_000002").mask)) == {0, voc_class_of(len(TRAIN[:6]) + len(VAL) + 1)}


def test_fingerprint_follows_the_files_without_decoding_them(voc_root, monkeypatch):
    dataset = _voc(voc_root)
    before = dataset.fingerprint(TRAIN[0])

    def no_decoding(path):
        raise AssertionError("fingerprint decoded an image")

    monkeypatch.setattr(_base, "read_rgb_image", no_decoding)
    assert dataset.fingerprint(TRAIN[0]) == before != dataset.fingerprint(TRAIN[1])
    mask = voc_root / "VOCdevkit/VOC2012/SegmentationClass" / f"{TRAIN[0]}.png"
    stat = mask.stat()
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert dataset.fingerprint(TRAIN[0]) != before


def test_augment_keeps_shapes_and_is_seeded(voc_root):
    dataset = _voc(voc_root)
    image, target = torch.rand(3, 20, 20), torch.from_numpy(dataset.load(TRAIN[0]).mask)
    a = dataset.augment(image, target, torch.Generator().manual_seed(1))
    b = dataset.augment(image, target, torch.Generator().manual_seed(1))
    assert a[0].shape == (3, 20, 20) and a[1].shape == (20, 20)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# --- errors, each naming the file -----------------------------------------------------------------------------


def _voc_file(root: Path, folder: str, name: str) -> Path:
    return root / "VOCdevkit" / "VOC2012" / folder / name


def test_no_data_root():
    with pytest.raises(DatasetError, match=r"dataset 'pascal-voc' reads files from disk: pass --data-root DIR"):
        _voc(None).image_ids()


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match=rf"data root {tmp_path / 'nope'} of dataset 'pascal-voc' does not exist"):
        _voc(tmp_path / "nope").split(0)


def test_root_without_vocdevkit(tmp_path):
    with pytest.raises(DatasetError, match=rf"data root {tmp_path} of dataset 'pascal-voc' has no VOCdevkit/VOC2012"):
        _voc(tmp_path).image_ids()


def test_missing_split_file(voc_root):
    split_file = _voc_file(voc_root, "ImageSets/Segmentation", "train.txt")
    split_file.unlink()
    with pytest.raises(DatasetError, match=rf"split file {split_file} of dataset 'pascal-voc' does not exist"):
        _voc(voc_root).image_ids()


def test_missing_sbd_split_file(voc_root):
    split_file = _voc_file(voc_root, "ImageSets/Segmentation", "train_aug.txt")
    with pytest.raises(
        DatasetError, match=rf"split file {split_file} does not exist; train_set = 'train_aug' needs it"
    ):
        _voc(voc_root, train_set="train_aug").image_ids()


def test_image_without_mask(voc_root):
    mask = _voc_file(voc_root, "SegmentationClass", f"{TRAIN[3]}.png")
    mask.unlink()
    image = _voc_file(voc_root, "JPEGImages", f"{TRAIN[3]}.jpg")
    with pytest.raises(DatasetError, match=rf"image {image} has no mask: expected {mask}"):
        _voc(voc_root).split(0)


def test_listed_image_that_does_not_exist(voc_root):
    image = _voc_file(voc_root, "JPEGImages", f"{VAL[1]}.jpg")
    image.unlink()
    with pytest.raises(DatasetError, match=rf"image {image} \(image '{VAL[1]}'\) does not exist"):
        _voc(voc_root).image_ids()


def test_mask_of_another_size(voc_root):
    mask = _voc_file(voc_root, "SegmentationClass", f"{TRAIN[0]}.png")
    Image.fromarray(np.zeros((30, 20), dtype=np.uint8)).save(mask)
    image = _voc_file(voc_root, "JPEGImages", f"{TRAIN[0]}.jpg")
    with pytest.raises(DatasetError, match=rf"mask {mask} is 20×30 pixels but its image {image} is 40×30"):
        _voc(voc_root).load(TRAIN[0])


def test_label_value_outside_the_classes(voc_root):
    mask = _voc_file(voc_root, "SegmentationClass", f"{TRAIN[0]}.png")
    values = np.zeros((30, 40), dtype=np.uint8)
    values[0, 0], values[0, 1] = 21, 254
    Image.fromarray(values).save(mask)
    with pytest.raises(
        DatasetError,
        match=rf"mask {mask} has label values 21, 254 outside the 21 classes \(0..20\) "
        r"and the ignore value 255",
    ):
        _voc(voc_root).load(TRAIN[0])


def test_colour_mask_is_rejected(voc_root):
    mask = _voc_file(voc_root, "SegmentationClass", f"{TRAIN[0]}.png")
    Image.fromarray(np.zeros((30, 40, 3), dtype=np.uint8)).save(mask)
    with pytest.raises(DatasetError, match=rf"mask {mask} has mode 'RGB' \(3 channels\); masks must be single-channel"):
        _voc(voc_root).load(TRAIN[0])


def test_unreadable_image(voc_root):
    image = _voc_file(voc_root, "JPEGImages", f"{TRAIN[1]}.jpg")
    image.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=rf"image {image} is not a readable image"):
        _voc(voc_root).load(TRAIN[1])


def test_truncated_image(voc_root):
    image = _voc_file(voc_root, "JPEGImages", f"{TRAIN[1]}.jpg")
    image.write_bytes(image.read_bytes()[:200])
    with pytest.raises(DatasetError, match=rf"image {image} is not a readable image"):
        _voc(voc_root).load(TRAIN[1])


def test_unknown_image_id(voc_root):
    with pytest.raises(DatasetError, match=r"dataset 'pascal-voc' has no image 'nope'"):
        _voc(voc_root).load("nope")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"image_size": 4}, "image_size must be at least 8"),
        ({"folds": 1}, "folds must be at least 2"),
        ({"flip_probability": 1.5}, r"flip_probability must be in \[0, 1\]"),
        ({"zoom_max": -1}, "zoom_max must be at least 0"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        PascalVocParams(**params)
