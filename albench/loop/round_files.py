"""What a query writes for the annotator: Label Studio tasks and config, CVAT XML, preview PNGs.

rounds/round-NNN/selection.json            the regions asked for (written by the workspace)
rounds/round-NNN/label-studio/tasks.json   one task per region (import into a project)
rounds/round-NNN/label-studio/config.xml   the project's labeling config
rounds/round-NNN/cvat/annotations.xml      the same regions for CVAT, with images/ beside it
rounds/round-NNN/preview/<image>.png       each image with its selected regions outlined
"""

from __future__ import annotations

import json
import math
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from albench.loop.cvat import write_cvat
from albench.loop.labelstudio import labeling_config, task
from albench.loop.session import LoopSession
from albench.loop.workspace import Selection

__all__ = ["RoundFiles", "outline_picture", "write_round_files"]

OUTLINE = np.array([255, 214, 0], dtype=np.uint8)  # yellow, visible on most images
MIN_SIDE = 384  # small images are enlarged (nearest) so a region stays visible


@dataclass(frozen=True)
class RoundFiles:
    tasks: Path
    config: Path
    cvat: Path
    previews: Path


def _boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels of ``mask`` within ``width`` pixels of its border (4-neighbourhood erosion)."""
    inner = mask.copy()
    for _ in range(width):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    edge: np.ndarray = mask & ~inner
    return edge


def _enlarge(array: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1)


def outline_picture(image: np.ndarray, superpixels: np.ndarray, regions: list[int]) -> np.ndarray:
    """The image (enlarged when small), outside the regions dimmed, each region outlined in yellow."""
    factor = max(1, math.ceil(MIN_SIDE / max(image.shape[:2])))
    picture = _enlarge(image, factor).astype(np.float32)
    labels = _enlarge(superpixels, factor)
    inside = np.isin(labels, regions)
    picture[~inside] *= 0.55
    width = max(2, factor // 2 + 1)
    for region in regions:
        picture[_boundary(labels == region, width)] = OUTLINE
    return picture.round().astype(np.uint8)


def write_round_files(session: LoopSession, selection: Selection) -> RoundFiles:
    workspace = session.workspace
    directory = workspace.round_dir(selection.round)
    dataset = session.dataset
    multiple = session.spec.labeling.name == "weak"
    by_image: dict[str, list[int]] = defaultdict(list)
    for image_id, superpixel in selection.regions:
        by_image[image_id].append(superpixel)

    studio = directory / "label-studio"
    studio.mkdir(parents=True, exist_ok=True)
    tasks = []
    previews = directory / "preview"
    previews.mkdir(parents=True, exist_ok=True)
    cvat_images = []
    cvat_dir = directory / "cvat"
    images = {image_id: dataset.load(image_id).image for image_id in by_image}
    superpixel_maps = {image_id: session.run.store.get(image_id).labels for image_id in by_image}
    for image_id, superpixel in selection.regions:  # in the strategy's order: the most useful first
        picture = outline_picture(images[image_id], superpixel_maps[image_id], [superpixel])
        tasks.append(task(workspace.loop_id, selection.round, image_id, superpixel, picture))
    for image_id, superpixels in by_image.items():
        image, labels = images[image_id], superpixel_maps[image_id]
        preview = previews / f"{image_id}.png"
        preview.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(outline_picture(image, labels, superpixels)).save(preview)
        source = dataset.image_path(image_id)  # type: ignore[attr-defined]  # the images dataset
        file_name = f"{image_id}{source.suffix}"
        target = cvat_dir / "images" / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        with Image.open(source) as opened:
            width, height = opened.size
        masks = []
        for superpixel in superpixels:
            mask = labels == superpixel
            if mask.shape != (height, width):
                mask = (
                    np.array(
                        Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.NEAREST)
                    )
                    > 0
                )
            if mask.any():
                masks.append((superpixel, mask))
        cvat_images.append((image_id, file_name, (height, width), masks))

    tasks_path = studio / "tasks.json"
    tasks_path.write_text(json.dumps(tasks), encoding="utf-8")
    config_path = studio / "config.xml"
    config_path.write_text(labeling_config(dataset.classes, multiple), encoding="utf-8")
    cvat_path = cvat_dir / "annotations.xml"
    write_cvat(cvat_path, f"albench loop {workspace.loop_id} round {selection.round}", dataset.classes, cvat_images)
    return RoundFiles(tasks_path, config_path, cvat_path, previews)
