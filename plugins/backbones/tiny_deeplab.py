"""``tiny-deeplab``: the CPU-friendly default backbone, a DeepLabV3-style ASPP head on a small encoder.

Output stride 4; the head upsamples with nearest interpolation by default (docs/protocol.md#determinism: the OREAL
authors reached exact reproducibility only after replacing bilinear with nearest), bilinear as an option.
Global pooling in ASPP is a plain mean, which has a deterministic backward pass on every device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from albench import Backbone, Register, hookimpl


@dataclass(frozen=True)
class TinyDeepLabParams:
    """Parameters of ``tiny-deeplab``.

    Attributes:
        width: scales every layer's channels.
        upsample: how logits reach the input size (nearest keeps training deterministic).
    """

    width: int = 32
    upsample: Literal["nearest", "bilinear"] = "nearest"

    def __post_init__(self) -> None:
        if self.width < 4:
            raise ValueError(f"width must be at least 4, got {self.width}")


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al. 2017) with rates 1, 2, 4 and image pooling."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))]
            + [_conv(cin, cout, dilation=d) for d in (2, 4)]
        )
        self.pooling = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.ReLU(inplace=True))
        self.project = nn.Sequential(
            nn.Conv2d(cout * 4, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pooling(x.mean(dim=(2, 3), keepdim=True)).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([branch(x) for branch in self.branches] + [pooled], dim=1))


class TinyDeepLab(nn.Module):
    """Encoder (stride 4, dilated last stage) → ASPP → 1×1 classifier → upsample to the input size."""

    def __init__(self, num_classes: int, width: int, upsample: str) -> None:
        super().__init__()
        w = width
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))
        self.encoder = nn.Sequential(
            _conv(3, w, stride=2),
            _conv(w, w),
            _conv(w, 2 * w, stride=2),
            _conv(2 * w, 2 * w),
            _conv(2 * w, 2 * w, dilation=2),
        )
        self.aspp = ASPP(2 * w, 2 * w)
        self.classifier = nn.Conv2d(2 * w, num_classes, 1)
        self.upsample = upsample

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.aspp(self.encoder((images - self.mean) / self.std))
        logits = self.classifier(features)
        if self.upsample == "nearest":
            return F.interpolate(logits, size=images.shape[-2:], mode="nearest")
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)


class TinyDeepLabBackbone(Backbone):
    """A small DeepLabV3-style network that learns the ``toy`` scenes in minutes on a CPU."""

    name = "tiny-deeplab"
    version = "1"
    Params = TinyDeepLabParams

    def build(self, num_classes: int) -> nn.Module:
        return TinyDeepLab(num_classes, self.params.width, self.params.upsample)


@hookimpl
def register_backbones(register: Register) -> None:
    register(TinyDeepLabBackbone)
