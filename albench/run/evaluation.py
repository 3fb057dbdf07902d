"""Evaluation: the confusion matrix of a model over a split, void pixels excluded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from albench.components import Dataset
from albench.run.execution import Execution, image_batches
from albench.run.progress import Progress

__all__ = ["confusion_matrix"]


@torch.inference_mode()
def confusion_matrix(
    model: nn.Module,
    dataset: Dataset,
    image_ids: Sequence[str],
    *,
    batch_size: int,
    device: torch.device,
    progress: Progress,
    description: str = "evaluate",
    execution: Execution | None = None,
    workers: int = 0,
) -> np.ndarray:
    """``(C, C) int64`` counts of (ground truth, prediction) over ``image_ids``, void pixels excluded.

    Images are loaded by ``workers`` processes ahead of the model; only the counts leave the device.
    """
    execution = execution or Execution(device)
    c = dataset.num_classes
    confusion = torch.zeros(c * c, dtype=torch.int64, device=execution.device)
    model.eval()
    with progress.task(description, total=len(image_ids)) as advance:
        for groups in image_batches(
            dataset, image_ids, batch_size=batch_size, execution=execution, workers=workers, masks=True
        ):
            for group in groups:
                with execution.autocast():
                    predicted = model(execution.images(group.images)).argmax(dim=1)
                assert group.masks is not None
                truth = execution.to_device(group.masks)
                valid = (truth >= 0) & (truth < c)
                confusion += torch.bincount(truth[valid] * c + predicted[valid], minlength=c * c)
            advance(sum(len(group.image_ids) for group in groups))
    return confusion.reshape(c, c).cpu().numpy()
