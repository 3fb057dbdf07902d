"""``folder`` on classes.txt + images/<split> + masks/<split> fixtures, with and without albench.toml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from albench_plugins.datasets.folder import FolderDataset, FolderParams
from dataset_fixtures import BOUNDARY, write_folder
from PIL import Image

from albench.errors import DatasetError

CLASSES = ("background", "tool", "tissue", "needle")
TRAIN = [f"img{i}" for i in range(8)]


def _folder(root: Path | None, **params) -> FolderDataset:
    return FolderDataset(FolderParams(**({"image_size": 20} | params)), root)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data", CLASSES, {"train": TRAIN, "val": ["v0", "v1"]})


def test_classes_background_and_ids_from_the_layout(root):
    dataset = _folder(root)
    assert dataset.classes == CLASSES and dataset.num_classes == 4 and dataset.background_class == 0
    assert dataset.ignore_index == 255
    assert dataset.image_ids() == [f"train/{i}" for i in TRAIN] + ["val/v0", "val/v1"]


def test_without_settings_the_val_folder_is_the_test_set(root):
    split = _folder(root).split(0)
    assert split.test == ("val/v0", "val/v1")
    assert sorted(split.pool + split.val) == sorted(f"train/{i}" for i in TRAIN)


def test_loaded_sample_values(root):
    """Image k: class 0 left, class 1 + k mod 3 right, void (255) boundary column."""
    dataset = _folder(root)
    native = dataset._read_labels(dataset.record("train/img4"))
    assert native[0, 0] == 0 and native[0, -1] == 1 + 4 % 3 and (native[:, BOUNDARY] == 255).all()
    sample = dataset.load("train/img4")
    assert sample.image.shape == (20, 20, 3) and (sample.mask[:, :10] == 0).all() and (sample.mask[:, 10:] == 2).all()


def test_settings_file_names_background_and_splits(tmp_path):
    root = write_folder(
        tmp_path,
        ("sky", "road", "car"),
        {"fit": TRAIN[:6], "holdout": ["h0"], "val": ["v0"]},
        settings='background = "road"\ntrain = "fit"\ntest = "holdout"\n',
        suffix=".jpg",
    )
    dataset = _folder(root)
    assert dataset.background_class == 1
    assert dataset.split(0).test == ("holdout/h0",) and "val/v0" not in dataset.image_ids()


def test_no_background_and_no_test_set(tmp_path):
    root = write_folder(
        tmp_path, ("a", "b"), {"train": TRAIN[:6], "test": ["t0"]}, settings="background = false\ntest = false\n"
    )
    dataset = _folder(root)
    assert dataset.background_class is None
    split = dataset.split(1)
    assert split.test == () and split.evaluation == split.val


def test_subfolders_are_groups(tmp_path):
    ids = [f"video{v}/frame{f}" for v in range(6) for f in range(3)]
    root = write_folder(tmp_path, CLASSES, {"train": ids})
    for seed in range(6):
        split = _folder(root).split(seed)
        assert len({i.split("/")[1] for i in split.val}) == 1 and len(split.val) == 3
    assert len(_folder(root, group_by_subfolder=False, folds=6).split(0).val) == 3  # 18 frames, 6 folds


@pytest.mark.parametrize("augmentation", ["resized-crop", "zoom-crop", "flip", "none"])
def test_each_augmentation_kind_is_seeded_and_keeps_shapes(root, augmentation):
    dataset = _folder(root, augmentation=augmentation)
    image, target = torch.rand(3, 20, 20), torch.from_numpy(dataset.load("train/img0").mask)
    a = dataset.augment(image, target, torch.Generator().manual_seed(3))
    b = dataset.augment(image, target, torch.Generator().manual_seed(3))
    assert a[0].shape == (3, 20, 20) and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    if augmentation == "none":
        assert torch.equal(a[1], target)


# --- errors, each naming the file -----------------------------------------------------------------------------


def test_missing_classes_file(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'classes.txt'} does not exist"):
        _folder(tmp_path).image_ids()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\n\nb\n", r"line 2 is empty"),
        ("a\nb\na\n", r"class names \['a'\] appear more than once"),
        ("only\n", r"names 1 classes; between 2 and 255"),
    ],
)
def test_bad_classes_file(tmp_path, text, message):
    (tmp_path / "classes.txt").write_text(text)
    with pytest.raises(DatasetError, match=rf"{tmp_path / 'classes.txt'}:? .*{message}"):
        _ = _folder(tmp_path).classes


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('backgruond = "x"\n', r"unknown key 'backgruond'; the keys are background, train, test"),
        ('background = "sky"\n', r"background = 'sky' is not a class in classes.txt"),
        ("train = 3\n", r"train must be the name of a folder under images/, got 3"),
        ('test = "train"\n', r"test must be false or the name of a folder under images/ other than the train split"),
        ("train = [\n", r"is not valid TOML"),
    ],
)
def test_bad_settings_file(root, settings, message):
    (root / "albench.toml").write_text(settings)
    with pytest.raises(DatasetError, match=rf"{root / 'albench.toml'}:? .*{message}"):
        _folder(root).image_ids()


def test_missing_split_folder(root):
    (root / "albench.toml").write_text('train = "training"\n')
    with pytest.raises(DatasetError, match=rf"split folder {root / 'images' / 'training'} does not exist"):
        _folder(root).image_ids()


def test_image_without_mask(root):
    mask = root / "masks" / "train" / "img5.png"
    mask.unlink()
    with pytest.raises(
        DatasetError, match=rf"image {root / 'images' / 'train' / 'img5.png'} has no mask: expected {mask}"
    ):
        _folder(root).split(0)


def test_mask_of_another_size(root):
    mask = root / "masks" / "train" / "img1.png"
    Image.fromarray(np.zeros((31, 40), dtype=np.uint8)).save(mask)
    with pytest.raises(DatasetError, match=rf"mask {mask} is 40×31 pixels but its image .*img1\.png is 40×30"):
        _folder(root).load("train/img1")


def test_label_value_outside_the_class_list(root):
    mask = root / "masks" / "train" / "img1.png"
    Image.fromarray(np.full((30, 40), 4, dtype=np.uint8)).save(mask)
    with pytest.raises(DatasetError, match=rf"mask {mask} has label values 4 outside the 4 classes \(0..3\)"):
        _folder(root).load("train/img1")


def test_unreadable_image(root):
    image = root / "images" / "train" / "img2.png"
    image.write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=rf"image {image} is not a readable image"):
        _folder(root).load("train/img2")


def test_two_images_with_one_id(root):
    Image.new("RGB", (40, 30)).save(root / "images" / "train" / "img3.jpg")
    with pytest.raises(DatasetError, match=r"dataset 'folder' has two images with id 'train/img3'"):
        _folder(root).image_ids()


def test_a_negative_zoom_is_refused():
    with pytest.raises(ValueError, match="zoom_max must be at least 0, got -5"):
        FolderParams(zoom_max=-5)
