"""The dataset component: images, masks, class metadata and the seeded pool/validation split."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from albench.determinism import numpy_generator
from albench.params import NoParams

__all__ = ["Dataset", "Sample", "Split", "holdout_split"]


@dataclass(frozen=True)
class Sample:
    """One image and its ground truth at the working resolution.

    ``image`` is ``(H, W, 3) uint8``; ``mask`` is ``(H, W) int64`` class indices, with the dataset's
    ``ignore_index`` for void pixels.
    """

    image: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class Split:
    """Image ids of one seed's split.

    ``pool`` is what the strategies query; ``val`` is where mIoU is measured, unless ``test`` is given, in
    which case ``test`` is measured and ``val`` is kept for model selection.
    """

    pool: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...] = ()

    @property
    def evaluation(self) -> tuple[str, ...]:
        """The ids whose mIoU the results report."""
        return self.test or self.val


def holdout_split(image_ids: Sequence[str], seed: int, val_fraction: float) -> Split:
    """A seeded random split: ``val_fraction`` of the ids (at least one) for validation, the rest pooled."""
    ids = list(image_ids)
    order = numpy_generator(seed, "split").permutation(len(ids))
    n_val = max(1, round(val_fraction * len(ids)))
    val = tuple(ids[i] for i in sorted(order[:n_val]))
    pool = tuple(ids[i] for i in sorted(order[n_val:]))
    return Split(pool=pool, val=val)


class Dataset(ABC):
    """Base class of dataset plugins.

    Subclasses set ``name``, ``classes`` (index = label value), ``ignore_index`` and ``background_class``
    (``None`` when the dataset has none, as Cityscapes, whose void is ignored), and implement
    :meth:`image_ids`, :meth:`load` and :meth:`split`.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams

    classes: tuple[str, ...]
    ignore_index: int = 255
    background_class: int | None = None

    #: Parameters that change only the split or the training augmentation, never what :meth:`load` returns.
    #: The superpixel cache leaves them out of its key, so changing one reuses the cached superpixels. Leave
    #: a parameter out when unsure: the cost is a recomputation, never a wrong result.
    split_and_augmentation_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Any, root: Path | None = None) -> None:
        self.params = params
        self.root = root

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @abstractmethod
    def image_ids(self) -> Sequence[str]:
        """Every image id the dataset offers, in a stable order."""

    @abstractmethod
    def load(self, image_id: str) -> Sample:
        """Read one image and its mask."""

    @abstractmethod
    def split(self, seed: int) -> Split:
        """The pool/validation split for ``seed``; deterministic."""

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training augmentation of ``image (3, H, W) float`` and ``target (H, W) int64``.

        Geometric transforms must move image and target together and use nearest interpolation on the
        target. Draw all randomness from ``generator``. The default applies none.
        """
        return image, target

    def identity(self) -> str:
        """A digest of what the dataset holds, recorded in the run spec: two folders read with the same
        name and parameters give different run ids when their data differ.

        The default digests the classes, the ignore and background labels and every image id; datasets
        whose content is not captured by those may add more (e.g. a configuration file's text).
        """
        digest = hashlib.sha256(
            json.dumps([list(self.classes), self.ignore_index, self.background_class, list(self.image_ids())]).encode()
        )
        return digest.hexdigest()[:16]

    def content_files(self) -> Sequence[Path]:
        """The files whose bytes make up the dataset (images, masks, colour maps), in any order.

        The run spec records a digest of their bytes, so editing one in place (same name, same classes) gives
        new run ids. The default, none, suits a dataset generated in code, whose parameters fix its content.
        """
        return ()

    def fingerprint(self, image_id: str) -> str:
        """A digest that changes when the image or its mask changes (detects stale superpixel caches).

        The default hashes the loaded arrays; file-backed datasets may hash file size and mtime instead.
        """
        sample = self.load(image_id)
        digest = hashlib.sha1(np.ascontiguousarray(sample.image).tobytes())
        digest.update(np.ascontiguousarray(sample.mask).tobytes())
        return digest.hexdigest()
