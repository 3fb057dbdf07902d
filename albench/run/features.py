"""Pixel features of a segmentation model, for stages that build targets from them (Hwang et al.'s prototypes).

Models are foreign ``nn.Module``s that return logits only, so the features are read where every segmentation
head has them: the input of its classifier, the last ``Conv2d`` whose output channels are the classes. As in
Hwang et al.'s code (``DeepLabHeadV3PlusWN.forward`` normalises the point feature, ``feat_forward`` upsamples
it bilinearly), each pixel's feature vector is L2-normalised at the head's resolution, then upsampled
bilinearly to the image, so inner products are cosine similarities up to the interpolation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from albench.errors import ComponentError

__all__ = ["classifier_of", "logits_and_features"]


def classifier_of(model: nn.Module, num_classes: int) -> nn.Conv2d:
    """The model's last ``Conv2d`` with ``num_classes`` output channels."""
    found = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.out_channels == num_classes]
    if not found:
        raise ComponentError(
            f"pseudo-labels from prototypes need the model's pixel features, read at the input of its last Conv2d "
            f"with {num_classes} output channels, and {type(model).__name__} has none; "
            "use the labeling parameter pseudo_labels=argmax"
        )
    return found[-1]


@torch.no_grad()
def logits_and_features(model: nn.Module, images: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, C, H, W)`` logits and ``(B, D, H, W)`` float32 features of ``images (B, 3, H, W)``."""
    captured: list[torch.Tensor] = []

    def keep_input(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0])

    handle = classifier_of(model, num_classes).register_forward_pre_hook(keep_input)
    try:
        logits = model(images)
    finally:
        handle.remove()
    features = F.normalize(captured[-1].float(), dim=1)
    features = F.interpolate(features, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return logits, features
