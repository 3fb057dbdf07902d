"""Synthetic data of a real working size for the benchmarks: the toy dataset's scenes, rendered once to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from albench_plugins.datasets.toy import render_scene

from albench.components import Dataset, Sample, Split

__all__ = ["SyntheticScenes"]


class SyntheticScenes(Dataset):
    """Toy scenes at a real working size, rendered once into ``directory`` (as a decoded-image cache would hold
    them), masks spread over ``classes`` ids; fingerprints from file stats, as the on-disk datasets'."""

    name = "synthetic-scenes"

    def __init__(self, directory: Path, size: int, classes: int, count: int) -> None:
        super().__init__(None)
        self.directory, self.size, self.count = directory, size, count
        self.classes = tuple(f"class-{i}" for i in range(classes))
        directory.mkdir(parents=True, exist_ok=True)
        for index, image_id in enumerate(self.image_ids()):
            if not (directory / f"{image_id}.npz").exists():
                scene = render_scene(index, size, scene_seed=0)
                mask = (scene.mask * 3 + index) % self.num_classes  # the 7 toy classes spread over every id
                np.savez(directory / f"{image_id}.npz", image=scene.image, mask=mask)

    def image_ids(self) -> list[str]:
        return [f"scene-{i:05d}" for i in range(self.count)]

    def load(self, image_id: str) -> Sample:
        with np.load(self.directory / f"{image_id}.npz") as data:
            return Sample(data["image"], data["mask"])

    def fingerprint(self, image_id: str) -> str:
        stat = (self.directory / f"{image_id}.npz").stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def split(self, seed: int) -> Split:
        ids = tuple(self.image_ids())
        return Split(pool=ids, val=ids[:1])
