"""``endovis2018`` on seq_N/left_frames + seq_N/labels fixtures: colours → classes, labels.json, splits by
sequence, and the errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from albench_plugins.datasets.endovis import OFFICIAL_COLOURS, EndoVis2018, EndoVisParams
from dataset_fixtures import BOUNDARY, write_endovis_sequence

from albench.errors import DatasetError

SEQUENCES = (1, 2, 3, 4, 5, 6, 10)


@pytest.fixture
def flat_root(tmp_path: Path) -> Path:
    for number in SEQUENCES:
        write_endovis_sequence(tmp_path / f"seq_{number}", frames=2)
    return tmp_path


def _endovis(root: Path | None, **params) -> EndoVis2018:
    return EndoVis2018(EndoVisParams(**({"image_size": 20} | params)), root)


def test_metadata_and_official_colours():
    dataset = _endovis(None)
    assert dataset.num_classes == 12 and dataset.background_class == 0 and dataset.ignore_index == 255
    assert dataset.classes[0] == "background-tissue" and dataset.classes[11] == "ultrasound-probe"
    assert dict(OFFICIAL_COLOURS)["kidney-parenchyma"] == (255, 55, 0)
    assert dict(OFFICIAL_COLOURS)["instrument-clasper"] == (0, 255, 255)


def test_ids_in_natural_sequence_order(flat_root):
    ids = _endovis(flat_root).image_ids()
    assert ids[:4] == ["seq_1/frame000", "seq_1/frame001", "seq_2/frame000", "seq_2/frame001"]
    assert ids[-2:] == ["seq_10/frame000", "seq_10/frame001"] and len(ids) == 14


def test_colours_become_class_indices(flat_root):
    """Fixture: background-tissue (black) left, kidney-parenchyma (255, 55, 0) right → 0 | 4."""
    dataset = _endovis(flat_root)
    native = dataset._read_labels(dataset.record("seq_2/frame001"))
    assert native.shape == (30, 40) and (native[:, :BOUNDARY] == 0).all() and (native[:, BOUNDARY:] == 4).all()
    sample = dataset.load("seq_2/frame001")
    assert sample.image.shape == (20, 20, 3) and (sample.mask[:, :10] == 0).all() and (sample.mask[:, 10:] == 4).all()


def test_split_keeps_sequences_whole_and_measures_on_validation_without_a_test_set(flat_root):
    dataset = _endovis(flat_root)
    for seed in range(6):
        split = dataset.split(seed)
        val_sequences = {i.split("/")[0] for i in split.val}
        assert not val_sequences & {i.split("/")[0] for i in split.pool}
        assert split.test == () and split.evaluation == split.val
    assert set().union(*(set(dataset.split(s).val) for s in range(6))) == set(dataset.image_ids())


def test_split_by_frame(flat_root):
    split = _endovis(flat_root, split_by="frame").split(0)
    assert sorted(split.pool + split.val) == sorted(_endovis(flat_root).image_ids())
    assert len(split.val) in (2, 3)  # 14 frames dealt into 6 folds


def test_train_and_test_folders_and_release_subfolders(tmp_path):
    for number in range(1, 7):
        write_endovis_sequence(tmp_path / "train" / "release_1" / f"seq_{number}", frames=1)
    write_endovis_sequence(tmp_path / "test" / "seq_1", frames=2)
    split = _endovis(tmp_path).split(0)
    assert split.test == ("test/seq_1/frame000", "test/seq_1/frame001")
    assert sorted(split.pool + split.val) == [f"train/release_1/seq_{n}/frame000" for n in range(1, 7)]


def test_release_folders_in_the_root_with_a_test_folder_beside_them(tmp_path):
    for release, numbers in (("release_1", (1, 2, 3)), ("release_2", (4, 5, 6))):
        for number in numbers:
            write_endovis_sequence(tmp_path / release / f"seq_{number}", frames=1)
    write_endovis_sequence(tmp_path / "test" / "seq_1", frames=1)
    split = _endovis(tmp_path).split(0)
    assert split.test == ("test/seq_1/frame000",)
    assert len(split.pool) + len(split.val) == 6 and all(i.startswith("release_") for i in split.pool + split.val)


def test_a_sequence_labels_json_overrides_the_colours(flat_root):
    """seq_3's labels.json codes the ultrasound probe (class 11) as (10, 20, 30) and calls it "US probe"."""
    write_endovis_sequence(
        flat_root / "seq_3",
        frames=2,
        right=11,
        colours={11: (10, 20, 30)},
        labels_json=[
            {"name": "background-tissue", "color": [0, 0, 0], "classid": 0},
            {"name": "US probe", "color": [10, 20, 30], "classid": 11},
        ],
    )
    dataset = _endovis(flat_root)
    assert set(np.unique(dataset.load("seq_3/frame000").mask)) == {0, 11}
    assert set(np.unique(dataset.load("seq_4/frame000").mask)) == {0, 4}  # official colours elsewhere


