"""The labeling scheme component: what an annotated region costs and what the model trains on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from albench.params import NoParams

__all__ = ["LabelingScheme", "RegionLabels"]


class RegionLabels:
    """The oracle's view of one image's regions: superpixel map, ground truth, per-region class histogram.

    ``histogram[k, c]`` counts the pixels of class ``c`` in region ``k`` (void excluded).
    """

    def __init__(self, superpixels: np.ndarray, mask: np.ndarray, histogram: np.ndarray, ignore_index: int):
        self.superpixels = superpixels
        self.mask = mask
        self.histogram = histogram
        self.ignore_index = ignore_index

    def dominant(self) -> np.ndarray:
        """Each region's most frequent class (lowest index on ties); ``ignore_index`` if all void."""
        return dominant_classes(self.histogram, self.ignore_index)


def dominant_classes(histogram: np.ndarray, ignore_index: int) -> np.ndarray:
    """Row-wise argmax of a ``(K, C)`` class histogram, ``ignore_index`` for empty rows."""
    dominant: np.ndarray = histogram.argmax(axis=1).astype(np.int64)
    dominant[histogram.sum(axis=1) == 0] = ignore_index
    return dominant


class LabelingScheme(ABC):
    """Base class of labeling-scheme plugins.

    ``unit_cost`` tells strategies whether every region costs one click, so they may spend the budget in
    any order; otherwise they should spend it in their preferred order, because costs vary.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams
    unit_cost: ClassVar[bool] = True

    def __init__(self, params: Any) -> None:
        self.params = params

    def region_cost(self, classes_present: np.ndarray) -> np.ndarray:
        """Clicks to annotate regions containing ``classes_present[i]`` distinct non-void classes."""
        return np.ones(len(classes_present), dtype=np.int64)

    @abstractmethod
    def render_target(self, regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
        """The ``(H, W) int64`` training target of one image whose regions ``labeled`` are annotated.

        Pixels outside the labeled regions, and void pixels, get ``regions.ignore_index``.
        """
