"""The backbone component: builds the segmentation model that every strategy trains."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from albench.params import NoParams

__all__ = ["Backbone", "SegmentationModel"]


@runtime_checkable
class SegmentationModel(Protocol):
    """What the runner needs of a model (usually a foreign ``nn.Module``).

    Called on ``(B, 3, H, W)`` float images in [0, 1] (normalisation is the model's job), it returns
    ``(B, C, H, W)`` logits at the input resolution.
    """

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...

    def parameters(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...


class Backbone(ABC):
    """Base class of backbone plugins.

    ``build`` is called after the runner has seeded the global torch generator, so a model initialised
    with torch's default initialisers is identical for every strategy under one seed. Heads should
    upsample with nearest interpolation by default (SPEC.md §Determinism).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any) -> None:
        self.params = params

    @abstractmethod
    def build(self, num_classes: int) -> nn.Module:
        """A fresh model with ``num_classes`` output channels."""
