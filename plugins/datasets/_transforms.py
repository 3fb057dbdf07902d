"""Training augmentations shared by the on-disk datasets (OREAL supplementary §3.2), on tensors.

Images are ``(3, H, W) float``; targets are ``(..., H, W)`` integers (a labeling scheme may stack several
maps). Geometry always moves image and target together; images are resampled bilinearly, targets with
nearest neighbour (pixel-centre "nearest-exact" indexing, so no label value is invented), and target
padding is the ignore index. Every random draw comes from the generator the runner passes in.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "ZoomMode",
    "center_crop",
    "coin_flip",
    "hflip",
    "pad",
    "random_resized_crop_box",
    "resize_image",
    "resize_target",
    "resized_crop_flip",
    "zoom_crop_flip",
]

ZoomMode = Literal["resize", "pad"]


def coin_flip(probability: float, generator: torch.Generator) -> bool:
    """True with ``probability`` (one uniform draw, even when the probability is 0 or 1)."""
    return bool(torch.rand((), generator=generator) < probability)


def hflip(image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror left–right."""
    return image.flip(-1), target.flip(-1)


def resize_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear, antialiased when shrinking."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True)[0]


def _nearest_indices(source: int, target: int) -> torch.Tensor:
    """Source index of each output pixel: the pixel whose centre is nearest (PyTorch's "nearest-exact")."""
    centres = (torch.arange(target, dtype=torch.float64) + 0.5) * (source / target)
    return centres.floor().long().clamp_(0, source - 1)


def resize_target(target: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest neighbour by indexing, so integer labels of any size stay exact."""
    if tuple(target.shape[-2:]) == (height, width):
        return target
    rows = _nearest_indices(target.shape[-2], height)
    cols = _nearest_indices(target.shape[-1], width)
    return target.index_select(-2, rows).index_select(-1, cols)


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central ``height``×``width`` window (the extra pixel of an odd margin goes to the bottom/right)."""
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


def pad(image: torch.Tensor, target: torch.Tensor, amount: int, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``amount`` pixels on every side: black for the image, ``ignore_index`` for the target."""
    if amount == 0:
        return image, target
    padded_image = F.pad(image, (amount, amount, amount, amount), value=0.0)
    shape = (*target.shape[:-2], target.shape[-2] + 2 * amount, target.shape[-1] + 2 * amount)
    padded_target = target.new_full(shape, ignore_index)
    padded_target[..., amount:-amount, amount:-amount] = target
    return padded_image, padded_target


def zoom_crop_flip(
    image: torch.Tensor,
    target: torch.Tensor,
    generator: torch.Generator,
    *,
    max_extra: int,
    mode: ZoomMode,
    flip_probability: float,
    ignore_index: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pascal VOC / Cityscapes augmentation (supplementary §3.2): draw ℓ ~ U{0, …, ``max_extra``}, enlarge,
    centre-crop back to the input size, then flip left–right with ``flip_probability``.

    ``mode="resize"`` enlarges by *upscaling* to (H + ℓ)×(W + ℓ), as the supplementary words it ("we upscale
    the images by adding a random number of ℓ pixels in both the horizontal and vertical dimensions"): a random
    zoom-in. ``mode="pad"`` pads ℓ pixels on each side (target: ignore), the other reading of "adding ℓ pixels"; a centre crop of a
    symmetric padding gives the input back, so in that mode only the flip changes anything.
    """
    height, width = image.shape[-2:]
    extra = int(torch.randint(0, max_extra + 1, (), generator=generator))
    if extra:
        if mode == "resize":
            image = resize_image(image, height + extra, width + extra)
            target = resize_target(target, height + extra, width + extra)
        else:
            image, target = pad(image, target, extra, ignore_index)
        image, target = center_crop(image, height, width), center_crop(target, height, width)
    if coin_flip(flip_probability, generator):
        image, target = hflip(image, target)
    return image, target


def random_resized_crop_box(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator: torch.Generator
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a crop covering a fraction ~U(``scale``) of the area with aspect ratio w/h
    log-uniform in ``ratio``: torchvision's ``RandomResizedCrop.get_params`` (10 tries, then the largest
    central crop within ``ratio``), drawing from ``generator`` instead of the global generator."""
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target_area = area * float(torch.empty(()).uniform_(scale[0], scale[1], generator=generator))
        aspect = math.exp(float(torch.empty(()).uniform_(log_low, log_high, generator=generator)))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def resized_crop_flip(
    image: torch.Tensor,
    target: torch.Tensor,
    generator: torch.Generator,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    flip_probability: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """EndoVis / MONARCH augmentation (supplementary §3.2, after Wu et al. 2023): a random resized crop with
    ``scale`` and ``ratio``, rescaled back to the input size, then a left–right flip with ``flip_probability``."""
    height, width = image.shape[-2:]
    top, left, h, w = random_resized_crop_box(height, width, scale, ratio, generator)
    image = resize_image(image[..., top : top + h, left : left + w], height, width)
    target = resize_target(target[..., top : top + h, left : left + w], height, width)
    if coin_flip(flip_probability, generator):
        image, target = hflip(image, target)
    return image, target
