"""The pool: every superpixel of the training images, numbered globally, and which are labeled.

Region ``r`` of pool image ``i`` with local id ``k`` has global id ``offsets[i] + k``. Per region the pool
keeps only a few small numbers from the ground truth (dominant class, number of classes present, size, and
the classes present as a bit set), so its memory grows with the number of superpixels, not pixels. It also sums the pool's dominant-label
confusion matrix (the label-quality ceiling of :mod:`albench.run.label_quality`) on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from albench.adjacency import RegionGraph
from albench.components.labeling import dominant_classes, dominant_confusion
from albench.run.progress import Progress
from albench.run.superpixel_cache import SuperpixelStore

__all__ = ["Pool"]


@dataclass
class Pool:
    """Global region bookkeeping for one run."""

    image_ids: tuple[str, ...]
    offsets: np.ndarray
    region_dominant: np.ndarray
    region_classes: np.ndarray
    region_size: np.ndarray
    num_classes: int
    ignore_index: int
    labeled: np.ndarray
    dominant_confusion: np.ndarray
    region_present_bits: np.ndarray
    _order: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def build(cls, store: SuperpixelStore, image_ids: tuple[str, ...], progress: Progress | None = None) -> Pool:
        """Summarise every pool image's regions (computing superpixels where the cache lacks them)."""
        dataset = store.dataset
        counts, dominant, present, size, bits = [], [], [], [], []
        confusion = np.zeros((dataset.num_classes, dataset.num_classes), dtype=np.int64)
        for entry in store.ensure(list(image_ids), progress):
            histogram = entry.histogram
            confusion += dominant_confusion(histogram, dataset.num_classes, dataset.ignore_index)
            counts.append(entry.num_regions)
            dominant.append(dominant_classes(histogram, dataset.ignore_index))
            present.append((histogram > 0).sum(axis=1))
            bits.append(np.packbits(histogram > 0, axis=1))
            size.append(np.bincount(entry.labels.reshape(-1), minlength=entry.num_regions))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(
            image_ids=image_ids,
            offsets=offsets,
            region_dominant=np.concatenate(dominant).astype(np.int64),
            region_classes=np.concatenate(present).astype(np.int64),
            region_size=np.concatenate(size).astype(np.int64),
            num_classes=dataset.num_classes,
            ignore_index=dataset.ignore_index,
            labeled=np.zeros(int(offsets[-1]), dtype=bool),
            dominant_confusion=confusion,
            region_present_bits=np.concatenate(bits),
        )

    @property
    def num_regions(self) -> int:
        return int(self.offsets[-1])

    @property
    def regions_per_image(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def region_image(self) -> np.ndarray:
        """``(R,)`` pool image index of every region."""
        return np.repeat(np.arange(len(self.image_ids), dtype=np.int64), self.regions_per_image)

    def locate(self, region_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pool image index, local superpixel id) of global region ids."""
        images = np.searchsorted(self.offsets, region_ids, side="right") - 1
        return images, region_ids - self.offsets[images]

    def global_ids(self, images: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`locate`."""
        return self.offsets[np.asarray(images, dtype=np.int64)] + np.asarray(local, dtype=np.int64)

    def mark_labeled(self, region_ids: np.ndarray) -> None:
        """Label ``region_ids`` (in that order, which :meth:`labeled_order` remembers)."""
        self.labeled[region_ids] = True
        self._order.append(np.asarray(region_ids, dtype=np.int64))

    def labeled_order(self) -> np.ndarray:
        """Every labeled region id, in the order the regions were labeled."""
        return np.concatenate(self._order) if self._order else np.empty(0, dtype=np.int64)

    def labeled_round(self) -> np.ndarray:
        """``(L,)``: the round whose query labeled each region of :meth:`labeled_order` (0: the initial set)."""
        rounds = [np.full(len(batch), index, dtype=np.int64) for index, batch in enumerate(self._order)]
        return np.concatenate(rounds) if rounds else np.empty(0, dtype=np.int64)

    def classes_present(self, region_ids: np.ndarray) -> np.ndarray:
        """``(n, C) bool``: the non-void classes in each of ``region_ids``."""
        bits = self.region_present_bits[np.asarray(region_ids, dtype=np.int64)]
        return np.unpackbits(bits, axis=1, count=self.num_classes).astype(bool)

    def labeled_class_counts(self) -> np.ndarray:
        """n_c: labeled regions per dominant ground-truth class (all-void regions count for none)."""
        dominant = self.region_dominant[self.labeled]
        return np.bincount(dominant[dominant < self.num_classes], minlength=self.num_classes).astype(np.int64)

    def graph(self, store: SuperpixelStore) -> RegionGraph:
        """The pool's region adjacency graph, read from the superpixel cache on first use."""
        return RegionGraph(
            self.num_regions,
            lambda: (
                (int(self.offsets[i]), store.get(image_id).adjacency) for i, image_id in enumerate(self.image_ids)
            ),
        )

    def labeled_by_image(self) -> dict[int, np.ndarray]:
        """Pool image index → local ids of its labeled regions, for images with at least one."""
        images, local = self.locate(np.flatnonzero(self.labeled))
        return {int(i): local[images == i] for i in np.unique(images)}
