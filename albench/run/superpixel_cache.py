"""Superpixels computed once per image and cached on disk, with each region's ground-truth class histogram.

The cache directory is keyed by the dataset and superpixel method (names, parameters, versions; not the
dataset's ``split_and_augmentation_params``, which never change an image). Each image has one ``.npz``
entry holding its region map, the class histogram of every region (the oracle's view, used by the labeling
scheme), the region adjacency graph and the image's fingerprint. An entry that does not load, does not
match its key, or whose image changed since (fingerprint) is recomputed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from albench._atomic import atomic_write
from albench.components import Dataset, SuperpixelMethod
from albench.errors import ComponentError, StorageError, os_error_message
from albench.run.progress import NullProgress, Progress
from albench.run.spec import ComponentSpec, canonical_hash

__all__ = ["SuperpixelEntry", "SuperpixelStore", "class_histogram", "region_adjacency", "relabel_contiguous"]


@dataclass(frozen=True)
class SuperpixelEntry:
    """One image's regions: ``labels (H, W) int32`` ids 0..K-1, ``histogram (K, C) int64`` and
    ``adjacency (E, 2) int32``, the pairs (a < b) of regions that touch (4-connectivity)."""

    labels: np.ndarray
    histogram: np.ndarray
    adjacency: np.ndarray

    @property
    def num_regions(self) -> int:
        return int(self.histogram.shape[0])


def relabel_contiguous(labels: np.ndarray) -> np.ndarray:
    """Renumber region labels to 0..K-1 in order of first appearance in raster order (deterministic)."""
    flat = labels.reshape(-1)
    _, first_index, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first_index))
    return rank[inverse].reshape(labels.shape).astype(np.int32)


def class_histogram(labels: np.ndarray, mask: np.ndarray, num_regions: int, num_classes: int) -> np.ndarray:
    """``(K, C)`` pixel counts of each class in each region, void (any value outside 0..C-1) excluded."""
    valid = (mask >= 0) & (mask < num_classes)
    flat = labels[valid].astype(np.int64) * num_classes + mask[valid].astype(np.int64)
    return np.bincount(flat, minlength=num_regions * num_classes).reshape(num_regions, num_classes)


def region_adjacency(labels: np.ndarray) -> np.ndarray:
    """``(E, 2) int32`` sorted unique pairs (a < b) of regions with 4-connected neighbouring pixels."""
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=1),
    ]
    edges = np.concatenate(pairs)
    edges = np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1)
    return np.unique(edges, axis=0).astype(np.int32).reshape(-1, 2)


# What to do when the cache cannot be written, by errno (else the generic advice for that error).
CACHE_FIX = {
    errno.ENOSPC: "free space there, or pass --cache-dir DIR (or set ALBENCH_CACHE_DIR) on another disk",
    errno.EDQUOT: "free space there, or pass --cache-dir DIR (or set ALBENCH_CACHE_DIR) on another disk",
    errno.EACCES: "pass --cache-dir DIR (or set ALBENCH_CACHE_DIR) with a directory you can write to",
    errno.EROFS: "pass --cache-dir DIR (or set ALBENCH_CACHE_DIR) with a directory you can write to",
}


def _save_entry(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as handle:  # a file object, so NumPy does not append ".npz" to the name
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # stubs type savez kwargs as allow_pickle


def _safe_name(image_id: str) -> str:
    """A file name for an image id (ids may contain path separators)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id)[-80:]
    return f"{readable}-{hashlib.sha1(image_id.encode()).hexdigest()[:10]}.npz"


