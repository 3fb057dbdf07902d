"""How good superpixels are as annotation units: region counts and sizes, and the dominant-label ceiling.

The ceiling (docs/protocol.md#labeling-schemes; the paper reports it for its superpixels) is the mIoU of the dominant-label map, every pixel given its
region's most frequent ground-truth class (void excluded), against the ground truth over the training pool:
what a model trained on every region could reach at best. The paper quotes it for its superpixels
(:data:`PAPER_CEILINGS`). It is computed from the cached per-region class histograms alone: region k with
dominant class d_k contributes its histogram row to column d_k of the confusion matrix,
confusion[c, d] = Σ_k histogram[k, c]·[d_k = d], so no image is read twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from albench.results.metrics import Convention, iou_per_class, mean_iou
from albench.results.paper import DATASETS, published
from albench.run.pool import Pool
from albench.run.progress import Progress
from albench.run.superpixel_cache import SuperpixelStore

__all__ = ["PAPER_CEILINGS", "LabelQuality", "PaperCeiling", "label_quality"]


@dataclass(frozen=True)
class PaperCeiling:
    """A dominant-label mIoU the paper reports for its superpixels, in percent."""

    dataset: str
    miou: float


# Keyed by albench dataset name; MONARCH is private and runs through `folder`, so it is asked for by key.
# The values are the paper's (albench.results.paper, Fig. 7's caption), stored once there.
PAPER_CEILINGS: dict[str, PaperCeiling] = {
    p.dataset: PaperCeiling(DATASETS[p.dataset], p.value) for p in published("dominant-label-miou")
}


@dataclass(frozen=True)
class LabelQuality:
    """Per-image region counts and pixel counts, every region's size, and the dominant-label confusion."""

    image_ids: tuple[str, ...]
    regions_per_image: np.ndarray
    pixels_per_image: np.ndarray
    region_sizes: np.ndarray
    confusion: np.ndarray
    background_class: int | None = None

    @property
    def num_regions(self) -> int:
        return int(self.regions_per_image.sum())

    def iou(self, convention: Convention = "standard") -> np.ndarray:
        return iou_per_class(self.confusion, convention)

    def miou(self, convention: Convention = "standard") -> float:
        """The dominant-label ceiling as a fraction; ``paper`` leaves the background out (the OREAL code)."""
        return mean_iou(self.confusion, convention, self.background_class)


def label_quality(store: SuperpixelStore, image_ids: Sequence[str], progress: Progress | None = None) -> LabelQuality:
    """Measure ``image_ids`` through the superpixel cache (computing missing entries, as a run would).

    The pass over the cache is the one a run makes to build its pool (:meth:`albench.run.pool.Pool.build`).
    """
    pool = Pool.build(store, tuple(image_ids), progress)
    return LabelQuality(
        image_ids=pool.image_ids,
        regions_per_image=pool.regions_per_image,
        pixels_per_image=np.add.reduceat(pool.region_size, pool.offsets[:-1]),
        region_sizes=pool.region_size,
        confusion=pool.dominant_confusion,
        background_class=store.dataset.background_class,
    )
