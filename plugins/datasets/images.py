"""``images``: a folder of images without labels, the pool of an annotation loop (``albench loop``).

Layout (``--data-root ROOT``)::

    ROOT/**/<id>.png|.jpg|.jpeg|.bmp|.tif|.tiff|.webp   images of any size, in any subfolders
    <classes>                                         one class name per line (parameter ``classes``)
    <masks>/<id>.png                                  optional (parameter ``masks``): label values, 255 = void

Images are the pool; those with a mask under ``masks`` are the evaluation set instead (the few fully
labeled images a user may add to measure quality). Images without a mask load with an all-void mask: their
labels come from the annotator. With ``image_size`` 0 every image keeps its size (they must then all share
one); otherwise each is resized to ``image_size``² (bilinear; masks nearest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from albench import hookimpl
from albench.components import Dataset, Sample, Split
from albench.errors import DatasetError
from albench.hookspecs import Register

from ._base import check_probability
from ._io import (
    check_label_values,
    check_same_size,
    file_fingerprint,
    read_index_labels,
    read_rgb_image,
    resize_image,
    resize_labels,
)
from ._transforms import coin_flip, hflip
from .folder import read_classes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LAYOUT = "expected image files under ROOT (any subfolders) and a classes file with one class name per line"


@dataclass(frozen=True)
class ImagesParams:
    """Parameters of ``images``.

    Attributes:
        classes: the class-name file (absolute, or relative to ROOT).
        masks: the folder of the evaluation masks (absolute, or relative to ROOT; empty for none).
        image_size: the working resolution (square); 0 keeps the images' size.
        augmentation: ``flip`` (left-right with ``flip_probability``) or ``none``.
        flip_probability: the chance of a horizontal flip.
    """

    classes: str = "classes.txt"
    masks: str = ""
    image_size: int = 0
    augmentation: Literal["flip", "none"] = "flip"
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        if self.image_size != 0 and self.image_size < 8:
            raise ValueError(f"image_size must be 0 (keep) or at least 8, got {self.image_size}")
        check_probability("flip_probability", self.flip_probability)


class ImagesDataset(Dataset):
    """Unlabeled images (plus optional evaluation masks); background is the class named ``background``."""

    name = "images"
    version = "1"
    Params = ImagesParams
    ignore_index = 255
    split_and_augmentation_params = frozenset({"augmentation", "flip_probability"})

    def __init__(self, params: ImagesParams, root: Path | str | None = None) -> None:
        super().__init__(params, Path(root).expanduser() if root is not None else None)

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.data_root() / path

    def data_root(self) -> Path:
        if self.root is None:
            raise DatasetError(f"dataset 'images' reads files from disk: pass --data-root DIR ({LAYOUT})")
        if not self.root.is_dir():
            raise DatasetError(f"image folder {self.root} does not exist or is not a directory ({LAYOUT})")
        return self.root

    @cached_property
    def classes(self) -> tuple[str, ...]:  # type: ignore[override]  # read from the classes file
        return read_classes(self._path(self.params.classes))

    @property
    def background_class(self) -> int | None:  # type: ignore[override]
        return next((i for i, name in enumerate(self.classes) if name.lower() == "background"), None)

    @cached_property
    def files(self) -> dict[str, Path]:
        """Image id (path relative to ROOT, without suffix) → file, sorted by id."""
        root = self.data_root()
        masks = self._mask_dir()
        files: dict[str, Path] = {}
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            if masks is not None and masks in path.parents:
                continue
            image_id = path.relative_to(root).with_suffix("").as_posix()
            if image_id in files:
                raise DatasetError(f"images {files[image_id]} and {path} have the same id {image_id!r}; rename one")
            files[image_id] = path
        if not files:
            raise DatasetError(f"found no images under {root} ({', '.join(IMAGE_SUFFIXES)})")
        return files

    def _mask_dir(self) -> Path | None:
        return self._path(self.params.masks) if self.params.masks else None

    def mask_path(self, image_id: str) -> Path | None:
        """The evaluation mask of ``image_id``, if it has one."""
        masks = self._mask_dir()
        if masks is None:
            return None
        path = masks / f"{image_id}.png"
        return path if path.is_file() else None

    def image_ids(self) -> Sequence[str]:
        return list(self.files)

    def image_path(self, image_id: str) -> Path:
        try:
            return self.files[image_id]
        except KeyError:
            raise DatasetError(f"image folder {self.root} has no image {image_id!r}") from None

    def original_size(self, image_id: str) -> tuple[int, int]:
        """``(height, width)`` of the image file, before any resizing."""
        return read_rgb_image(self.image_path(image_id)).shape[:2]  # type: ignore[return-value]

    def load(self, image_id: str) -> Sample:
        path = self.image_path(image_id)
        image = read_rgb_image(path)
        mask_path = self.mask_path(image_id)
        if mask_path is None:
            mask = np.full(image.shape[:2], self.ignore_index, dtype=np.int64)
        else:
            mask = read_index_labels(mask_path)
            check_same_size(path, image, mask_path, mask)
            check_label_values(mask, self.num_classes, self.ignore_index, mask_path)
        size = self.params.image_size
        if size:
            return Sample(image=resize_image(image, size), mask=resize_labels(mask, size))
        if image.shape[:2] != self._common_size:
            first = next(iter(self.files.values()))
            raise DatasetError(
                f"image {path} is {image.shape[1]}×{image.shape[0]} but {first} is "
                f"{self._common_size[1]}×{self._common_size[0]}; images of different sizes need a "
                "working size: set image_size (`albench loop init --image-size N`)"
            )
        return Sample(image=image, mask=mask)

    @cached_property
    def _common_size(self) -> tuple[int, int]:
        """The first image's ``(height, width)``: every image must share it when ``image_size`` is 0."""
        return self.original_size(next(iter(self.files)))

    def split(self, seed: int) -> Split:
        """Pool: the images without a mask; evaluation: those with one (no seed involved)."""
        evaluation = tuple(i for i in self.files if self.mask_path(i) is not None)
        pool = tuple(i for i in self.files if self.mask_path(i) is None)
        return Split(pool=pool, val=evaluation)

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.params.augmentation == "flip" and coin_flip(self.params.flip_probability, generator):
            return hflip(image, target)
        return image, target

    def fingerprint(self, image_id: str) -> str:
        mask = self.mask_path(image_id)
        return file_fingerprint(self.image_path(image_id), *([mask] if mask is not None else []))


@hookimpl
def register_datasets(register: Register) -> None:
    register(ImagesDataset)
