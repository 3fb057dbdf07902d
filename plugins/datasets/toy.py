"""``toy``: the embedded default dataset. Synthetic scenes generated in code, deterministic, no download.

Each scene is a textured background with 2–5 objects. An object's class fixes its shape and its stripe
texture (orientation and period); its colour is random, so colour alone says nothing. Object classes
follow a long-tailed distribution (the head class is ~10× as frequent as the tail class), and background
covers most pixels, as on Pascal VOC: random sampling labels mostly background and head classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from albench import Dataset, Register, Sample, Split, hookimpl
from albench.components import holdout_split

CLASSES = ("background", "disk", "square", "triangle", "ring", "cross", "diamond")
# Relative frequency of each object class (long tail), and each class's stripe angle and period.
CLASS_WEIGHTS = np.array([0.36, 0.24, 0.16, 0.11, 0.08, 0.05])
STRIPE_ANGLE = np.deg2rad([0.0, 90.0, 45.0, 135.0, 22.5, 112.5])
STRIPE_PERIOD = np.array([4.0, 5.0, 4.0, 5.0, 6.0, 6.0])


@dataclass(frozen=True)
class ToyParams:
    """Parameters of ``toy``.

    Attributes:
        num_images: how many scenes the dataset holds.
        image_size: the side of each square scene, in pixels.
        val_fraction: the share of the scenes held out for validation.
        scene_seed: fixes the scenes themselves (the run seed only picks the split).
        flip: flip training images horizontally at random.
    """

    num_images: int = 300
    image_size: int = 64
    val_fraction: float = 0.2
    scene_seed: int = 0
    flip: bool = True

    def __post_init__(self) -> None:
        if self.num_images < 2:
            raise ValueError(f"num_images must be at least 2, got {self.num_images}")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


def _shape_mask(kind: int, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Pixels inside object ``kind`` (1..6) of radius ``r`` centred at dx = dy = 0."""
    if kind == 1:  # disk
        return dx**2 + dy**2 <= r**2
    if kind == 2:  # square
        return np.maximum(np.abs(dx), np.abs(dy)) <= r * 0.85
    if kind == 3:  # triangle, apex up
        return (dy <= r * 0.8) & (np.abs(dx) <= (dy + r) * 0.6)
    if kind == 4:  # ring
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (r * 0.55) ** 2)
    if kind == 5:  # cross
        arm = r * 0.38
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    return np.abs(dx) + np.abs(dy) <= r * 1.15  # diamond


def render_scene(index: int, size: int, scene_seed: int) -> Sample:
    """Scene ``index``: deterministic in (index, size, scene_seed)."""
    rng = np.random.default_rng([scene_seed, index])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    # Background: a smooth two-colour gradient with blotches, no stripes.
    low = rng.uniform(0.25, 0.75, size=(4, 4, 3))
    blotches = np.asarray(
        torch.nn.functional.interpolate(
            torch.from_numpy(low).permute(2, 0, 1)[None], size=(size, size), mode="bicubic", align_corners=True
        )[0].permute(1, 2, 0)
    )
    image = np.clip(blotches, 0.0, 1.0)
    mask = np.zeros((size, size), dtype=np.int64)
    scale = size / 64.0
    for _ in range(int(rng.integers(2, 6))):
        kind = int(rng.choice(len(CLASS_WEIGHTS), p=CLASS_WEIGHTS)) + 1
        radius = rng.uniform(6.0, 13.0) * scale
        cx, cy = rng.uniform(radius * 0.5, size - radius * 0.5, size=2)
        inside = _shape_mask(kind, xx - cx, yy - cy, radius)
        angle = STRIPE_ANGLE[kind - 1] + rng.normal(0.0, 0.08)
        phase = rng.uniform(0, 2 * math.pi)
        stripes = np.sin(
            2 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / (STRIPE_PERIOD[kind - 1] * scale) + phase
        )
        colour = rng.uniform(0.15, 0.95, size=3)
        shade = colour[None, None, :] * (0.72 + 0.28 * stripes[..., None])
        image[inside] = shade[inside]
        mask[inside] = kind
    image = image + rng.normal(0.0, 0.03, size=image.shape)
    return Sample(image=(np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8), mask=mask)


class ToyDataset(Dataset):
    """Embedded synthetic scenes: 7 classes (background + 6 long-tailed shapes), background = 0."""

    name = "toy"
    split_and_augmentation_params = frozenset({"val_fraction", "flip"})
    version = "1"
    Params = ToyParams
    classes = CLASSES
    ignore_index = 255
    background_class = 0

    def __init__(self, params: ToyParams, root: object = None) -> None:
        super().__init__(params, None)
        self._scenes: dict[str, Sample] = {}

    def image_ids(self) -> Sequence[str]:
        return [f"scene-{i:05d}" for i in range(self.params.num_images)]

    def load(self, image_id: str) -> Sample:
        """Render (once, then from memory) the scene named ``scene-NNNNN``."""
        if image_id not in self._scenes:
            try:
                index = int(image_id.removeprefix("scene-"))
            except ValueError:
                raise KeyError(f"toy dataset has no image {image_id!r}") from None
            self._scenes[image_id] = render_scene(index, self.params.image_size, self.params.scene_seed)
        return self._scenes[image_id]

    def split(self, seed: int) -> Split:
        return holdout_split(self.image_ids(), seed, self.params.val_fraction)

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Horizontal flip with probability 0.5 (when ``flip``)."""
        if self.params.flip and bool(torch.rand((), generator=generator) < 0.5):
            return image.flip(-1), target.flip(-1)
        return image, target


@hookimpl
def register_datasets(register: Register) -> None:
    register(ToyDataset)
