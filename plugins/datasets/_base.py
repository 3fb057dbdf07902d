"""What the on-disk datasets share: a checked index of image/mask files, loading at the working size,
k-fold splits and cheap fingerprints. Each dataset says where its files are and how to read its labels."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from albench.components import Dataset, Sample, Split
from albench.errors import DatasetError

from ._decoded import DecodedImages
from ._io import check_label_values, check_same_size, file_fingerprint, read_rgb_image, resize_image, resize_labels
from ._splits import kfold_split

__all__ = [
    "FileDataset",
    "ImageRecord",
    "check_crop_params",
    "check_folds",
    "check_probability",
    "check_size_param",
    "check_zoom_max",
]


@dataclass(frozen=True)
class ImageRecord:
    """One image of the index. ``group``: images of one group (a video sequence) stay on one side of a
    split; ``test``: part of the official evaluation set rather than of the training set."""

    image_id: str
    image: Path
    mask: Path
    group: str
    test: bool = False


def check_size_param(image_size: int) -> None:
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")


def check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def check_folds(folds: int) -> None:
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")


def check_zoom_max(zoom_max: int) -> None:
    """ℓ ~ U{0…zoom_max} pixels of zoom."""
    if zoom_max < 0:
        raise ValueError(f"zoom_max must be at least 0, got {zoom_max}")


def check_crop_params(scale: tuple[float, ...], ratio: tuple[float, ...]) -> None:
    """A random resized crop's area fraction and aspect-ratio ranges."""
    if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"crop_scale must be two numbers 0 < low <= high <= 1, got {list(scale)}")
    if len(ratio) != 2 or not 0.0 < ratio[0] <= ratio[1]:
        raise ValueError(f"crop_ratio must be two numbers 0 < low <= high, got {list(ratio)}")


class FileDataset(Dataset):
    """Base of the file-backed datasets.

    The index is built on first use (so constructing a dataset never touches the disk) and checked
    cheaply then: the root exists, split files exist, every image has its mask. What needs decoding (a mask
    the size of its image, label values in range, a readable file) is checked when an image is loaded.
    ``params`` must have ``image_size`` and ``folds``.
    """

    layout: ClassVar[str]  # one line on the expected layout, for the error messages

    def __init__(self, params: Any, root: Path | str | None = None) -> None:
        super().__init__(params, Path(root).expanduser() if root is not None else None)
        self._index: dict[str, ImageRecord] | None = None
        self._decoded: DecodedImages | None = None

    def use_cache(self, directory: Path) -> None:
        """Keep each image decoded and resized (with its mask) in ``directory``: every round reads the same
        files, and a read of the decoded pixels costs a fraction of decoding (``benchmarks/bench_image_cache.py``)."""
        self._decoded = DecodedImages(directory)

    @abstractmethod
    def _scan(self, root: Path) -> list[ImageRecord]:
        """Every image of the dataset, in a stable order; raise :class:`DatasetError` for missing split files."""

    @abstractmethod
    def _read_labels(self, record: ImageRecord) -> np.ndarray:
        """``(H, W) int64`` class indices (or the ignore index) of ``record``'s mask at its stored size."""

    def _fingerprint_files(self, record: ImageRecord) -> tuple[Path, ...]:
        """Files whose change changes the sample (a dataset with a colour map file adds it)."""
        return record.image, record.mask

    def data_root(self) -> Path:
        """The root directory, checked to exist."""
        if self.root is None:
            raise DatasetError(f"dataset {self.name!r} reads files from disk: pass --data-root DIR ({self.layout})")
        if not self.root.is_dir():
            raise DatasetError(
                f"data root {self.root} of dataset {self.name!r} does not exist or is not a directory ({self.layout})"
            )
        return self.root

    @property
    def records(self) -> dict[str, ImageRecord]:
        """The index by image id, built and checked on first use."""
        if self._index is None:
            records = self._scan(self.data_root())
            if not records:
                raise DatasetError(f"dataset {self.name!r} found no images under {self.root} ({self.layout})")
            index: dict[str, ImageRecord] = {}
            for record in records:
                if not record.image.is_file():
                    raise DatasetError(f"image {record.image} (image {record.image_id!r}) does not exist")
                if not record.mask.is_file():
                    raise DatasetError(f"image {record.image} has no mask: expected {record.mask}")
                if record.image_id in index:
                    raise DatasetError(
                        f"dataset {self.name!r} has two images with id {record.image_id!r}: "
                        f"{index[record.image_id].image} and {record.image}"
                    )
                index[record.image_id] = record
            self._index = index
        return self._index

    def record(self, image_id: str) -> ImageRecord:
        try:
            return self.records[image_id]
        except KeyError:
            raise DatasetError(f"dataset {self.name!r} has no image {image_id!r} under {self.root}") from None

    def image_ids(self) -> Sequence[str]:
        return list(self.records)

    def load(self, image_id: str) -> Sample:
        """Decode, check and resize to ``image_size``² (image bilinear, mask nearest), or read the decoded
        sample from the cache (:meth:`use_cache`) while its files are unchanged."""
        if self._decoded is None:
            return self._decode(image_id)
        fingerprint = self.fingerprint(image_id)
        sample = self._decoded.read(image_id, fingerprint)
        if sample is None:
            sample = self._decode(image_id)
            self._decoded.write(image_id, fingerprint, sample)
        return sample

    def _decode(self, image_id: str) -> Sample:
        record = self.record(image_id)
        image = read_rgb_image(record.image)
        mask = self._read_labels(record)
        check_same_size(record.image, image, record.mask, mask)
        check_label_values(mask, self.num_classes, self.ignore_index, record.mask)
        size = self.params.image_size
        return Sample(image=resize_image(image, size), mask=resize_labels(mask, size))

    def split(self, seed: int) -> Split:
        """Pool and validation: a seeded fold of the training images (see ``_splits``); test: the official
        evaluation images when the dataset has them (else mIoU is measured on the validation fold)."""
        train = [r for r in self.records.values() if not r.test]
        test = [r.image_id for r in self.records.values() if r.test]
        return kfold_split(
            self.name, [r.image_id for r in train], [r.group for r in train], seed, self.params.folds, test
        )

    def content_files(self) -> Sequence[Path]:
        """Every image and mask file (and per-image extras such as a colour map file) of the index."""
        return sorted({path for record in self.records.values() for path in self._fingerprint_files(record)})

    def fingerprint(self, image_id: str) -> str:
        """Size and modification time of the files, not their pixels (no decoding)."""
        return file_fingerprint(*self._fingerprint_files(self.record(image_id)))