def test_labels_json_change_changes_the_fingerprint(flat_root):
    labels_json = flat_root / "seq_1" / "labels.json"
    labels_json.write_text(
        '[{"name": "background-tissue", "color": [0, 0, 0]}, {"name": "kidney-parenchyma", "color": [255, 55, 0]}]'
    )
    dataset = _endovis(flat_root)
    before = dataset.fingerprint("seq_1/frame000")
    os.utime(labels_json, ns=(labels_json.stat().st_atime_ns, labels_json.stat().st_mtime_ns + 10**9))
    assert dataset.fingerprint("seq_1/frame000") != before


def test_unknown_colour_names_the_file_the_colour_and_the_pixel(flat_root):
    write_endovis_sequence(flat_root / "seq_5", frames=1, colours={4: (1, 2, 3)})
    label = flat_root / "seq_5" / "labels" / "frame000.png"
    with pytest.raises(
        DatasetError,
        match=rf"label file {label} has colour \(1, 2, 3\) at pixel \(row 0, column 20\), "
        r"which is not in the class colour map \(the official EndoVis 2018 colours\)",
    ):
        _endovis(flat_root).load("seq_5/frame000")


def test_labels_json_with_an_unknown_class(flat_root):
    labels_json = flat_root / "seq_2" / "labels.json"
    labels_json.write_text('[{"name": "gauze", "color": [1, 1, 1]}]')
    with pytest.raises(DatasetError, match=rf"{labels_json} names class 'gauze', which is not one of the EndoVis 2018"):
        _endovis(flat_root).load("seq_2/frame000")


def test_malformed_labels_json(flat_root):
    labels_json = flat_root / "seq_2" / "labels.json"
    labels_json.write_text('[{"name": "thread", "color": [1, 1]}]')
    with pytest.raises(DatasetError, match=rf"{labels_json}: entry .* needs a \"color\" of three integers"):
        _endovis(flat_root).load("seq_2/frame000")
    labels_json.write_text("{not json")
    with pytest.raises(DatasetError, match=rf"{labels_json} is not a readable JSON file"):
        _endovis(flat_root).load("seq_2/frame000")


def test_frame_without_label(flat_root):
    label = flat_root / "seq_6" / "labels" / "frame001.png"
    label.unlink()
    frame = flat_root / "seq_6" / "left_frames" / "frame001.png"
    with pytest.raises(DatasetError, match=rf"image {frame} has no mask: expected {label}"):
        _endovis(flat_root).split(0)


def test_no_sequences_and_a_sequence_without_frames(tmp_path):
    with pytest.raises(DatasetError, match=rf"dataset 'endovis2018' found no seq_\* folders in {tmp_path}"):
        _endovis(tmp_path).image_ids()
    (tmp_path / "seq_1" / "labels").mkdir(parents=True)
    with pytest.raises(DatasetError, match=rf"sequence {tmp_path / 'seq_1'} has no left_frames/ folder"):
        _endovis(tmp_path).image_ids()


def test_too_few_sequences_for_six_folds(tmp_path):
    for number in range(1, 4):
        write_endovis_sequence(tmp_path / f"seq_{number}", frames=2)
    with pytest.raises(DatasetError, match=r"dataset 'endovis2018' has 3 groups .* too few for a 6-fold split"):
        _endovis(tmp_path).split(0)
    assert len(_endovis(tmp_path, folds=3).split(0).val) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"crop_scale": (0.9,)}, "crop_scale must be two numbers"),
        ({"crop_scale": (0.9, 1.2)}, "crop_scale must be two numbers 0 < low <= high <= 1"),
        ({"crop_ratio": (1.5, 1.0)}, "crop_ratio must be two numbers 0 < low <= high"),
    ],
)
def test_bad_crop_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        EndoVisParams(**params)
