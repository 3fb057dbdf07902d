"""The superpixel component: splits an image into regions, the unit of annotation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from albench.params import NoParams

__all__ = ["SuperpixelMethod"]


class SuperpixelMethod(ABC):
    """Base class of superpixel plugins.

    The core caches the result per (dataset, method, parameters, image) and relabels it to contiguous
    ids 0..K-1, so ``segment`` may return any integer labels. It must be deterministic.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any) -> None:
        self.params = params

    @abstractmethod
    def segment(self, image: np.ndarray) -> np.ndarray:
        """Region labels ``(H, W)`` for an ``(H, W, 3) uint8`` image."""
