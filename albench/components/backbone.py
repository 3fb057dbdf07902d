"""The backbone component: builds the segmentation model that every strategy trains."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from torch import nn

from albench.params import NoParams

__all__ = ["Backbone"]


class Backbone(ABC):
    """Base class of backbone plugins.

    ``build`` is called after the runner has seeded the global torch generator, so a model initialised
    with torch's default initialisers is identical for every strategy under one seed. Heads should
    upsample with nearest interpolation by default (the OREAL paper reached exact reproducibility only with nearest; docs/protocol.md#determinism).
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any) -> None:
        self.params = params

    @abstractmethod
    def build(self, num_classes: int) -> nn.Module:
        """A fresh model with ``num_classes`` output channels."""
