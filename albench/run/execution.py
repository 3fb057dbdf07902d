"""How the model meets the device: precision, memory order, and image batches loaded ahead of the model.

Every model pass of a run (training, evaluation, pool scoring, stage targets) goes through an
:class:`Execution` made from the protocol and the device, so ``precision`` and ``channels_last`` mean the
same thing everywhere. Images travel to the device as ``uint8`` (a quarter of the float bytes) and become
``[0, 1]`` floats there, with the same division as on the host, so the values do not depend on where it
happens.

:func:`image_batches` loads the images of a model pass (and their masks or superpixel entries) in
DataLoader workers while the model runs, in order, pinned when the device is a GPU. Loading involves no
randomness, so the number of workers never changes a result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from albench.components import Dataset
from albench.run.protocol import Protocol
from albench.run.superpixel_cache import SuperpixelEntry, SuperpixelStore

__all__ = ["Execution", "ImageGroup", "image_batches"]


@dataclass(frozen=True)
class Execution:
    """The device, the forward passes' precision and the memory order of model and batches."""

    device: torch.device
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False

    @classmethod
    def of(cls, protocol: Protocol, device: torch.device) -> Execution:
        return cls(device, protocol.precision, protocol.channels_last)

    @property
    def pin_memory(self) -> bool:
        """Pinned host buffers let the copy to a GPU overlap the model's work."""
        return self.device.type == "cuda"

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """bfloat16 autocast for ``bf16`` (ops autocast keeps in float32 stay there); nothing for ``fp32``."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, model: nn.Module) -> nn.Module:
        """The model on the device, in the memory order (in place, as ``Module.to``)."""
        return model.to(self.device).to(memory_format=self.memory_format)

    def images(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, 3) uint8`` host images → ``(B, 3, H, W)`` float in [0, 1] on the device."""
        on_device = batch.to(self.device, non_blocking=self.pin_memory)
        return on_device.permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=self.memory_format)

    def inputs(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` float host images (augmented for training) on the device, in the memory order."""
        return batch.to(self.device, non_blocking=self.pin_memory).contiguous(memory_format=self.memory_format)

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """Any other host tensor (targets, masks) on the device."""
        return tensor.to(self.device, non_blocking=self.pin_memory)


@dataclass
class ImageGroup:
    """Consecutive images of one pass with the same size, stacked: ``images (G, H, W, 3) uint8``, ``masks
    (G, H, W) int64`` when asked for, the superpixel entries when a store was given."""

    image_ids: list[str]
    images: torch.Tensor
    masks: torch.Tensor | None
    entries: list[SuperpixelEntry] | None

    def pin_memory(self) -> ImageGroup:
        """Called by the DataLoader's pinning thread (for a GPU)."""
        masks = self.masks.pin_memory() if self.masks is not None else None
        return ImageGroup(self.image_ids, self.images.pin_memory(), masks, self.entries)


class _PassItems(torch.utils.data.Dataset[tuple[str, np.ndarray, np.ndarray | None, SuperpixelEntry | None]]):
    """The items of one pass: image (and mask, entry) of each id, read in a worker."""

    def __init__(self, dataset: Dataset, image_ids: Sequence[str], masks: bool, store: SuperpixelStore | None) -> None:
        self.dataset, self.image_ids, self.masks, self.store = dataset, list(image_ids), masks, store

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[str, np.ndarray, np.ndarray | None, SuperpixelEntry | None]:
        image_id = self.image_ids[index]
        sample = self.dataset.load(image_id)
        entry = self.store.get(image_id) if self.store is not None else None
        return image_id, sample.image, sample.mask if self.masks else None, entry


def _stack_groups(items: list[tuple[str, np.ndarray, np.ndarray | None, SuperpixelEntry | None]]) -> list[ImageGroup]:
    """A batch as runs of equal image size (images of different sizes are never stacked), in order."""
    groups: list[ImageGroup] = []
    start = 0
    for end in range(1, len(items) + 1):
        if end < len(items) and items[end][1].shape == items[start][1].shape:
            continue
        run = items[start:end]
        images = torch.from_numpy(np.stack([np.ascontiguousarray(item[1]) for item in run]))
        masks = None
        if run[0][2] is not None:
            masks = torch.from_numpy(np.stack([np.asarray(item[2], dtype=np.int64) for item in run]))
        entries = [item[3] for item in run] if run[0][3] is not None else None
        groups.append(ImageGroup([item[0] for item in run], images, masks, entries))  # type: ignore[arg-type]
        start = end
    return groups


def image_batches(
    dataset: Dataset,
    image_ids: Sequence[str],
    *,
    batch_size: int,
    execution: Execution,
    workers: int = 0,
    masks: bool = False,
    store: SuperpixelStore | None = None,
) -> Iterator[list[ImageGroup]]:
    """``image_ids`` in batches of ``batch_size``, each as its same-size groups, loaded by ``workers``
    DataLoader processes (0: in this process) ahead of their use, in order."""
    loader = DataLoader(
        _PassItems(dataset, image_ids, masks, store),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_stack_groups,
        pin_memory=execution.pin_memory,
    )
    yield from loader
