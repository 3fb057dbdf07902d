"""Run ids that see the data: an on-disk dataset's spec records a digest of its files' bytes."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
from conftest import TINY_CONFIG
from dataset_fixtures import write_folder
from PIL import Image

from albench.run.dataset_digest import content_digest
from albench.run.protocol import ComponentChoice
from albench.run.spec import resolve_run
from albench.run.superpixel_cache import SuperpixelStore


def _folder(root: Path) -> Path:
    return write_folder(root, ["background", "cat"], {"train": ["a", "b", "c", "d", "e", "f"], "test": ["g"]})


def _config():
    return dataclasses.replace(TINY_CONFIG, dataset=ComponentChoice("folder", {"image_size": 32}))


def _edit_keeping_size_and_time(path: Path) -> None:
    """Change one byte of a file in place, then give it back its modification time."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_editing_a_mask_changes_the_run_id_and_nothing_else(registry, tmp_path):
    data = _folder(tmp_path / "data")
    before = resolve_run(registry, _config(), "random", 0, data_root=data, cache_dir=tmp_path / "cache")
    again = resolve_run(registry, _config(), "random", 0, data_root=data, cache_dir=tmp_path / "cache")
    assert again.run_id == before.run_id
    mask = data / "masks" / "train" / "a.png"
    labels = np.array(Image.open(mask))
    labels[labels == 1] = 0
    Image.fromarray(labels).save(mask)
    after = resolve_run(registry, _config(), "random", 0, data_root=data, cache_dir=tmp_path / "cache")
    assert after.run_id != before.run_id
    assert after.dataset.identity == before.dataset.identity  # same names and classes: only the content moved
    assert after.dataset.content != before.dataset.content


def test_a_moved_copy_of_a_dataset_keeps_its_run_ids(registry, tmp_path):
    data = _folder(tmp_path / "data")
    copy = Path(shutil.copytree(data, tmp_path / "elsewhere" / "copy"))
    original = resolve_run(registry, _config(), "random", 0, data_root=data)
    moved = resolve_run(registry, _config(), "random", 0, data_root=copy)
    assert moved.run_id == original.run_id


def test_file_digests_are_cached_by_path_size_and_modification_time(tmp_path):
    data = _folder(tmp_path / "data")
    files = sorted((data / "masks").rglob("*.png"))
    cache = tmp_path / "cache"
    first = content_digest(files, data, cache)
    assert list((cache / "file-digests").glob("*.json"))
    _edit_keeping_size_and_time(files[0])
    # Same path, size and time: the cached digest is used, the file is not read again.
    assert content_digest(files, data, cache) == first
    # Without the cache, the bytes are read: the edit shows.
    assert content_digest(files, data, None) != first
    # Any write that moves the modification time is seen through the cache.
    files[0].touch()
    assert content_digest(files, data, cache) == content_digest(files, data, None) != first


def test_the_digest_hand_computed(tmp_path):
    import hashlib

    (tmp_path / "x").write_bytes(b"abc")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y").write_bytes(b"")
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in (("x", b"abc"), ("sub/y", b""))}
    expected = hashlib.sha256(f"sub/y\t{sha['sub/y']}\nx\t{sha['x']}\n".encode()).hexdigest()[:16]
    assert content_digest([tmp_path / "x", tmp_path / "sub" / "y"], tmp_path) == expected
    assert content_digest([], tmp_path) == ""


def test_a_generated_dataset_keeps_the_run_ids_it_had(registry):
    # toy has no files: its spec has no content digest, so its run ids are those from before digests.
    spec = resolve_run(registry, TINY_CONFIG, "random", 0)
    assert set(spec.dataset.canonical()) == {"name", "params", "version", "identity"}


def test_the_superpixel_cache_survives_an_edited_mask(registry, tmp_path):
    # Entries are checked per image (size and time), so one edited mask must not discard the whole cache.
    data = _folder(tmp_path / "data")
    spec = resolve_run(registry, _config(), "random", 0, data_root=data)
    edited = dataclasses.replace(spec.dataset, content="0123456789abcdef")
    dataset = registry.create("dataset", "folder", dict(spec.dataset.params), root=data).instance
    method = registry.create("superpixels", spec.superpixels.name, dict(spec.superpixels.params)).instance
    stores = [SuperpixelStore(tmp_path / "cache", dataset, method, d, spec.superpixels) for d in (spec.dataset, edited)]
    assert stores[0].directory == stores[1].directory
