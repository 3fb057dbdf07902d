"""Tiny datasets written in the real on-disk layouts (VOCdevkit, Cityscapes, EndoVis 2018, folder).

Every mask follows one hand-checkable pattern: the left half of the image is one label, the right half
another, and (where the dataset has void) the column at the boundary is void. Images are noise around a
colour per label, so superpixels follow the labels and a tiny model can learn something.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 40, 30
BOUNDARY = WIDTH // 2  # first column of the right half; for datasets with void, this column is void


def halves(left: int, right: int, void: int | None = None, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``(height, width)`` labels: ``left`` in columns < width/2, ``right`` from there, the boundary column
    ``void`` when given."""
    mask = np.full((height, width), left, dtype=np.int64)
    mask[:, width // 2 :] = right
    if void is not None:
        mask[:, width // 2] = void
    return mask


def image_for(labels: np.ndarray, seed: int) -> np.ndarray:
    """An RGB image whose colour follows ``labels`` (a fixed colour per value) plus a little noise."""
    rng = np.random.default_rng(seed)
    palette = np.random.default_rng(12345).integers(30, 226, size=(256, 3))
    image = palette[labels % 256] + rng.integers(-20, 21, size=(*labels.shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def voc_palette() -> list[int]:
    """The PASCAL VOC colour map (bit-interleaved), 256 entries."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


def voc_class_of(position: int) -> int:
    """The object class of the ``position``-th fixture image: 1..20 in turn."""
    return 1 + position % 20


def write_voc(root: Path, train: Sequence[str], val: Sequence[str], *, aug: Sequence[str] = ()) -> Path:
    """``root/VOCdevkit/VOC2012`` with JPEG images, palette masks (background left, class right, void
    boundary) and the split files. ``aug`` ids also get ``SegmentationClassAug`` masks and ``train_aug.txt``.
    Returns the VOC2012 folder."""
    voc = root / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / folder).mkdir(parents=True, exist_ok=True)
    for position, image_id in enumerate([*train, *val, *aug]):
        labels = halves(0, voc_class_of(position), void=255)
        Image.fromarray(image_for(labels, position)).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
        mask = Image.fromarray(labels.astype(np.uint8))
        mask.putpalette(voc_palette())  # makes it a palette ("P") image, as VOC's masks are
        mask.save(voc / "SegmentationClass" / f"{image_id}.png")
    (voc / "ImageSets/Segmentation/train.txt").write_text("".join(f"{i}\n" for i in train))
    (voc / "ImageSets/Segmentation/val.txt").write_text("".join(f"{i}\n" for i in val))
    if aug:
        (voc / "SegmentationClassAug").mkdir(exist_ok=True)
        for position, image_id in enumerate([*train, *val, *aug]):
            labels = halves(0, voc_class_of(position), void=255)
            Image.fromarray(labels.astype(np.uint8)).save(voc / "SegmentationClassAug" / f"{image_id}.png")
        (voc / "ImageSets/Segmentation/train_aug.txt").write_text(
            "".join(f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png\n" for i in [*train, *aug, val[0]])
        )
    return voc


# Cityscapes labelIds used by the fixture: road (7 → trainId 0), car (26 → 13), parking (9 → void),
# bicycle (33 → 18), unlabeled (0 → void).
CITYSCAPES_LEFT, CITYSCAPES_RIGHT, CITYSCAPES_BOUNDARY = (7, 26, 9)


def write_cityscapes(root: Path, train: dict[str, int], val: dict[str, int]) -> Path:
    """``leftImg8bit``/``gtFine`` for cities → image counts; masks: road left, car right, parking boundary,
    and the top-left pixel unlabeled (0) and the top-right bicycle (33)."""
    position = 0
    for split, cities in (("train", train), ("val", val)):
        for city, count in cities.items():
            (root / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
            (root / "gtFine" / split / city).mkdir(parents=True, exist_ok=True)
            for frame in range(count):
                stem = f"{city}_000000_{frame:06d}"
                labels = halves(CITYSCAPES_LEFT, CITYSCAPES_RIGHT, void=CITYSCAPES_BOUNDARY)
                labels[0, 0], labels[0, -1] = 0, 33
                Image.fromarray(image_for(labels, position)).save(
                    root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
                )
                Image.fromarray(labels.astype(np.uint8)).save(
                    root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"
                )
                position += 1
    return root


ENDOVIS_COLOURS = {0: (0, 0, 0), 1: (0, 255, 0), 4: (255, 55, 0), 11: (12, 255, 141)}


def write_endovis_sequence(
    sequence: Path,
    frames: int,
    left: int = 0,
    right: int = 4,
    labels_json: list[dict[str, object]] | None = None,
    colours: dict[int, tuple[int, int, int]] | None = None,
) -> Path:
    """``sequence/left_frames`` and colour-coded ``sequence/labels`` (class ``left`` | class ``right``);
    ``colours`` overrides the class colours written, ``labels_json`` writes ``sequence/labels.json``."""
    colours = {**ENDOVIS_COLOURS, **(colours or {})}
    (sequence / "left_frames").mkdir(parents=True, exist_ok=True)
    (sequence / "labels").mkdir(parents=True, exist_ok=True)
    for frame in range(frames):
        labels = halves(left, right)
        rgb = np.zeros((*labels.shape, 3), dtype=np.uint8)
        for value in np.unique(labels).tolist():
            rgb[labels == value] = colours[value]
        Image.fromarray(image_for(labels, frame)).save(sequence / "left_frames" / f"frame{frame:03d}.png")
        Image.fromarray(rgb).save(sequence / "labels" / f"frame{frame:03d}.png")
    if labels_json is not None:
        (sequence / "labels.json").write_text(json.dumps(labels_json))
    return sequence


def write_folder(
    root: Path,
    classes: Sequence[str],
    splits: dict[str, Sequence[str]],
    *,
    settings: str | None = None,
    suffix: str = ".png",
) -> Path:
    """``classes.txt``, ``images/<split>/<id><suffix>`` and ``masks/<split>/<id>.png`` for ``splits`` →
    ids (ids may contain '/'); image k's mask is class 0 | class 1 + k mod (C − 1), void boundary."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{name}\n" for name in classes))
    if settings is not None:
        (root / "albench.toml").write_text(settings)
    position = 0
    for split, ids in splits.items():
        for image_id in ids:
            labels = halves(0, 1 + position % (len(classes) - 1), void=255)
            image_path = root / "images" / split / f"{image_id}{suffix}"
            mask_path = root / "masks" / split / f"{image_id}.png"
            image_path.parent.mkdir(parents=True, exist_ok=True)
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image_for(labels, position)).save(image_path)
            Image.fromarray(labels.astype(np.uint8)).save(mask_path)
            position += 1
    return root
