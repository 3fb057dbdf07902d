"""A simulated annotator and example data, to try the loop (and test it) without a person.

:func:`answer_tasks` answers a round's Label Studio tasks from fully labeled masks as the benchmark's oracle
would (dominant labels: the region's majority class; weak labels: every class present) and returns them in
the shape of Label Studio's JSON export. :func:`write_example` writes the toy dataset as a folder of images,
a classes file, validation images with masks, and the pool's masks for the simulated annotator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from albench.components import Dataset, dominant_classes
from albench.errors import AlbenchError
from albench.loop.session import LoopSession
from albench.loop.workspace import now
from albench.run.superpixel_cache import class_histogram

__all__ = ["answer_tasks", "write_example"]


def _mask(masks: Path, image_id: str, shape: tuple[int, int]) -> np.ndarray:
    path = masks / f"{image_id}.png"
    if not path.is_file():
        raise AlbenchError(f"--masks {masks}: no mask {path} for image {image_id!r}")
    with Image.open(path) as opened:
        mask = np.array(opened, dtype=np.int64)
    if mask.shape != shape:
        mask = np.array(
            Image.fromarray(mask.astype(np.uint8)).resize(shape[::-1], Image.Resampling.NEAREST), dtype=np.int64
        )
    return mask


def answer_tasks(session: LoopSession, round_index: int, masks: Path, annotator: str) -> list[dict[str, Any]]:
    """The round's tasks, each with one annotation chosen from ``masks`` (Label Studio export format)."""
    tasks_path = session.workspace.round_dir(round_index) / "label-studio" / "tasks.json"
    if not tasks_path.is_file():
        raise AlbenchError(f"round {round_index} has no tasks ({tasks_path}); run `albench loop query` first")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    dataset = session.dataset
    classes = dataset.classes
    weak = session.spec.labeling.name == "weak"
    histograms: dict[str, np.ndarray] = {}
    exported = []
    for number, item in enumerate(tasks, start=1):
        image_id, superpixel = item["data"]["albench_image"], int(item["data"]["albench_superpixel"])
        if image_id not in histograms:
            labels = session.run.store.get(image_id).labels
            mask = _mask(masks, image_id, labels.shape)
            histograms[image_id] = class_histogram(labels, mask, int(labels.max()) + 1, len(classes))
        row = histograms[image_id][superpixel]
        if weak:
            chosen = [classes[c] for c in np.flatnonzero(row)]
        else:
            dominant = int(dominant_classes(row[None], dataset.ignore_index)[0])
            chosen = [classes[dominant]] if dominant < len(classes) else []
        stamp = now()
        annotation = {
            "id": number,
            "completed_by": {"id": 0, "email": annotator},
            "created_at": stamp,
            "updated_at": stamp,
            "was_cancelled": not chosen,
            "lead_time": 0.0,
            "result": [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": chosen}}]
            if chosen
            else [],
        }
        exported.append({"id": number, "data": item["data"], "annotations": [annotation]})
    return exported


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_example(out: Path, dataset: Dataset, seed: int) -> tuple[int, int]:
    """``out/images`` (the pool of ``seed``'s split, in its order), ``out/classes.txt``, ``out/masks`` (the
    pool's masks, for the simulated annotator) and ``out/val/{images,masks}`` (the evaluation images)."""
    split = dataset.split(seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(dataset.classes) + "\n", encoding="utf-8")
    for image_id in split.pool:
        sample = dataset.load(image_id)
        _save_png(out / "images" / f"{image_id}.png", sample.image)
        _save_png(out / "masks" / f"{image_id}.png", sample.mask.astype(np.uint8))
    for image_id in split.evaluation:
        sample = dataset.load(image_id)
        _save_png(out / "val" / "images" / f"{image_id}.png", sample.image)
        _save_png(out / "val" / "masks" / f"{image_id}.png", sample.mask.astype(np.uint8))
    return len(split.pool), len(split.evaluation)
