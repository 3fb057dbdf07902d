"""One round of training on the labeled regions: seeded sampling, augmentation, loss, optional EMA."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler

from albench.components import Dataset, LabelingScheme, RegionLabels
from albench.determinism import derive_seed, seed_worker, torch_generator
from albench.progress import Progress
from albench.protocol import Protocol
from albench.superpixel_cache import SuperpixelStore

__all__ = ["LabeledImages", "SeededSampler", "image_tensor", "segmentation_loss", "train_round", "update_ema"]


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3) uint8`` → ``(3, H, W) float32`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


class LabeledImages(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The pool images that have labeled regions, with targets rendered by the labeling scheme.

    Indexed by ``(item, seed)`` pairs from :class:`SeededSampler`, so each sample's augmentation is
    seeded by the sampler, whatever the number of workers.
    """

    def __init__(self, dataset: Dataset, store: SuperpixelStore, labeling: LabelingScheme,
                 items: Sequence[tuple[str, np.ndarray]], augment: bool) -> None:
        self.dataset = dataset
        self.store = store
        self.labeling = labeling
        self.items = list(items)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        image_id, labeled = self.items[index]
        sample = self.dataset.load(image_id)
        entry = self.store.get(image_id)
        regions = RegionLabels(entry.labels, sample.mask, entry.histogram, self.dataset.ignore_index)
        target = torch.from_numpy(np.ascontiguousarray(self.labeling.render_target(regions, labeled), dtype=np.int64))
        image = image_tensor(sample.image)
        if self.augment:
            image, target = self.dataset.augment(image, target, torch.Generator().manual_seed(seed))
        return image, target


class SeededSampler(Sampler[tuple[int, int]]):
    """``num_samples`` draws of ``(item, augmentation seed)``: successive seeded permutations of the items."""

    def __init__(self, num_items: int, num_samples: int, seed: int) -> None:
        self.num_items = num_items
        self.num_samples = num_samples
        self.seed = seed

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order_generator = torch_generator(self.seed, "order")
        seeds = torch.randint(0, 2**62, (self.num_samples,), generator=torch_generator(self.seed, "augment"))
        drawn = 0
        while drawn < self.num_samples:
            for item in torch.randperm(self.num_items, generator=order_generator).tolist():
                if drawn == self.num_samples:
                    break
                yield item, int(seeds[drawn])
                drawn += 1


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, protocol: Protocol, ignore_index: int) -> torch.Tensor:
    """Cross-entropy or focal loss over the labeled pixels; 0 (with a gradient) when none is labeled."""
    valid = target != ignore_index
    if not bool(valid.any()):
        return logits.sum() * 0.0
    log_probs = F.log_softmax(logits.float(), dim=1)
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)[valid]
    if protocol.loss == "focal":
        return -(((1 - picked.exp()) ** protocol.focal_gamma) * picked).mean()
    return -picked.mean()


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model, parameters and floating buffers alike."""
    ema_state = ema.state_dict()
    for name, value in model.state_dict().items():
        if value.dtype.is_floating_point:
            ema_state[name].mul_(decay).add_(value, alpha=1 - decay)
        else:
            ema_state[name].copy_(value)


def _optimizer(model: nn.Module, protocol: Protocol) -> torch.optim.Optimizer:
    if protocol.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=0.9, weight_decay=protocol.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=protocol.lr, weight_decay=protocol.weight_decay)


def train_round(model: nn.Module, data: LabeledImages, protocol: Protocol, *, seed: int, round_index: int,
                device: torch.device, progress: Progress, ema: nn.Module | None = None) -> None:
    """Train ``model`` in place for ``protocol.steps`` steps on ``data`` (and update ``ema``)."""
    if protocol.steps == 0 or len(data) == 0:
        return
    round_seed = derive_seed(seed, "train", round_index)
    sampler = SeededSampler(len(data), protocol.steps * protocol.batch_size, round_seed)
    loader = DataLoader(
        data, batch_size=protocol.batch_size, sampler=sampler, num_workers=protocol.num_workers,
        worker_init_fn=seed_worker, generator=torch_generator(round_seed, "workers"),
        persistent_workers=False,
    )
    optimizer = _optimizer(model, protocol)
    model.train()
    with progress.task(f"round {round_index}: train", total=protocol.steps) as advance:
        for images, targets in loader:
            images, targets = images.to(device), targets.to(device)
            loss = segmentation_loss(model(images), targets, protocol, data.dataset.ignore_index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if ema is not None and protocol.ema_decay is not None:
                update_ema(ema, model, protocol.ema_decay)
            advance(1)
    model.eval()


def new_ema(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the moving average."""
    ema = copy.deepcopy(model)
    for parameter in ema.parameters():
        parameter.requires_grad_(False)
    return ema.eval()
