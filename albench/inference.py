"""Model passes without gradients: the validation confusion matrix and the streamed pool scoring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from albench.components import Dataset
from albench.progress import Progress
from albench.scoring import PoolStatistic, RegionStatistic, ScoreAccumulator
from albench.superpixel_cache import SuperpixelStore
from albench.training import image_tensor

__all__ = ["confusion_matrix", "score_pool"]


def _batches(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _same_shape_groups(arrays: list[np.ndarray]) -> Iterator[list[int]]:
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
        for batch_ids in _batches(image_ids, batch_size):
            samples = [dataset.load(i) for i in batch_ids]
            images = [s.image for s in samples]
            for group in _same_shape_groups(images):
                batch = torch.stack([image_tensor(images[i]) for i in group]).to(device)
                predicted = model(batch).argmax(dim=1)
                truth = torch.stack([torch.from_numpy(samples[i].mask.astype(np.int64)) for i in group]).to(device)
                valid = (truth >= 0) & (truth < c)
                confusion += torch.bincount(truth[valid] * c + predicted[valid], minlength=c * c)
            advance(len(batch_ids))
    return confusion.reshape(c, c).cpu().numpy()


@torch.inference_mode()
def score_pool(model: nn.Module, dataset: Dataset, store: SuperpixelStore, image_ids: Sequence[str],
               statistics: Sequence[RegionStatistic | PoolStatistic], *, batch_size: int, device: torch.device,
               progress: Progress, description: str = "score") -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Stream the pool once through the model and reduce the declared statistics per superpixel.

    Returns (region statistics by name, rows in global region order; pool statistics by name).
    """
    accumulator = ScoreAccumulator(statistics, dataset.num_classes)
    model.eval()
    with progress.task(description, total=len(image_ids)) as advance:
        for batch_ids in _batches(image_ids, batch_size):
            images = [dataset.load(i).image for i in batch_ids]
            entries = [store.get(i) for i in batch_ids]
            for group in _same_shape_groups(images):
                batch = torch.stack([image_tensor(images[i]) for i in group]).to(device)
                probs = torch.softmax(model(batch).float(), dim=1)
                # Label maps stay on the host: the CPU engine reads their runs there (albench._runs_reduce).
                superpixels = torch.from_numpy(np.stack([entries[i].labels for i in group]))
                accumulator.add(probs, superpixels, [entries[i].num_regions for i in group])
            advance(len(batch_ids))
    return accumulator.region_results(), accumulator.pool_results()
