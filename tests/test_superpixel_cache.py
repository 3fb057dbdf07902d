"""Superpixels are computed once, cached on disk, and recomputed when an entry is corrupt or stale."""

import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CONFIG

from albench.errors import ComponentError
from albench.run import superpixel_cache
from albench.run.spec import resolve_run
from albench.run.superpixel_cache import SuperpixelStore, _compact_labels, class_histogram, relabel_contiguous


def test_relabel_contiguous_numbers_regions_in_raster_order():
    labels = np.array([[7, 7, 3], [9, 3, 3]])
    assert relabel_contiguous(labels).tolist() == [[0, 0, 1], [2, 1, 1]]


def test_class_histogram_counts_pixels_per_region_and_skips_void():
    labels = np.array([[0, 0, 1], [1, 1, 1]])
    mask = np.array([[2, 255, 0], [0, 2, 2]])
    assert class_histogram(labels, mask, 2, 3).tolist() == [[0, 0, 1], [2, 0, 2]]


class CountingSegmenter:
    """Wraps a superpixel method and counts its calls."""

    def __init__(self, inner):
        self.inner, self.calls, self.name = inner, 0, inner.name

    def segment(self, image):
        self.calls += 1
        return self.inner.segment(image)


@pytest.fixture
def store_parts(registry, tmp_path):
    spec = resolve_run(registry, TINY_CONFIG, "random", 0)
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    method = CountingSegmenter(registry.create("superpixels", "slic", spec.superpixels.params).instance)
    return dataset, method, spec, tmp_path


def _store(parts):
    dataset, method, spec, tmp_path = parts
    return SuperpixelStore(tmp_path, dataset, method, spec.dataset, spec.superpixels)


def test_entries_are_computed_once_then_read_from_disk(store_parts):
    ids = ["scene-00000", "scene-00001"]
    first = list(_store(store_parts).ensure(ids))
    method = store_parts[1]
    assert method.calls == 2
    second = list(_store(store_parts).ensure(ids))
    assert method.calls == 2
    for a, b in zip(first, second):
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.histogram, b.histogram)


def test_a_corrupt_entry_is_recomputed(store_parts):
    store = _store(store_parts)
    (entry,) = store.ensure(["scene-00003"])
    store.path("scene-00003").write_bytes(b"not a zip file")
    (again,) = store.ensure(["scene-00003"])
    assert store_parts[1].calls == 2
    assert np.array_equal(entry.labels, again.labels)


def test_a_stale_entry_is_recomputed_when_the_image_changed(store_parts):
    store = _store(store_parts)
    list(store.ensure(["scene-00004"]))
    dataset = store_parts[0]
    dataset.fingerprint = lambda image_id: "a different image"
    list(store.ensure(["scene-00004"]))
    assert store_parts[1].calls == 2


def test_the_cache_key_covers_the_superpixel_parameters(registry, store_parts):
    dataset, method, spec, tmp_path = store_parts
    other = resolve_run(registry, TINY_CONFIG, "random", 0, {"superpixels": {"n_segments": 9}})
    a = SuperpixelStore(tmp_path, dataset, method, spec.dataset, spec.superpixels)
    b = SuperpixelStore(tmp_path, dataset, method, other.dataset, other.superpixels)
    assert a.directory != b.directory


def test_split_and_augmentation_parameters_reuse_the_cache_and_image_parameters_do_not(registry, store_parts):
    dataset, method, spec, tmp_path = store_parts
    store = SuperpixelStore(tmp_path, dataset, method, spec.dataset, spec.superpixels)
    list(store.ensure(["scene-00001"]))
    # The toy's val_fraction and flip only move the split and the augmentation: the same entries serve.
    other = resolve_run(registry, TINY_CONFIG, "random", 0, {"dataset": {"val_fraction": 0.4, "flip": False}})
    assert other.dataset.params != spec.dataset.params
    reused = SuperpixelStore(tmp_path, dataset, method, other.dataset, other.superpixels)
    assert reused.directory == store.directory
    list(reused.ensure(["scene-00001"]))
    assert method.calls == 1
    # image_size changes the images themselves: another cache.
    resized = resolve_run(registry, TINY_CONFIG, "random", 0, {"dataset": {"image_size": 48}})
    assert SuperpixelStore(tmp_path, dataset, method, resized.dataset, resized.superpixels).directory != store.directory


def test_a_dataset_declaring_no_augmentation_parameters_keys_the_cache_on_all_of_them(registry, store_parts):
    dataset, method, spec, tmp_path = store_parts
    other = resolve_run(registry, TINY_CONFIG, "random", 0, {"dataset": {"flip": False}})

    class Undeclared(type(dataset)):
        split_and_augmentation_params = frozenset()

    plain = Undeclared(dataset.params)
    a = SuperpixelStore(tmp_path, plain, method, spec.dataset, spec.superpixels)
    b = SuperpixelStore(tmp_path, plain, method, other.dataset, other.superpixels)
    assert a.directory != b.directory


def test_a_superpixel_method_returning_the_wrong_shape_is_named(store_parts):
    dataset, method, spec, tmp_path = store_parts

    class Broken:
        name = "broken-sp"

        def segment(self, image):
            return np.zeros((3, 3), dtype=np.int64)

    store = SuperpixelStore(tmp_path, dataset, Broken(), spec.dataset, spec.superpixels)
    with pytest.raises(
        ComponentError,
        match=r"superpixel method 'broken-sp' returned shape \(3, 3\) for image 'scene-00000' of shape \(32, 32\)",
    ):
        list(store.ensure(["scene-00000"]))


