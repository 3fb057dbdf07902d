"""benchmarks/texture_scenes.py builds a valid ``folder`` dataset from scikit-image's bundled photographs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from albench_plugins.datasets.folder import FolderDataset, FolderParams

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "texture_scenes.py"


def _module():
    spec = importlib.util.spec_from_file_location("texture_scenes", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scenes_are_a_folder_dataset_with_a_held_out_test_split(tmp_path):
    scenes = _module()
    scenes.write(tmp_path / "scenes", train=6, test=2, size=32, seed=0)
    dataset = FolderDataset(FolderParams(image_size=32), tmp_path / "scenes")
    assert dataset.classes == scenes.CLASSES and dataset.background_class == 0
    split = dataset.split(0)
    assert split.test == ("test/0000", "test/0001") and len(split.pool) + len(split.val) == 6
    masks = [dataset.load(i).mask for i in dataset.image_ids()]
    assert all(m.shape == (32, 32) and m.max() < len(scenes.CLASSES) for m in masks)
    assert len(np.unique(np.concatenate([m.reshape(-1) for m in masks]))) >= 3  # background and objects
    # the same seed writes the same scenes
    scenes.write(tmp_path / "again", train=6, test=2, size=32, seed=0)
    assert (tmp_path / "scenes/images/train/0003.png").read_bytes() == (
        tmp_path / "again/images/train/0003.png"
    ).read_bytes()
