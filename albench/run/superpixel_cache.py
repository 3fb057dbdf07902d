"""Superpixels computed once per image and cached on disk, with each region's ground-truth class histogram.

The cache directory is keyed by the dataset and superpixel method (names, parameters, versions; not the
dataset's ``split_and_augmentation_params``, which never change an image). Each image has one ``.npz``
entry holding its region map, the class histogram of every region (the oracle's view, used by the labeling
scheme), the region adjacency graph and the image's fingerprint. An entry that does not load, does not
match its key, or whose image changed since (fingerprint) is recomputed.

Entries are compact: region ids as ``uint16`` (``uint32`` past 65,535 regions), deflate-compressed. A region
map is long runs of one id, so a 513² Pascal VOC entry takes ~16 KiB instead of the 1 MiB of raw ``int32``
and loads as fast (``benchmarks/bench_superpixels.py``). Missing entries are computed in worker processes,
one per CPU core, when the first one shows the work is worth starting them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import multiprocessing
import os
import pickle
import re
import signal
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from albench._atomic import atomic_write
from albench.components import Dataset, SuperpixelMethod
from albench.errors import ComponentError, StorageError, os_error_message
from albench.run.progress import Advance, NullProgress, Progress
from albench.run.spec import ComponentSpec, canonical_hash

__all__ = [
    "SuperpixelEntry",
    "SuperpixelStore",
    "class_histogram",
    "dataset_cache_key",
    "default_workers",
    "image_cache_directory",
    "region_adjacency",
    "relabel_contiguous",
]

#: Entries are kept in memory once read, up to this many bytes: a small pool's entirely, a large one's first
#: entries. Reading an entry from disk takes ~0.3 ms, a noticeable share of a small model's training step.
MEMORY_BYTES = 128 * 2**20

#: Starting the worker processes costs about this many CPU seconds each (a fresh interpreter importing torch,
#: side by side): work that would save less than this stays in the calling process.
WORKER_START_S = 3.0


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


def default_workers() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _compact_labels(labels: np.ndarray, num_regions: int) -> np.ndarray:
    """Region ids in the narrowest unsigned type that holds them."""
    return labels.astype(np.uint16 if num_regions <= 1 << 16 else np.uint32)


def _save_entry(path: Path, **arrays: np.ndarray) -> None:
    with path.open("wb") as handle:  # a file object, so NumPy does not append ".npz" to the name
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]  # stubs type kwargs as allow_pickle


def _safe_name(image_id: str) -> str:
    """A file name for an image id (ids may contain path separators)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id)[-80:]
    return f"{readable}-{hashlib.sha1(image_id.encode()).hexdigest()[:10]}.npz"


def dataset_cache_key(dataset: Dataset, dataset_spec: ComponentSpec) -> dict[str, Any]:
    """The dataset's spec without the parameters that never change an image: what a cache of its images
    (or of anything computed from them alone) depends on."""
    key = dataset_spec.canonical()
    ignored = dataset.split_and_augmentation_params
    key["params"] = {k: v for k, v in key["params"].items() if k not in ignored}
    return key


def image_cache_directory(cache_dir: Path, dataset: Dataset, dataset_spec: ComponentSpec) -> Path:
    """Where ``dataset`` keeps its decoded images (:meth:`albench.Dataset.use_cache`): keyed on its image
    parameters and its content digest, so a dataset whose files changed never meets the entries of their old
    bytes (each entry is also named by its own files' fingerprint)."""
    return cache_dir / "images" / f"{dataset_spec.name}-{canonical_hash(dataset_cache_key(dataset, dataset_spec))}"


