"""``cityscapes`` on a leftImg8bit/gtFine fixture: labelIds → trainIds, void ignored, no background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from albench_plugins.datasets.cityscapes import LABEL_TO_TRAIN, Cityscapes, CityscapesParams
from dataset_fixtures import BOUNDARY, write_cityscapes
from PIL import Image

from albench.errors import DatasetError


@pytest.fixture
def city_root(tmp_path: Path) -> Path:
    return write_cityscapes(tmp_path, train={"aachen": 4, "bochum": 3}, val={"frankfurt": 2})


def _cityscapes(root: Path | None, **params) -> Cityscapes:
    return Cityscapes(CityscapesParams(**({"image_size": 20} | params)), root)


def test_metadata_has_19_classes_and_no_background():
    dataset = _cityscapes(None)
    assert dataset.num_classes == 19 and dataset.background_class is None and dataset.ignore_index == 255
    assert dataset.classes[:3] == ("road", "sidewalk", "building") and dataset.classes[-1] == "bicycle"


def test_label_id_table_hand_checked():
    """cityscapesScripts' table: road 7 → 0, car 26 → 13, bicycle 33 → 18; unlabeled 0, parking 9,
    caravan 29 → void (255)."""
    assert LABEL_TO_TRAIN[[7, 26, 33, 0, 9, 29]].tolist() == [0, 13, 18, 255, 255, 255]
    assert sorted(v for v in LABEL_TO_TRAIN.tolist() if v != 255) == list(range(19))


def test_ids_sorted_by_split_city_and_frame(city_root):
    ids = _cityscapes(city_root).image_ids()
    assert ids[:5] == [
        "train/aachen/aachen_000000_000000",
        "train/aachen/aachen_000000_000001",
        "train/aachen/aachen_000000_000002",
        "train/aachen/aachen_000000_000003",
        "train/bochum/bochum_000000_000000",
    ]
    assert ids[-2:] == ["val/frankfurt/frankfurt_000000_000000", "val/frankfurt/frankfurt_000000_000001"]


def test_split_uses_val_as_test(city_root):
    split = _cityscapes(city_root).split(2)
    assert split.test == ("val/frankfurt/frankfurt_000000_000000", "val/frankfurt/frankfurt_000000_000001")
    assert len(split.pool) + len(split.val) == 7 and len(split.val) in (1, 2)


def test_label_ids_become_train_ids(city_root):
    """Fixture: road (7) left, car (26) right, parking (9) on the boundary column, unlabeled (0) top-left
    and bicycle (33) top-right → trainIds 0 | 13, 255 boundary, 255 and 18 in the corners."""
    dataset = _cityscapes(city_root)
    native = dataset._read_labels(dataset.record("train/aachen/aachen_000000_000001"))
    assert native[1, 0] == 0 and native[1, -1] == 13 and (native[:, BOUNDARY] == 255).all()
    assert native[0, 0] == 255 and native[0, -1] == 18
    # At 20×20 nearest takes source columns 2j + 1 (1, 3, …, 39) and row 0 for row 0: the top-right bicycle
    # pixel survives, the top-left unlabeled pixel and the parking column 20 do not.
    sample = dataset.load("train/aachen/aachen_000000_000001")
    assert sample.mask.shape == (20, 20) and sample.mask[0, -1] == 18 and set(np.unique(sample.mask)) == {0, 13, 18}


def test_missing_folders(tmp_path):
    (tmp_path / "leftImg8bit" / "train").mkdir(parents=True)
    with pytest.raises(
        DatasetError,
        match=rf"dataset 'cityscapes' needs {tmp_path / 'leftImg8bit' / 'train'} and "
        rf"{tmp_path / 'gtFine' / 'train'}",
    ):
        _cityscapes(tmp_path).image_ids()


def test_image_without_label_file(city_root):
    label = city_root / "gtFine/train/bochum/bochum_000000_000002_gtFine_labelIds.png"
    label.unlink()
    with pytest.raises(
        DatasetError,
        match=r"bochum_000000_000002_leftImg8bit\.png has no mask: expected "
        rf"{label}",
    ):
        _cityscapes(city_root).image_ids()


def test_value_that_is_not_a_label_id(city_root):
    label = city_root / "gtFine/train/aachen/aachen_000000_000000_gtFine_labelIds.png"
    Image.fromarray(np.full((30, 40), 40, dtype=np.uint8)).save(label)
    with pytest.raises(DatasetError, match=rf"mask {label} has values \[40\] that are not Cityscapes labelIds"):
        _cityscapes(city_root).load("train/aachen/aachen_000000_000000")


def test_a_negative_zoom_is_refused():
    with pytest.raises(ValueError, match="zoom_max must be at least 0, got -1"):
        CityscapesParams(zoom_max=-1)
