"""The tiny built-in pool every check runs on: a few synthetic scenes, their regions and a softmax per pixel.

Nothing here is read from disk or downloaded; everything is drawn from one seed, so a check gives the same
verdict on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from albench.components import RegionLabels, Sample, dominant_classes
from albench.run.superpixel_cache import class_histogram, region_adjacency

__all__ = ["IGNORE_INDEX", "NUM_CLASSES", "TinyPool", "block_regions", "tiny_pool", "tiny_scenes"]

NUM_CLASSES = 4  # background 0 and three object classes
IGNORE_INDEX = 255


def tiny_scenes(count: int = 3, height: int = 20, width: int = 28, seed: int = 0) -> list[Sample]:
    """``count`` scenes: a background (class 0), one to three rectangles of classes 1–3 and a few void pixels.

    Images are ``(H, W, 3) uint8``, a colour per class plus noise; masks ``(H, W) int64``. The sizes are
    odd on purpose (not multiples of 8 or 16), as real images are.
    """
    rng = np.random.default_rng(seed)
    palette = np.array([[40, 60, 40], [200, 40, 40], [40, 40, 200], [220, 200, 40]])
    samples = []
    for _ in range(count):
        mask = np.zeros((height, width), dtype=np.int64)
        for _object in range(int(rng.integers(1, 4))):
            top, left = int(rng.integers(0, height - 5)), int(rng.integers(0, width - 5))
            h, w = int(rng.integers(4, height // 2 + 2)), int(rng.integers(4, width // 2 + 2))
            mask[top : top + h, left : left + w] = int(rng.integers(1, NUM_CLASSES))
        mask[rng.random((height, width)) < 0.02] = IGNORE_INDEX
        colour = palette[np.where(mask == IGNORE_INDEX, 0, mask)]
        image = np.clip(colour + rng.integers(-25, 26, size=(height, width, 3)), 0, 255).astype(np.uint8)
        samples.append(Sample(image=image, mask=mask))
    return samples


def block_regions(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``(H, W) int64`` regions 0..K-1: a grid with random cut positions, so regions differ in size."""
    rows = np.sort(rng.choice(np.arange(2, height - 1), size=3, replace=False))
    cols = np.sort(rng.choice(np.arange(2, width - 1), size=4, replace=False))
    row_band = np.searchsorted(rows, np.arange(height), side="right")
    col_band = np.searchsorted(cols, np.arange(width), side="right")
    return (row_band[:, None] * (len(cols) + 1) + col_band[None, :]).astype(np.int64)


@dataclass(frozen=True)
class TinyPool:
    """Scenes, their regions (numbered globally image by image, as a run numbers them) and a softmax.

    ``probs`` is ``(N, C, H, W) float32``, what a model's softmax would give: random, but smooth enough
    within a region that the region statistics are not all alike.
    """

    samples: list[Sample]
    regions: list[RegionLabels]
    probs: torch.Tensor
    offsets: np.ndarray
    edges: np.ndarray
    num_classes: int = NUM_CLASSES
    background_class: int | None = 0
    ignore_index: int = IGNORE_INDEX

    @property
    def num_regions(self) -> int:
        return int(self.offsets[-1])

    @property
    def maps(self) -> torch.Tensor:
        """``(N, H, W) int64`` local region ids, as the engine takes them."""
        return torch.from_numpy(np.stack([r.superpixels for r in self.regions]))

    @property
    def regions_per_image(self) -> list[int]:
        return np.diff(self.offsets).tolist()  # type: ignore[no-any-return]

    @property
    def region_image(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.regions), dtype=np.int64), np.diff(self.offsets))

    @property
    def region_sizes(self) -> np.ndarray:
        return np.concatenate([np.bincount(r.superpixels.ravel(), minlength=len(r.histogram)) for r in self.regions])

    @property
    def dominant(self) -> np.ndarray:
        """``(R,)`` each region's dominant ground-truth class (``ignore_index`` when all void)."""
        return np.concatenate([dominant_classes(r.histogram, self.ignore_index) for r in self.regions])

    @property
    def classes_present(self) -> np.ndarray:
        """``(R,)`` how many classes each region contains: what a weak (multi-class) label costs."""
        return np.concatenate([(r.histogram > 0).sum(axis=1) for r in self.regions]).astype(np.int64)


def tiny_pool(seed: int = 0, count: int = 3) -> TinyPool:
    """The pool every strategy and labeling-scheme check uses (about 60 regions of 1–3 classes each)."""
    rng = np.random.default_rng(seed)
    samples = tiny_scenes(count, seed=seed)
    regions, edges, offsets = [], [], [0]
    for sample in samples:
        labels = block_regions(sample.mask.shape[0], sample.mask.shape[1], rng)
        histogram = class_histogram(labels, sample.mask, int(labels.max()) + 1, NUM_CLASSES)
        regions.append(RegionLabels(labels, sample.mask, histogram, IGNORE_INDEX))
        edges.append(region_adjacency(labels).astype(np.int64) + offsets[-1])
        offsets.append(offsets[-1] + len(histogram))
    height, width = samples[0].mask.shape
    logits = rng.normal(0.0, 1.5, (count, NUM_CLASSES, height // 4 + 1, width // 4 + 1))
    coarse = torch.from_numpy(logits).repeat_interleave(4, -2).repeat_interleave(4, -1)[..., :height, :width]
    probs = torch.softmax(coarse + torch.from_numpy(rng.normal(0.0, 0.3, coarse.shape)), dim=1).to(torch.float32)
    return TinyPool(samples, regions, probs, np.asarray(offsets, dtype=np.int64), np.concatenate(edges))
