"""The DeepLabV3 head (Chen et al. 2017, "Rethinking Atrous Convolution") shared by the paper's backbones,
made deterministic on every device.

torchvision's ``DeepLabHead`` cannot be used as is under ``torch.use_deterministic_algorithms(True)`` on CUDA:
its image-pooling branch uses ``nn.AdaptiveAvgPool2d`` (no deterministic CUDA backward: PyTorch raises) and
bilinear ``F.interpolate`` (same), and ``DeepLabV3.forward`` upsamples bilinearly. Here:

- the image-pooling branch is a plain mean over the feature map, broadcast back with ``expand``; its batch
  norm runs on the broadcast map, whose per-channel batch statistics equal those of the pooled vector (the map
  is constant per sample), so training also works with batch size 1 (torchvision raises there); only the
  unbiased running-variance update counts B·H·W values instead of B;
- logits are upsampled with nearest interpolation by default (docs/protocol.md#determinism), or bilinearly as two
  matrix products with PyTorch's own bilinear weights, whose backward is deterministic on CUDA too.

Module names match torchvision's (``convs.N``, ``project``, then the 3×3 conv, norm and classifier), so the
head's state dict has torchvision's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DeepLabHead",
    "Normalize",
    "Upsample",
    "bilinear_matrix",
    "upsample_logits",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Upsample = Literal["nearest", "bilinear"]


class Normalize(nn.Module):
    """``(x − mean) / std`` per channel: the runner feeds [0, 1] images and the encoder expects normalised ones.

    The constants are non-persistent buffers: they move with ``.to(device)`` but stay out of the state dict.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


def _conv_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    padding = dilation if kernel == 3 else 0
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class GlobalMean(nn.Module):
    """Mean over the spatial dimensions, ``(B, C, H, W)`` → ``(B, C, 1, 1)``: deterministic backward everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class ImagePooling(nn.Sequential):
    """ASPP's image-level branch: global mean → 1×1 conv → broadcast to the map → batch norm → ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(GlobalMean(), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self[1](self[0](x))
        return self[3](self[2](pooled.expand(-1, -1, x.shape[2], x.shape[3])))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1×1 branch, one 3×3 branch per atrous rate, image pooling, then a
    1×1 projection with dropout 0.5 (torchvision's layout)."""

    def __init__(self, cin: int, rates: Sequence[int], cout: int) -> None:
        super().__init__()
        branches: list[nn.Module] = [_conv_bn_relu(cin, cout, 1)]
        branches += [_conv_bn_relu(cin, cout, 3, dilation=rate) for rate in rates]
        branches.append(ImagePooling(cin, cout))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * cout, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.Dropout(0.5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    """ASPP → 3×3 conv, batch norm, ReLU → 1×1 classifier: logits at the feature map's resolution."""

    def __init__(self, cin: int, num_classes: int, rates: Sequence[int], channels: int = 256) -> None:
        super().__init__(
            ASPP(cin, rates, channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )


def bilinear_matrix(size_in: int, size_out: int, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(size_out, size_in)`` weights of PyTorch's 1-D linear interpolation (``align_corners=False``),
    read off by interpolating the identity, so the product reproduces ``F.interpolate`` exactly."""
    identity = torch.eye(size_in, dtype=torch.float64).unsqueeze(0)
    weights = F.interpolate(identity, size=size_out, mode="linear", align_corners=False)[0].T
    return weights.to(device=device, dtype=dtype).contiguous()


def upsample_logits(logits: torch.Tensor, size: tuple[int, int], mode: Upsample) -> torch.Tensor:
    """Resize ``(B, C, h, w)`` logits to ``size``: nearest, or bilinear as ``A_H · X · A_Wᵀ``.

    Bilinear interpolation is separable, so two matrix products give ``F.interpolate(mode="bilinear",
    align_corners=False)``; unlike that kernel, their backward is deterministic on CUDA.
    """
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    if mode == "nearest":
        return F.interpolate(logits, size=size, mode="nearest")
    rows = bilinear_matrix(logits.shape[-2], size[0], device=logits.device, dtype=logits.dtype)
    cols = bilinear_matrix(logits.shape[-1], size[1], device=logits.device, dtype=logits.dtype)
    return torch.matmul(torch.matmul(rows, logits), cols.T)
