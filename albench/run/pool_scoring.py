"""The streamed pool pass: the model's softmax over every pool image, reduced per superpixel by the engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from albench.components import Dataset
from albench.engine.scoring import ScoreAccumulator
from albench.run.execution import Execution, image_batches
from albench.run.progress import Progress
from albench.run.superpixel_cache import SuperpixelStore
from albench.statistics import PoolStatistic, RegionStatistic

__all__ = ["score_pool"]


@torch.inference_mode()
def score_pool(
    model: nn.Module,
    dataset: Dataset,
    store: SuperpixelStore,
    image_ids: Sequence[str],
    statistics: Sequence[RegionStatistic | PoolStatistic],
    *,
    batch_size: int,
    device: torch.device,
    progress: Progress,
    description: str = "score",
    execution: Execution | None = None,
    workers: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Stream the pool once through the model and reduce the declared statistics per superpixel.

    Images and superpixel maps are loaded by ``workers`` processes ahead of the model; on a GPU only the
    per-superpixel results come back to the host. Returns (region statistics by name, rows in global region
    order; pool statistics by name).
    """
    execution = execution or Execution(device)
    accumulator = ScoreAccumulator(statistics, dataset.num_classes)
    model.eval()
    with progress.task(description, total=len(image_ids)) as advance:
        for groups in image_batches(
            dataset, image_ids, batch_size=batch_size, execution=execution, workers=workers, store=store
        ):
            for group in groups:
                assert group.entries is not None
                with execution.autocast():
                    logits = model(execution.images(group.images))
                probs = torch.softmax(logits.float(), dim=1)
                # Label maps stay on the host: the CPU engine reads their runs there (albench.engine._label_runs).
                superpixels = torch.from_numpy(np.stack([entry.labels for entry in group.entries]))
                accumulator.add(probs, superpixels, [entry.num_regions for entry in group.entries])
            advance(sum(len(group.image_ids) for group in groups))
    return accumulator.region_results(), accumulator.pool_results()
