"""Checks made before training, for what would otherwise fail late or silently: a training batch that
cannot fit in memory (the process would grow until the kernel kills it), and a split whose masks are all
ignore (every mIoU would be NaN).

The memory estimate is measured, not guessed: one training step of a copy of the model on one and on two
images, on the meta device (shapes only, nothing computed), counting the bytes of the tensors autograd
saves for the backward pass (they are what grows with the batch), fitted as ``fixed + batch × per image``,
plus the gradients and the two Adam moments of the weights. A model that cannot run on the meta device is
not checked. It is compared with the memory the device has available (CPU: ``MemAvailable`` and the cgroup
limit; CUDA: free device memory); where that is unknown (MPS, other systems) nothing is checked.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from albench.errors import DatasetError, ProtocolError

__all__ = ["available_memory", "check_batch_fits", "check_labels", "training_memory"]

_GIB = 2**30


def _saved_bytes(model: nn.Module, batch: int, height: int, width: int, num_classes: int) -> int:
    """Bytes autograd saves for backward in one training step of ``model`` (on the meta device) on ``batch``
    images: shapes only, nothing is computed."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage._cdata] = storage.nbytes()  # one entry per storage: views of it count once
        return tensor

    images = torch.empty(batch, 3, height, width, device="meta")
    targets = torch.empty(batch, height, width, dtype=torch.int64, device="meta")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        functional.cross_entropy(model(images), targets)
    return sum(storages.values())


def training_memory(
    model: nn.Module, batch_size: int, height: int, width: int, num_classes: int
) -> tuple[int, int] | None:
    """``(estimated bytes for a training step of batch_size, bytes per image)``, or ``None`` when the model
    cannot run on the meta device. Measured on a copy of ``model`` moved to the meta device, where a forward
    pass propagates shapes without computing (a second, not minutes, for a ResNet at 513²): the model, its
    weights and every random generator are left as they were."""
    try:
        with torch.random.fork_rng(devices=[]):
            probe = copy.deepcopy(model).to("meta").train()
            one = _saved_bytes(probe, 1, height, width, num_classes)
            two = _saved_bytes(probe, 2, height, width, num_classes)
    except Exception:  # an operation without a meta implementation: the estimate is unknown
        return None
    per_image = max(two - one, 1)
    fixed = max(one - per_image, 0)
    weights = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return fixed + batch_size * per_image + 3 * weights, per_image


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory(device: torch.device) -> int | None:
    """Bytes this process could still allocate on ``device``, or ``None`` where that is unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(Path(limit_file)), _read_int(Path(usage_file))
        if limit is not None and usage is not None and limit < 2**60:
            available = min(available, limit - usage) if available is not None else limit - usage
    return available


def check_batch_fits(
    model: nn.Module, batch_size: int, height: int, width: int, num_classes: int, device: torch.device, backbone: str
) -> None:
    """Raise :class:`ProtocolError` when a training step of ``batch_size`` images would not fit in memory."""
    available = available_memory(device)
    if available is None:
        return
    estimate = training_memory(model, batch_size, height, width, num_classes)
    if estimate is None or estimate[0] <= available:
        return
    needed, per_image = estimate
    fits = max(0, int((available - (needed - batch_size * per_image)) // per_image))
    raise ProtocolError(
        f"protocol.batch_size={batch_size} needs about {needed / _GIB:.1f} GiB to train backbone {backbone!r} on "
        f"{height}×{width} images ({per_image / 2**20:.1f} MiB per image, measured), but {device} has "
        f"{available / _GIB:.1f} GiB available; lower protocol.batch_size (about {fits} fits)"
    )


def check_labels(
    label_counts: np.ndarray, dataset: str, split: str, image_ids: Sequence[str], ignore_index: int
) -> None:
    """Raise :class:`DatasetError` when ``split`` of ``dataset`` has no labeled pixel at all."""
    if int(np.asarray(label_counts).sum()) > 0:
        return
    raise DatasetError(
        f"every pixel of the {split} split of dataset {dataset!r} ({len(image_ids)} images, e.g. "
        f"{image_ids[0] if image_ids else '-'}) is ignore ({ignore_index}), so mIoU is undefined; check the "
        f"masks' label values"
    )
