"""``folder``: the generic on-disk layout for your own data (and private sets such as MONARCH).

Layout (``--data-root ROOT``)::

    ROOT/classes.txt                      one class name per line; line i (from 0) is label value i
    ROOT/images/<split>/<id>.png|.jpg     RGB images; <id> may contain subfolders (e.g. video/frame)
    ROOT/masks/<split>/<id>.png           single-channel label values, 255 = ignore (void)
    ROOT/albench.toml                     optional, all keys optional:
        background = "background"         # name of the background class, or false for none
        train = "train"                   # the split that gives pool and validation
        test = "test"                     # the split whose mIoU is reported, or false for none

Without ``albench.toml``: the class named ``background`` (any case), if there is one, is the background
class; ``train`` is the training split; the test split is ``test``, else ``val``, whichever folder exists,
else none (mIoU is then measured on the validation fold). Ids are ``<split>/<id>``.

Splits: a seeded 6-fold split of the training split (``_splits``). With ``group_by_subfolder`` (default),
images in one subfolder of ``images/<split>/`` (say, one video) are kept on one side of the split; images
directly in the split folder are each their own group. Images are resized to ``image_size``² (220 for
MONARCH) bilinearly, masks with nearest neighbour. Augmentation defaults to MONARCH's (supplementary §3.2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from albench import Register, hookimpl
from albench.errors import DatasetError

from ._base import (
    FileDataset,
    ImageRecord,
    check_crop_params,
    check_folds,
    check_probability,
    check_size_param,
    check_zoom_max,
)
from ._io import read_index_labels
from ._transforms import ZoomMode, coin_flip, hflip, resized_crop_flip, zoom_crop_flip

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SETTINGS_KEYS = ("background", "train", "test")
LAYOUT = "expected ROOT/classes.txt, ROOT/images/<split>/<id>.png|jpg and ROOT/masks/<split>/<id>.png"


@dataclass(frozen=True)
class FolderLayout:
    """What ``classes.txt`` and ``albench.toml`` say."""

    classes: tuple[str, ...]
    background_class: int | None
    train: str
    test: str | None


def read_classes(path: Path) -> tuple[str, ...]:
    """Class names from ``classes.txt``: one per line, trailing blank lines ignored."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise DatasetError(
            f"{path} does not exist: the folder dataset needs one class name per line ({LAYOUT})"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path} is not a readable UTF-8 text file: {error}") from None
    while lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line:
            raise DatasetError(f"{path}: line {number} is empty; every line up to the last names a class")
    duplicates = sorted({name for name in lines if lines.count(name) > 1})
    if duplicates:
        raise DatasetError(f"{path}: class names {duplicates} appear more than once")
    if not 2 <= len(lines) <= 255:
        raise DatasetError(
            f"{path} names {len(lines)} classes; between 2 and 255 are supported (255 is the ignore value)"
        )
    return tuple(lines)