class SuperpixelStore:
    """Reads and writes one (dataset, superpixel method) cache."""

    def __init__(self, cache_dir: Path, dataset: Dataset, method: SuperpixelMethod,
                 dataset_spec: ComponentSpec, method_spec: ComponentSpec) -> None:
        self.dataset = dataset
        self.method = method
        dataset_key = dataset_spec.canonical()
        ignored = dataset.split_and_augmentation_params
        dataset_key["params"] = {k: v for k, v in dataset_key["params"].items() if k not in ignored}
        # Each entry is checked against its image's fingerprint, so an edited file recomputes that entry alone;
        # the content digest of the whole dataset would throw away every entry for one edited mask.
        dataset_key.pop("content", None)
        self.key = {"dataset": dataset_key, "superpixels": method_spec.canonical()}
        self.key_json = json.dumps(self.key, sort_keys=True)
        self.directory = cache_dir / "superpixels" / f"{dataset_spec.name}-{method_spec.name}-{canonical_hash(self.key)}"

    def path(self, image_id: str) -> Path:
        return self.directory / _safe_name(image_id)

    def read(self, image_id: str, fingerprint: str | None = None) -> SuperpixelEntry | None:
        """The cached entry, or ``None`` if it is missing, corrupt, for another key or (given a
        ``fingerprint``) for an older version of the image."""
        path = self.path(image_id)
        try:
            with np.load(path, allow_pickle=False) as data:
                labels, histogram, adjacency = data["labels"], data["histogram"], data["adjacency"]
                key, stored_id, stored_fingerprint = str(data["key"]), str(data["image_id"]), str(data["fingerprint"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if key != self.key_json or stored_id != image_id:
            return None
        if fingerprint is not None and stored_fingerprint != fingerprint:
            return None
        num_classes = self.dataset.num_classes
        if labels.ndim != 2 or histogram.ndim != 2 or histogram.shape[1] != num_classes or histogram.shape[0] < 1:
            return None
        if labels.min() != 0 or labels.max() != histogram.shape[0] - 1:
            return None
        if adjacency.ndim != 2 or adjacency.shape[1] != 2:
            return None
        return SuperpixelEntry(labels.astype(np.int32, copy=False), histogram.astype(np.int64, copy=False),
                               adjacency.astype(np.int32, copy=False))

    def compute(self, image_id: str, fingerprint: str | None = None) -> SuperpixelEntry:
        """Segment the image, build the class histogram and write the entry atomically."""
        sample = self.dataset.load(image_id)
        raw = np.asarray(self.method.segment(sample.image))
        if raw.shape != sample.image.shape[:2]:
            raise ComponentError(
                f"superpixel method {self.method.name!r} returned shape {raw.shape} for image {image_id!r} "
                f"of shape {sample.image.shape[:2]}; it must return one label per pixel"
            )
        labels = relabel_contiguous(raw)
        num_regions = int(labels.max()) + 1
        histogram = class_histogram(labels, sample.mask, num_regions, self.dataset.num_classes)
        adjacency = region_adjacency(labels)
        fingerprint = fingerprint if fingerprint is not None else self.dataset.fingerprint(image_id)
        try:
            atomic_write(self.path(image_id), lambda temporary: _save_entry(
                temporary, labels=labels, histogram=histogram, adjacency=adjacency, key=np.array(self.key_json),
                image_id=np.array(image_id), fingerprint=np.array(fingerprint)))
        except OSError as error:
            raise StorageError(os_error_message(
                error, action="write the superpixel cache", fix=CACHE_FIX.get(error.errno or 0))) from None
        return SuperpixelEntry(labels, histogram, adjacency)

    def get(self, image_id: str) -> SuperpixelEntry:
        """The entry, recomputed if it is missing or corrupt (no fingerprint check: see :meth:`ensure`)."""
        return self.read(image_id) or self.compute(image_id)

    def ensure(self, image_ids: list[str], progress: Progress | None = None) -> Iterator[SuperpixelEntry]:
        """Yield each image's entry, recomputing any that is missing, corrupt or stale."""
        progress = progress or NullProgress()
        recomputed = 0
        with progress.task("superpixels", total=len(image_ids)) as advance:
            for image_id in image_ids:
                fingerprint = self.dataset.fingerprint(image_id)
                entry = self.read(image_id, fingerprint)
                if entry is None:
                    entry = self.compute(image_id, fingerprint)
                    recomputed += 1
                yield entry
                advance(1)
        if recomputed:
            progress.log(f"computed superpixels for {recomputed} of {len(image_ids)} images in {self.directory}")
