"""Decoded images kept on disk: an image and its mask at the working size as one ``(H, W, 4) uint8`` array.

One ``.npz`` per image, named by the image id and the fingerprint of its files, so a replaced image or mask
is decoded again (and its old entry removed). The directory itself is keyed by the dataset's content digest
(:func:`albench.run.superpixel_cache.image_cache_directory`), so edited files never meet old entries. The
array is stored uncompressed in the zip, whose CRC-32 is checked on every read: a damaged entry is decoded
again, never served (the CRC costs ~0.7 ms per 513² image, a decode ~8 ms). The mask rides in the fourth
channel, so its values must fit in a byte, as the on-disk datasets' do (class indices below 255 and the
ignore index 255); a sample whose mask does not fit is simply not cached. The cache is a shortcut, never an
input: an entry that cannot be written costs a decode next time, nothing else.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np

from albench import Sample
from albench._atomic import atomic_write

__all__ = ["DecodedImages"]


class DecodedImages:
    """Reads and writes decoded samples in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _stem(self, image_id: str) -> str:
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id)[-80:]
        return f"{readable}-{hashlib.sha1(image_id.encode()).hexdigest()[:10]}"

    def path(self, image_id: str, fingerprint: str) -> Path:
        return self.directory / f"{self._stem(image_id)}-{fingerprint[:16]}.npz"

    def read(self, image_id: str, fingerprint: str) -> Sample | None:
        """The cached sample, or ``None`` when there is none for these files (or it does not load)."""
        try:
            with np.load(self.path(image_id, fingerprint), allow_pickle=False) as data:
                pixels = data["pixels"]
        except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile):
            return None  # missing, damaged (the CRC fails), or not our archive (TypeError: a bare array)
        if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
            return None
        return Sample(image=np.ascontiguousarray(pixels[..., :3]), mask=pixels[..., 3].astype(np.int64))

    def write(self, image_id: str, fingerprint: str, sample: Sample) -> None:
        """Cache ``sample`` (atomically), replacing the entries of older versions of its files."""
        mask = sample.mask
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            return
        pixels = np.concatenate([sample.image, mask.astype(np.uint8)[..., None]], axis=2)
        path = self.path(image_id, fingerprint)
        try:
            for stale in self.directory.glob(f"{self._stem(image_id)}-*.np[yz]"):
                if stale != path:
                    stale.unlink(missing_ok=True)
            atomic_write(path, lambda temporary: _save(temporary, pixels))
        except OSError:
            pass  # a full or read-only cache disk: decoded again next time (the superpixel cache names the disk)


def _save(path: Path, pixels: np.ndarray) -> None:
    with path.open("wb") as handle:  # a file object, so NumPy does not append ".npz" to the temporary name
        np.savez(handle, pixels=pixels)
