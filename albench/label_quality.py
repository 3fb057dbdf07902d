"""How good superpixels are as annotation units: region counts and sizes, and the dominant-label ceiling.

The ceiling (SPEC.md §Labeling schemes, Dominant) is the mIoU of the dominant-label map, every pixel given its
region's most frequent ground-truth class (void excluded), against the ground truth over the training pool:
what a model trained on every region could reach at best. The paper quotes it for its superpixels
(:data:`PAPER_CEILINGS`). It is computed from the cached per-region class histograms alone: region k with
dominant class d_k contributes its histogram row to column d_k of the confusion matrix,
confusion[c, d] = Σ_k histogram[k, c]·[d_k = d], so no image is read twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from albench.components.labeling import dominant_classes
from albench.metrics import Convention, iou_per_class, mean_iou
from albench.paper import DATASETS, published
from albench.progress import Progress
from albench.superpixel_cache import SuperpixelEntry, SuperpixelStore

__all__ = ["PAPER_CEILINGS", "LabelQuality", "PaperCeiling", "dominant_confusion", "label_quality", "measure"]


@dataclass(frozen=True)
class PaperCeiling:
    """A dominant-label mIoU the paper reports for its superpixels, in percent."""

    dataset: str
    miou: float


# Keyed by albench dataset name; MONARCH is private and runs through `folder`, so it is asked for by key.
# The values are the paper's (albench.paper, Fig. 7's caption), stored once there.
PAPER_CEILINGS: dict[str, PaperCeiling] = {
    p.dataset: PaperCeiling(DATASETS[p.dataset], p.value) for p in published("dominant-label-miou")
}


def dominant_confusion(histogram: np.ndarray, num_classes: int, ignore_index: int) -> np.ndarray:
    """``(C, C)`` pixel counts of (ground truth, dominant label) for one image's ``(K, C)`` class histogram.

    All-void regions (empty rows) contribute nothing: their pixels are void in the ground truth too.
    """
    dominant = dominant_classes(histogram, ignore_index)
    labeled = histogram.sum(axis=1) > 0
    onehot = np.eye(num_classes, dtype=np.int64)[dominant[labeled]]
    return histogram[labeled].astype(np.int64).T @ onehot  # type: ignore[no-any-return]


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

    def mean_region_size(self) -> float:
        """Mean pixels per region over all regions: total pixels / total regions."""
        return float(self.pixels_per_image.sum() / self.num_regions) if self.num_regions else float("nan")

    def iou(self, convention: Convention = "standard") -> np.ndarray:
        return iou_per_class(self.confusion, convention)

    def miou(self, convention: Convention = "standard") -> float:
        """The dominant-label ceiling as a fraction; ``paper`` leaves the background out (the OREAL code)."""
        return mean_iou(self.confusion, convention, self.background_class)


def measure(image_ids: Sequence[str], entries: Iterable[SuperpixelEntry], num_classes: int, ignore_index: int,
            background_class: int | None = None) -> LabelQuality:
    """:class:`LabelQuality` of cached superpixel entries (one per id, in order)."""
    counts, pixels, sizes = [], [], []
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for entry in entries:
        counts.append(entry.num_regions)
        pixels.append(entry.labels.size)
        sizes.append(np.bincount(entry.labels.reshape(-1), minlength=entry.num_regions))
        confusion += dominant_confusion(entry.histogram, num_classes, ignore_index)
    return LabelQuality(
        image_ids=tuple(image_ids),
        regions_per_image=np.asarray(counts, dtype=np.int64),
        pixels_per_image=np.asarray(pixels, dtype=np.int64),
        region_sizes=np.concatenate(sizes).astype(np.int64) if sizes else np.zeros(0, dtype=np.int64),
        confusion=confusion,
        background_class=background_class,
    )


def label_quality(store: SuperpixelStore, image_ids: Sequence[str], progress: Progress | None = None) -> LabelQuality:
    """Measure ``image_ids`` through the superpixel cache (computing missing entries, as a run would)."""
    dataset = store.dataset
    return measure(image_ids, store.ensure(list(image_ids), progress), dataset.num_classes, dataset.ignore_index,
                   dataset.background_class)
