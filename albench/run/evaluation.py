"""Evaluation: the confusion matrix of a model over a split, void pixels excluded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from albench.components import Dataset
from albench.run.progress import Progress
from albench.run.training import image_tensor

__all__ = ["batches", "confusion_matrix", "same_shape_groups"]


def batches(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    """``ids`` in consecutive lists of at most ``size``."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def same_shape_groups(arrays: list[np.ndarray]) -> Iterator[list[int]]:
    """Indices grouped into runs of equal shape, so images of different sizes are never stacked."""
    group: list[int] = []
    for index, array in enumerate(arrays):
        if group and arrays[group[0]].shape != array.shape:
            yield group
            group = []
        group.append(index)
    if group:
        yield group


@torch.inference_mode()
def confusion_matrix(model: nn.Module, dataset: Dataset, image_ids: Sequence[str], *, batch_size: int,
                     device: torch.device, progress: Progress, description: str = "evaluate") -> np.ndarray:
    """``(C, C) int64`` counts of (ground truth, prediction) over ``image_ids``, void pixels excluded."""
    c = dataset.num_classes
    confusion = torch.zeros(c * c, dtype=torch.int64, device=device)
    model.eval()
    with progress.task(description, total=len(image_ids)) as advance:
        for batch_ids in batches(image_ids, batch_size):
            samples = [dataset.load(i) for i in batch_ids]
            images = [s.image for s in samples]
            for group in same_shape_groups(images):
                batch = torch.stack([image_tensor(images[i]) for i in group]).to(device)
                predicted = model(batch).argmax(dim=1)
                truth = torch.stack([torch.from_numpy(samples[i].mask.astype(np.int64)) for i in group]).to(device)
                valid = (truth >= 0) & (truth < c)
                confusion += torch.bincount(truth[valid] * c + predicted[valid], minlength=c * c)
            advance(len(batch_ids))
    return confusion.reshape(c, c).cpu().numpy()
