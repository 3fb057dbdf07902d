"""The streamed pool pass: the model's softmax over every pool image, reduced per superpixel by the engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from albench.components import Dataset
from albench.engine.scoring import ScoreAccumulator
from albench.run.evaluation import batches, same_shape_groups
from albench.run.progress import Progress
from albench.run.superpixel_cache import SuperpixelStore
from albench.run.training import image_tensor
from albench.statistics import PoolStatistic, RegionStatistic

__all__ = ["score_pool"]


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
        for batch_ids in batches(image_ids, batch_size):
            images = [dataset.load(i).image for i in batch_ids]
            entries = [store.get(i) for i in batch_ids]
            for group in same_shape_groups(images):
                batch = torch.stack([image_tensor(images[i]) for i in group]).to(device)
                probs = torch.softmax(model(batch).float(), dim=1)
                # Label maps stay on the host: the CPU engine reads their runs there (albench.engine._label_runs).
                superpixels = torch.from_numpy(np.stack([entries[i].labels for i in group]))
                accumulator.add(probs, superpixels, [entries[i].num_regions for i in group])
            advance(len(batch_ids))
    return accumulator.region_results(), accumulator.pool_results()