class SuperpixelStore:
    """Reads and writes one (dataset, superpixel method) cache."""

    def __init__(
        self,
        cache_dir: Path,
        dataset: Dataset,
        method: SuperpixelMethod,
        dataset_spec: ComponentSpec,
        method_spec: ComponentSpec,
    ) -> None:
        self.dataset = dataset
        self.method = method
        # Each entry is checked against its image's fingerprint, so an edited file recomputes that entry alone;
        # the content digest of the whole dataset would throw away every entry for one edited mask.
        dataset_key = dataset_cache_key(dataset, dataset_spec)
        dataset_key.pop("content", None)
        self.key = {"dataset": dataset_key, "superpixels": method_spec.canonical()}
        self.key_json = json.dumps(self.key, sort_keys=True)
        self.directory = (
            cache_dir / "superpixels" / f"{dataset_spec.name}-{method_spec.name}-{canonical_hash(self.key)}"
        )
        self._memory: dict[str, SuperpixelEntry] = {}
        self._memory_bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        """Sent to worker processes without the entries in memory."""
        return {**self.__dict__, "_memory": {}, "_memory_bytes": 0}

    def _remember(self, image_id: str, entry: SuperpixelEntry) -> SuperpixelEntry:
        size = _nbytes(entry)
        if image_id in self._memory or self._memory_bytes + size <= MEMORY_BYTES:
            self._memory_bytes += size - (_nbytes(self._memory[image_id]) if image_id in self._memory else 0)
            self._memory[image_id] = entry
        return entry

    def path(self, image_id: str) -> Path:
        return self.directory / _safe_name(image_id)

    def read(self, image_id: str, fingerprint: str | None = None) -> SuperpixelEntry | None:
        """The cached entry, or ``None`` if it is missing, corrupt, for another key or (given a
        ``fingerprint``) for an older version of the image."""
        path = self.path(image_id)
        try:
            with np.load(path, allow_pickle=False) as data:
                if not self._current(data, image_id, fingerprint):
                    return None
                labels, histogram, adjacency = data["labels"], data["histogram"], data["adjacency"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        num_classes = self.dataset.num_classes
        if labels.ndim != 2 or histogram.ndim != 2 or histogram.shape[1] != num_classes or histogram.shape[0] < 1:
            return None
        if labels.min() != 0 or labels.max() != histogram.shape[0] - 1:
            return None
        if adjacency.ndim != 2 or adjacency.shape[1] != 2:
            return None
        return SuperpixelEntry(
            labels.astype(np.int32, copy=False),
            histogram.astype(np.int64, copy=False),
            adjacency.astype(np.int32, copy=False),
        )

    def _current(self, data: Any, image_id: str, fingerprint: str | None) -> bool:
        """Whether an open entry belongs to this key and image (and, given one, to this fingerprint)."""
        if str(data["key"]) != self.key_json or str(data["image_id"]) != image_id:
            return False
        return fingerprint is None or str(data["fingerprint"]) == fingerprint

    def is_current(self, image_id: str, fingerprint: str | None = None) -> bool:
        """Whether the entry exists for this key, image and fingerprint; reads only its small header arrays
        (a corrupt region map is still caught, and recomputed, by :meth:`read`)."""
        try:
            with np.load(self.path(image_id), allow_pickle=False) as data:
                return self._current(data, image_id, fingerprint)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return False

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
            atomic_write(
                self.path(image_id),
                lambda temporary: _save_entry(
                    temporary,
                    labels=_compact_labels(labels, num_regions),
                    histogram=histogram.astype(np.int32),
                    adjacency=adjacency,
                    key=np.array(self.key_json),
                    image_id=np.array(image_id),
                    fingerprint=np.array(fingerprint),
                ),
            )
        except OSError as error:
            raise StorageError(
                os_error_message(error, action="write the superpixel cache", fix=CACHE_FIX.get(error.errno or 0))
            ) from None
        return self._remember(image_id, SuperpixelEntry(labels, histogram, adjacency))

    def get(self, image_id: str) -> SuperpixelEntry:
        """The entry, from memory or disk, recomputed if it is missing or corrupt (no fingerprint check: a run
        calls :meth:`ensure` first, which checks every entry and keeps what it read in memory)."""
        if image_id in self._memory:
            return self._memory[image_id]
        return self._remember(image_id, self.read(image_id) or self.compute(image_id))

    def ensure(
        self, image_ids: list[str], progress: Progress | None = None, workers: int | None = None
    ) -> Iterator[SuperpixelEntry]:
        """Yield each image's entry, recomputing any that is missing, corrupt or stale.

        Missing entries are computed first, in up to ``workers`` processes (default: every core) when the
        first one, timed here, shows that the processes would save more than they take to start.
        """
        progress = progress or NullProgress()
        fingerprints = {image_id: self.dataset.fingerprint(image_id) for image_id in image_ids}
        missing = [image_id for image_id in image_ids if not self.is_current(image_id, fingerprints[image_id])]
        if missing:
            with progress.task("superpixels", total=len(missing)) as advance:
                self._compute_all(missing, fingerprints, workers or default_workers(), advance)
            progress.log(f"computed superpixels for {len(missing)} of {len(image_ids)} images in {self.directory}")
        for image_id in image_ids:
            entry = self.read(image_id, fingerprints[image_id]) or self.compute(image_id, fingerprints[image_id])
            yield self._remember(image_id, entry)

    def _compute_all(self, image_ids: list[str], fingerprints: dict[str, str], workers: int, advance: Advance) -> None:
        # CPU time, not wall time: on a busy machine both the work and the processes' start-up slow down.
        started = time.thread_time()
        self.compute(image_ids[0], fingerprints[image_ids[0]])
        advance(1)
        rest = image_ids[1:]
        processes = min(workers, len(rest))
        saved = (time.thread_time() - started) * len(rest) * (1 - 1 / max(processes, 1))
        worth_it = saved > WORKER_START_S
        if processes < 2 or not worth_it or not _picklable(self):
            for image_id in rest:
                self.compute(image_id, fingerprints[image_id])
                advance(1)
            return
        # Chunks of a few images: few enough round trips, small enough to keep every process busy to the end.
        size = max(1, min(16, len(rest) // (4 * processes)))
        chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
        context = multiprocessing.get_context("spawn")  # never fork a process that runs torch's thread pools
        with ProcessPoolExecutor(
            processes, mp_context=context, initializer=_worker_setup, initargs=(os.getpid(),)
        ) as executor:
            futures = [
                executor.submit(_compute_chunk, self, chunk, [fingerprints[i] for i in chunk]) for chunk in chunks
            ]
            for future in as_completed(futures):
                advance(future.result())


def _nbytes(entry: SuperpixelEntry) -> int:
    return entry.labels.nbytes + entry.histogram.nbytes + entry.adjacency.nbytes


def _picklable(store: SuperpixelStore) -> bool:
    """Whether the dataset and method can be sent to worker processes (a class defined inside a function
    cannot); if not, the entries are computed in this process."""
    try:
        pickle.dumps(store)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _worker_setup(parent: int) -> None:
    """One thread per worker process (the processes already use every core), and none outliving its run: a
    run killed outright (a Slurm job's SIGKILL, a killed sweep worker) takes its workers with it on Linux."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)
    import torch

    torch.set_num_threads(1)


def _compute_chunk(store: SuperpixelStore, image_ids: Sequence[str], fingerprints: Sequence[str]) -> int:
    """Compute and write the entries of ``image_ids`` (in a worker process); how many were written."""
    for image_id, fingerprint in zip(image_ids, fingerprints):
        store.compute(image_id, fingerprint)
    return len(image_ids)