def test_entries_store_region_ids_in_the_narrowest_unsigned_type(store_parts):
    store = _store(store_parts)
    (entry,) = store.ensure(["scene-00005"])
    with np.load(store.path("scene-00005")) as data:
        assert data["labels"].dtype == np.uint16 and np.array_equal(data["labels"], entry.labels)
    assert entry.labels.dtype == np.int32
    assert _compact_labels(np.array([[0, 65535]]), 65536).dtype == np.uint16
    assert _compact_labels(np.array([[0, 65536]]), 65537).dtype == np.uint32


class BrokenOnScene2:
    """A superpixel method (module level, so worker processes can unpickle it) that fails on one image."""

    name = "broken-on-2"

    def __init__(self, inner):
        self.inner = inner

    def segment(self, image):
        if image.tobytes() == self.poison:
            return np.zeros((3, 3), dtype=np.int64)
        return self.inner.segment(image)


def test_worker_processes_write_the_same_entries_as_one_process(store_parts, monkeypatch):
    dataset, method, spec, tmp_path = store_parts
    ids = [f"scene-{i:05d}" for i in range(6)]
    serial = SuperpixelStore(tmp_path / "serial", dataset, method.inner, spec.dataset, spec.superpixels)
    expected = list(serial.ensure(ids, workers=1))
    monkeypatch.setattr(superpixel_cache, "WORKER_START_S", 0.0)  # start the workers however quick the work
    parallel = SuperpixelStore(tmp_path / "parallel", dataset, method, spec.dataset, spec.superpixels)
    got = list(parallel.ensure(ids, workers=2))
    assert method.calls == 1  # the first image here, the other five in the workers
    for a, b in zip(expected, got):
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.histogram, b.histogram)
        assert np.array_equal(a.adjacency, b.adjacency)


def test_an_error_in_a_worker_process_reaches_the_caller(store_parts, monkeypatch):
    dataset, method, spec, tmp_path = store_parts
    broken = BrokenOnScene2(method.inner)
    broken.poison = dataset.load("scene-00002").image.tobytes()
    monkeypatch.setattr(superpixel_cache, "WORKER_START_S", 0.0)
    store = SuperpixelStore(tmp_path, dataset, broken, spec.dataset, spec.superpixels)
    with pytest.raises(
        ComponentError, match=r"superpixel method 'broken-on-2' returned shape \(3, 3\) for image 'scene-00002'"
    ):
        list(store.ensure([f"scene-{i:05d}" for i in range(4)], workers=2))


def test_entries_read_once_are_served_from_memory_within_the_budget(store_parts, monkeypatch):
    store = _store(store_parts)
    ids = ["scene-00006", "scene-00007"]
    first = list(store.ensure(ids))
    for image_id in ids:
        store.path(image_id).unlink()  # from here on, only memory has them
    assert all(store.get(i) is entry for i, entry in zip(ids, first))
    assert store_parts[1].calls == 2
    monkeypatch.setattr(superpixel_cache, "MEMORY_BYTES", 0)  # a store over budget keeps nothing
    other = _store(store_parts)
    list(other.ensure(["scene-00008"]))
    other.path("scene-00008").unlink()
    other.get("scene-00008")
    assert store_parts[1].calls == 4  # read from disk, found missing, computed again
    assert pickle.loads(pickle.dumps(store))._memory == {}  # worker processes get the store without them


KILLED_RUN = """
import os, sys, time
from pathlib import Path
from albench.host.registry import load_registry
from albench.run import superpixel_cache
from albench.run.protocol import DEFAULT_CONFIG
from albench.run.spec import resolve_run

class Slow:
    name = "slic"

    def __init__(self, inner, pids):
        self.inner, self.pids, self.parent = inner, pids, os.getpid()

    def segment(self, image):
        if os.getpid() != self.parent:  # a worker: say so, then take (nearly) forever
            (Path(self.pids) / str(os.getpid())).touch()
            time.sleep(600)
        return self.inner.segment(image)

if __name__ == "__main__":
    superpixel_cache.WORKER_START_S = 0.0
    registry = load_registry(entry_points=False)
    spec = resolve_run(registry, DEFAULT_CONFIG, "random", 0)
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    method = Slow(registry.create("superpixels", "slic", spec.superpixels.params).instance, sys.argv[2])
    store = superpixel_cache.SuperpixelStore(Path(sys.argv[1]), dataset, method, spec.dataset, spec.superpixels)
    list(store.ensure([f"scene-{i:05d}" for i in range(6)], workers=2))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_run_killed_outright_takes_its_worker_processes_with_it(tmp_path):
    script, pids = tmp_path / "run.py", tmp_path / "pids"
    script.write_text(KILLED_RUN)
    pids.mkdir()
    run = subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(pids)])
    try:
        deadline = time.monotonic() + 120
        while len(list(pids.iterdir())) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, f"the workers did not start (run exited with {run.poll()})"
    finally:
        run.kill()  # SIGKILL: no chance for the pool to shut its workers down
        run.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and waiting for init to reap it, does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"