def _read_settings(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DatasetError(f"{path} is not valid TOML: {error}") from None
    for key in settings:
        if key not in SETTINGS_KEYS:
            raise DatasetError(f"{path}: unknown key {key!r}; the keys are {', '.join(SETTINGS_KEYS)}")
    return settings


def _background(value: Any, classes: tuple[str, ...], path: Path) -> int | None:
    if value is False:
        return None
    if isinstance(value, str) and value in classes:
        return classes.index(value)
    raise DatasetError(
        f"{path}: background = {value!r} is not a class in classes.txt ({', '.join(classes)}); "
        "name one of them, or write background = false"
    )


def read_layout(root: Path) -> FolderLayout:
    """Classes, background and split names of a folder dataset."""
    classes = read_classes(root / "classes.txt")
    settings_path = root / "albench.toml"
    settings = _read_settings(settings_path)
    if "background" in settings:
        background = _background(settings["background"], classes, settings_path)
    else:
        background = next((i for i, name in enumerate(classes) if name.lower() == "background"), None)
    train = settings.get("train", "train")
    if not (isinstance(train, str) and train):
        raise DatasetError(f"{settings_path}: train must be the name of a folder under images/, got {train!r}")
    if "test" in settings:
        test = settings["test"] if settings["test"] is not False else None
        if test is not None and not (isinstance(test, str) and test and test != train):
            raise DatasetError(
                f"{settings_path}: test must be false or the name of a folder under images/ other "
                f"than the train split, got {settings['test']!r}"
            )
    else:
        test = next((s for s in ("test", "val") if s != train and (root / "images" / s).is_dir()), None)
    return FolderLayout(classes, background, train, test)


@dataclass(frozen=True)
class FolderParams:
    """Parameters of ``folder``.

    Attributes:
        image_size: the working resolution (square; 220 for MONARCH).
        folds: k of the k-fold pool/validation split.
        group_by_subfolder: keep each subfolder's images (say, a video) on one side of the split.
        augmentation: ``resized-crop`` (EndoVis, MONARCH), ``zoom-crop`` (VOC, Cityscapes), ``flip`` only,
            or ``none``; all but ``none`` flip.
        crop_scale: ``resized-crop``: the range of the crop's area fraction.
        crop_ratio: ``resized-crop``: the range of the crop's aspect ratio.
        zoom_max: ``zoom-crop``: the largest ℓ, in pixels.
        zoom_mode: ``zoom-crop``: ``resize`` (upscale by ℓ pixels) or ``pad`` (ℓ pixels per side).
        flip_probability: the chance of a horizontal flip.
    """

    image_size: int = 220
    folds: int = 6
    group_by_subfolder: bool = True
    augmentation: Literal["resized-crop", "zoom-crop", "flip", "none"] = "resized-crop"
    crop_scale: tuple[float, ...] = (0.85, 1.0)
    crop_ratio: tuple[float, ...] = (3 / 4, 4 / 3)
    zoom_max: int = 200
    zoom_mode: ZoomMode = "resize"
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        check_size_param(self.image_size)
        check_folds(self.folds)
        check_probability("flip_probability", self.flip_probability)
        check_crop_params(self.crop_scale, self.crop_ratio)
        check_zoom_max(self.zoom_max)


class FolderDataset(FileDataset):
    """Classes from ``classes.txt``; background and splits from ``albench.toml`` (see the module docstring)."""

    name = "folder"
    split_and_augmentation_params = frozenset(
        {
            "folds",
            "group_by_subfolder",
            "augmentation",
            "crop_scale",
            "crop_ratio",
            "zoom_max",
            "zoom_mode",
            "flip_probability",
        }
    )
    version = "1"
    Params = FolderParams
    ignore_index = 255
    layout = LAYOUT

    @cached_property
    def folder_layout(self) -> FolderLayout:
        return read_layout(self.data_root())

    @property
    def classes(self) -> tuple[str, ...]:  # type: ignore[override]  # read from classes.txt, not fixed
        return self.folder_layout.classes

    @property
    def background_class(self) -> int | None:  # type: ignore[override]
        return self.folder_layout.background_class

    def _split_records(self, root: Path, split: str, test: bool) -> list[ImageRecord]:
        images = root / "images" / split
        if not images.is_dir():
            raise DatasetError(
                f"split folder {images} does not exist ({LAYOUT}); create it or name the split "
                f"in {root / 'albench.toml'}"
            )
        files = sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        records = []
        for path in files:
            relative = path.relative_to(images).with_suffix("")
            image_id = f"{split}/{relative.as_posix()}"
            nested = self.params.group_by_subfolder and len(relative.parts) > 1
            group = f"{split}/{relative.parts[0]}/" if nested else image_id
            records.append(
                ImageRecord(image_id, path, root / "masks" / split / f"{relative.as_posix()}.png", group, test)
            )
        return records

    def _scan(self, root: Path) -> list[ImageRecord]:
        layout = self.folder_layout
        records = self._split_records(root, layout.train, test=False)
        if layout.test is not None:
            records += self._split_records(root, layout.test, test=True)
        return records

    def _read_labels(self, record: ImageRecord) -> np.ndarray:
        return read_index_labels(record.mask)

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``augmentation`` chosen in the parameters."""
        p = self.params
        if p.augmentation == "resized-crop":
            return resized_crop_flip(
                image,
                target,
                generator,
                scale=(p.crop_scale[0], p.crop_scale[1]),
                ratio=(p.crop_ratio[0], p.crop_ratio[1]),
                flip_probability=p.flip_probability,
            )
        if p.augmentation == "zoom-crop":
            return zoom_crop_flip(
                image,
                target,
                generator,
                max_extra=p.zoom_max,
                mode=p.zoom_mode,
                flip_probability=p.flip_probability,
                ignore_index=self.ignore_index,
            )
        if p.augmentation == "flip" and coin_flip(p.flip_probability, generator):
            return hflip(image, target)
        return image, target


@hookimpl
def register_datasets(register: Register) -> None:
    register(FolderDataset)
