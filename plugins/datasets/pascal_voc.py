"""``pascal-voc``: PASCAL VOC 2012 segmentation (Everingham et al. 2010), read from the VOCdevkit layout.

Layout (``--data-root`` is the folder holding ``VOCdevkit``, or ``VOCdevkit``, or ``VOCdevkit/VOC2012``)::

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png          palette PNG: 0 background, 1–20 objects, 255 void
    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val}.txt
    # only with train_set = "train_aug" (the SBD-augmented training set, Hariharan et al. 2011):
    VOCdevkit/VOC2012/SegmentationClassAug/<id>.png       single-channel label values, same coding
    VOCdevkit/VOC2012/ImageSets/Segmentation/train_aug.txt  one id per line (or "/JPEGImages/<id>.jpg ..." lines)

The official lists are read by torchvision's ``VOCSegmentation`` (never with ``download=True``).
Splits: the training set (``train``, 1,464 images, or ``train_aug``, 10,582, minus any id of ``val``) gives
pool and validation by a seeded 6-fold split (``_splits``); the official ``val`` (1,449 images) is the test
set whose mIoU is reported. Images are resized to ``image_size``² (513 in the paper) bilinearly, masks with
nearest neighbour; mIoU is measured at that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torchvision.datasets import VOCSegmentation

from albench import Register, hookimpl
from albench.errors import DatasetError

from ._base import FileDataset, ImageRecord, check_folds, check_probability, check_size_param, check_zoom_max
from ._io import read_index_labels
from ._transforms import ZoomMode, zoom_crop_flip

CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
LAYOUT = "expected VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation} under it"


@dataclass(frozen=True)
class PascalVocParams:
    """Parameters of ``pascal-voc``. Augmentation (supplementary §3.2): ℓ ~ U{0…zoom_max},
    enlarge by ℓ, centre-crop back, flip.

    Attributes:
        image_size: the working resolution (square).
        train_set: ``train`` (official) or ``train_aug`` (SBD-augmented, see the module docstring).
        folds: k of the k-fold pool/validation split.
        zoom_max: the largest ℓ, in pixels.
        zoom_mode: ``resize`` (upscale by ℓ pixels) or ``pad`` (ℓ pixels per side, target ignored).
        flip_probability: the chance of a horizontal flip.
    """

    image_size: int = 513
    train_set: Literal["train", "train_aug"] = "train"
    folds: int = 6
    zoom_max: int = 200
    zoom_mode: ZoomMode = "resize"
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        check_size_param(self.image_size)
        check_probability("flip_probability", self.flip_probability)
        check_folds(self.folds)
        check_zoom_max(self.zoom_max)


def torchvision_root(root: Path) -> Path:
    """The folder that holds ``VOCdevkit/VOC2012`` (what torchvision calls the root), from any of the three
    accepted ``--data-root`` forms."""
    if (root / "VOCdevkit" / "VOC2012").is_dir():
        return root
    if root.name == "VOCdevkit" and (root / "VOC2012").is_dir():
        return root.parent
    if root.name == "VOC2012" and root.parent.name == "VOCdevkit":
        return root.parent.parent
    raise DatasetError(f"data root {root} of dataset 'pascal-voc' has no VOCdevkit/VOC2012 folder ({LAYOUT})")


def _official_ids(tv_root: Path, image_set: str) -> list[str]:
    """Ids of an official image set, read through torchvision's ``VOCSegmentation``."""
    try:
        voc = VOCSegmentation(str(tv_root), year="2012", image_set=image_set, download=False)
    except FileNotFoundError:
        split_file = tv_root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / f"{image_set}.txt"
        raise DatasetError(f"split file {split_file} of dataset 'pascal-voc' does not exist ({LAYOUT})") from None
    except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
        raise DatasetError(f"dataset 'pascal-voc' cannot read {tv_root}: {error} ({LAYOUT})") from None
    ids = [Path(image).name.removesuffix(".jpg") for image in voc.images]
    return [i for i in ids if i]  # blank lines in the split file


def _aug_ids(voc_dir: Path) -> list[str]:
    """Ids listed in ``train_aug.txt``: the first token of each line, without folders or extension."""
    split_file = voc_dir / "ImageSets" / "Segmentation" / "train_aug.txt"
    try:
        lines = split_file.read_text().splitlines()
    except FileNotFoundError:
        raise DatasetError(
            f"split file {split_file} does not exist; train_set = 'train_aug' needs it and "
            "SegmentationClassAug/ (or use train_set = 'train')"
        ) from None
    return [Path(line.split()[0]).stem for line in lines if line.strip()]


class PascalVoc(FileDataset):
    """21 classes (background = 0), 255 = void (object borders)."""

    name = "pascal-voc"
    split_and_augmentation_params = frozenset({"folds", "zoom_max", "zoom_mode", "flip_probability"})
    version = "1"
    Params = PascalVocParams
    classes = CLASSES
    ignore_index = 255
    background_class = 0
    layout = LAYOUT

    def _scan(self, root: Path) -> list[ImageRecord]:
        tv_root = torchvision_root(root)
        voc_dir = tv_root / "VOCdevkit" / "VOC2012"
        test_ids = _official_ids(tv_root, "val")
        if self.params.train_set == "train_aug":
            held_out = set(test_ids)
            train_ids = [i for i in _aug_ids(voc_dir) if i not in held_out]
            train_masks = voc_dir / "SegmentationClassAug"
        else:
            train_ids = _official_ids(tv_root, "train")
            train_masks = voc_dir / "SegmentationClass"
        images = voc_dir / "JPEGImages"
        records = [ImageRecord(i, images / f"{i}.jpg", train_masks / f"{i}.png", group=i) for i in train_ids]
        records += [
            ImageRecord(i, images / f"{i}.jpg", voc_dir / "SegmentationClass" / f"{i}.png", group=i, test=True)
            for i in test_ids
        ]
        return records

    def _read_labels(self, record: ImageRecord) -> np.ndarray:
        return read_index_labels(record.mask)

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Zoom by ℓ ~ U{0…200}, centre-crop, flip 0.5 (supplementary §3.2)."""
        p = self.params
        return zoom_crop_flip(
            image,
            target,
            generator,
            max_extra=p.zoom_max,
            mode=p.zoom_mode,
            flip_probability=p.flip_probability,
            ignore_index=self.ignore_index,
        )


@hookimpl
def register_datasets(register: Register) -> None:
    register(PascalVoc)
