"""``deeplabv3-resnet50`` and ``deeplabv3-resnet101``: torchvision's ResNet encoders with the DeepLabV3 head,
the paper's main backbones (the paper: ResNet50 for the main results, ResNet101 as a second backbone).

The encoder is torchvision's ResNet, built with ``weights=None`` (never a download) and, like torchvision's
``deeplabv3_resnet*``, dilated in its last two stages (output stride 8, ASPP rates 12/24/36; output stride 16
uses rates 6/12/18 as in the DeepLabV3 paper). The forward pass is albench's own rather than
``torchvision.models.segmentation.DeepLabV3``'s, because that one upsamples bilinearly and pools with
``nn.AdaptiveAvgPool2d``, neither of which has a deterministic CUDA backward: see ``_deeplab_head``. The
auxiliary FCN classifier is not built (no strategy or loss uses it). Inputs are [0, 1] images, normalised
here with ImageNet's mean and standard deviation, the statistics torchvision's ResNet weights expect.

``weights = "imagenet"`` loads torchvision's ``IMAGENET1K_V1`` ResNet weights (the ones torchvision's DeepLabV3
builders default to) from torch hub's cache; a path loads a ResNet state dict from a file (its ``fc.``
classifier is ignored).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from albench_plugins.backbones._deeplab_head import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DeepLabHead,
    Normalize,
    Upsample,
    upsample_logits,
)
from albench_plugins.backbones._weights import (
    WeightsError,
    check_weights_value,
    load_encoder_weights,
    read_state_dict,
    torch_hub_checkpoint,
)
from torch import nn

from albench import Backbone, Register, hookimpl

if TYPE_CHECKING:
    from torchvision.models import ResNet

ENCODER_CHANNELS = 2048
RATES = {8: (12, 24, 36), 16: (6, 12, 18)}
DILATION = {8: [False, True, True], 16: [False, False, True]}


@dataclass(frozen=True)
class TorchvisionDeepLabParams:
    """Parameters of ``deeplabv3-resnet50`` and ``deeplabv3-resnet101``.

    Attributes:
        weights: ``none``, ``imagenet`` (torch hub's cache) or a ResNet state-dict file.
        upsample: how logits reach the input size (nearest keeps training deterministic).
        output_stride: 8 (torchvision's) or 16.
        head_channels: the ASPP width.
    """

    weights: str = "none"
    upsample: Upsample = "nearest"
    output_stride: Literal[8, 16] = 8
    head_channels: int = 256

    def __post_init__(self) -> None:
        check_weights_value(self.weights)
        if self.head_channels < 1:
            raise ValueError(f"head_channels must be at least 1, got {self.head_channels}")


class ResNetEncoder(nn.Sequential):
    """A torchvision ResNet up to ``layer4`` (no pooling, no classifier); keys as in the ResNet's state dict."""

    STAGES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")

    def __init__(self, resnet: ResNet) -> None:
        super().__init__(OrderedDict((name, getattr(resnet, name)) for name in self.STAGES))


class DeepLabV3(nn.Module):
    """normalise → encoder → DeepLabV3 head → upsample to the input size (nearest by default)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, normalize: Normalize, upsample: Upsample) -> None:
        super().__init__()
        self.normalize = normalize
        self.backbone = encoder
        self.classifier = head
        self.upsample = upsample

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.backbone(self.normalize(images)))
        return upsample_logits(logits, (images.shape[-2], images.shape[-1]), self.upsample)


class _TorchvisionDeepLab(Backbone):
    """Shared build of the two ResNet depths."""

    Params = TorchvisionDeepLabParams
    depth: ClassVar[int]

    def build(self, num_classes: int) -> nn.Module:
        import torchvision.models as tvm

        p = self.params
        file = self.weights_file()  # first: fail before spending seconds on initialisation
        builder = tvm.resnet50 if self.depth == 50 else tvm.resnet101
        encoder = ResNetEncoder(builder(weights=None, replace_stride_with_dilation=DILATION[p.output_stride]))
        if file is not None:
            load_encoder_weights(
                encoder, read_state_dict(file, self.owner), owner=self.owner, source=str(file), ignore_prefixes=("fc.",)
            )
        head = DeepLabHead(ENCODER_CHANNELS, num_classes, RATES[p.output_stride], p.head_channels)
        return DeepLabV3(encoder, head, Normalize(IMAGENET_MEAN, IMAGENET_STD), p.upsample)

    @property
    def owner(self) -> str:
        return f"backbone {self.name!r}"

    def weights_file(self) -> Path | None:
        """The state-dict file to load, or ``None`` for random initialisation; raises when it is not here."""
        weights: str = self.params.weights
        if weights == "none":
            return None
        if weights != "imagenet":
            path = Path(weights).expanduser()
            if not path.is_file():
                raise WeightsError(f"{self.owner}: weights file {path} does not exist")
            return path
        import torchvision.models as tvm

        enum = tvm.ResNet50_Weights if self.depth == 50 else tvm.ResNet101_Weights
        url = enum.IMAGENET1K_V1.url
        cached = torch_hub_checkpoint(url)
        if cached.is_file():
            return cached
        raise WeightsError(
            f"{self.owner}: ImageNet weights for ResNet{self.depth} are not in torch hub's cache ({cached}), "
            f"and albench never downloads. On a machine with network access download {url} and copy it to "
            f"{cached} (the directory follows $TORCH_HOME), or pass the file directly: "
            f"--set backbone.weights=/path/to/{cached.name}"
        )


class DeepLabV3ResNet50(_TorchvisionDeepLab):
    """DeepLabV3 on torchvision's ResNet50 (the paper's main backbone)."""

    name = "deeplabv3-resnet50"
    version = "1"
    depth = 50


class DeepLabV3ResNet101(_TorchvisionDeepLab):
    """DeepLabV3 on torchvision's ResNet101."""

    name = "deeplabv3-resnet101"
    version = "1"
    depth = 101


@hookimpl
def register_backbones(register: Register) -> None:
    register(DeepLabV3ResNet50)
    register(DeepLabV3ResNet101)
