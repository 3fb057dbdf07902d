"""``cityscapes``: Cityscapes fine annotations (Cordts et al. 2016), 19 evaluation classes.

Layout (``--data-root`` holds both folders, as torchvision's ``Cityscapes`` expects)::

    leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

Files are listed by torchvision's ``Cityscapes`` (``mode="fine"``, ``target_type="semantic"``; as there, a
root holding only ``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip`` is extracted in place),
and the ``labelIds`` are mapped to the 19 ``trainIds`` with its class table; every other id (void, and the
classes not evaluated such as parking or caravan) becomes 255 and is ignored. There is no background class: void is
never trained on nor scored (supplementary §3.6). Ids are ``<split>/<city>/<city>_<seq>_<frame>``.
Splits: ``train`` (2,975 images) gives pool and validation by a seeded 6-fold split over images
(``_splits``); the official ``val`` (500 images) is the test set. Images are resized to ``image_size``²
(769 in the paper) bilinearly, label maps with nearest neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import Cityscapes as TorchvisionCityscapes

from albench import Register, hookimpl
from albench.errors import DatasetError

from ._base import FileDataset, ImageRecord, check_folds, check_probability, check_size_param, check_zoom_max
from ._io import read_index_labels
from ._transforms import ZoomMode, zoom_crop_flip

IGNORE = 255
_EVALUATED = sorted((c for c in TorchvisionCityscapes.classes if 0 <= c.train_id < IGNORE), key=lambda c: c.train_id)
CLASSES = tuple(c.name for c in _EVALUATED)
# labelId → trainId; ids outside the table (a labelIds file only holds 0..33) are rejected when loading.
NUM_LABEL_IDS = 1 + max(c.id for c in TorchvisionCityscapes.classes)
LABEL_TO_TRAIN = np.full(NUM_LABEL_IDS, IGNORE, dtype=np.int64)
for _class in _EVALUATED:
    LABEL_TO_TRAIN[_class.id] = _class.train_id
LAYOUT = "expected leftImg8bit/{train,val}/<city>/*_leftImg8bit.png and gtFine/{train,val}/<city>/*_gtFine_labelIds.png"
_IMAGE_SUFFIX = "_leftImg8bit.png"


@dataclass(frozen=True)
class CityscapesParams:
    """Parameters of ``cityscapes``. Augmentation (supplementary §3.2): ℓ ~ U{0…zoom_max},
    enlarge by ℓ, centre-crop back, flip.

    Attributes:
        image_size: the working resolution (square).
        folds: k of the k-fold pool/validation split.
        zoom_max: the largest ℓ, in pixels.
        zoom_mode: ``resize`` (upscale by ℓ pixels) or ``pad`` (ℓ pixels per side, target ignored).
        flip_probability: the chance of a horizontal flip.
    """

    image_size: int = 769
    folds: int = 6
    zoom_max: int = 300
    zoom_mode: ZoomMode = "resize"
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        check_size_param(self.image_size)
        check_probability("flip_probability", self.flip_probability)
        check_folds(self.folds)
        check_zoom_max(self.zoom_max)


def _split_records(root: Path, split: str) -> list[ImageRecord]:
    """One official split, listed by torchvision and sorted by city and file name."""
    try:
        listing = TorchvisionCityscapes(str(root), split=split, mode="fine", target_type="semantic")
    except RuntimeError:  # torchvision: "Dataset not found or incomplete"
        raise DatasetError(
            f"dataset 'cityscapes' needs {root / 'leftImg8bit' / split} and {root / 'gtFine' / split} ({LAYOUT})"
        ) from None
    except OSError as error:  # e.g. a stray file where a city folder should be
        raise DatasetError(f"dataset 'cityscapes' cannot list {root / 'leftImg8bit' / split}: {error}") from None
    records = []
    for image, targets in sorted(zip(listing.images, listing.targets)):
        image_path = Path(image)
        if not image_path.name.endswith(_IMAGE_SUFFIX):
            continue
        city = image_path.parent.name
        image_id = f"{split}/{city}/{image_path.name.removesuffix(_IMAGE_SUFFIX)}"
        records.append(ImageRecord(image_id, image_path, Path(targets[0]), group=image_id, test=split == "val"))
    return records


class Cityscapes(FileDataset):
    """19 classes (trainIds), no background class, 255 = void."""

    name = "cityscapes"
    split_and_augmentation_params = frozenset({"folds", "zoom_max", "zoom_mode", "flip_probability"})
    version = "1"
    Params = CityscapesParams
    classes = CLASSES
    ignore_index = IGNORE
    background_class = None
    layout = LAYOUT

    def _scan(self, root: Path) -> list[ImageRecord]:
        return _split_records(root, "train") + _split_records(root, "val")

    def _read_labels(self, record: ImageRecord) -> np.ndarray:
        """labelIds → trainIds."""
        label_ids = read_index_labels(record.mask)
        unknown = np.unique(label_ids[(label_ids < 0) | (label_ids >= NUM_LABEL_IDS)])
        if unknown.size:
            raise DatasetError(
                f"mask {record.mask} has values {unknown[:5].tolist()} that are not Cityscapes labelIds "
                f"(0..{NUM_LABEL_IDS - 1}); use the *_gtFine_labelIds.png files"
            )
        train_ids: np.ndarray = LABEL_TO_TRAIN[label_ids]
        return train_ids

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Zoom by ℓ ~ U{0…300}, centre-crop, flip 0.5 (supplementary §3.2)."""
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
    register(Cityscapes)
