"""The labeling scheme component: what an annotated region costs and what the model trains on.

A scheme trains in one or more stages (:class:`TrainingStage`). Most have one: dense per-pixel targets
from :meth:`LabelingScheme.render_target` and the protocol's loss. Weak (multi-class) labels have two: a
partial-label stage, then a stage on pseudo-labels made from the first stage's predictions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from albench.losses import dense_loss
from albench.params import NoParams

if TYPE_CHECKING:
    from albench.run.protocol import Protocol

__all__ = ["DenseStage", "LabelingScheme", "RegionLabels", "TrainingStage", "dominant_classes", "dominant_confusion"]


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


def dominant_confusion(histogram: np.ndarray, num_classes: int, ignore_index: int) -> np.ndarray:
    """``(C, C)`` pixel counts of (ground truth, dominant label) for one image's ``(K, C)`` class histogram.

    All-void regions (empty rows) contribute nothing: their pixels are void in the ground truth too.
    """
    dominant = dominant_classes(histogram, ignore_index)
    labeled = histogram.sum(axis=1) > 0
    onehot = np.eye(num_classes, dtype=np.int64)[dominant[labeled]]
    return histogram[labeled].astype(np.int64).T @ onehot  # type: ignore[no-any-return]


class TrainingStage(ABC):
    """One training stage: how an image's target is built and which loss trains on it.

    A stage with ``needs_previous_stage`` builds its targets from the previous stage's predictions: the
    runner computes them once per round, after the previous stage trained, and passes each labeled image's
    softmax ``(C, H, W)`` as ``previous_probs``. With ``needs_previous_features`` it also passes the model's
    pixel features ``(D, H, W)`` as ``previous_features``: the input of the model's last ``Conv2d`` with C
    output channels (its classifier), L2-normalised per pixel, then bilinearly upsampled to the image.
    """

    name: str = "train"
    needs_previous_stage: bool = False
    needs_previous_features: bool = False

    @abstractmethod
    def target(
        self,
        regions: RegionLabels,
        labeled: np.ndarray,
        previous_probs: np.ndarray | None,
        previous_features: np.ndarray | None = None,
    ) -> np.ndarray:
        """The ``(..., H, W) int64`` target of one image whose regions ``labeled`` are annotated."""

    def loss(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        protocol: Protocol,
        ignore_index: int,
        class_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The training loss of a batch: ``logits (B, C, H, W)``, ``target (B, ..., H, W)``; ``class_weights``
        (C,) from ``protocol.class_weights``, passed only for stages with dense ``(H, W)`` class targets."""
        gamma = protocol.focal_gamma if protocol.loss == "focal" else None
        return dense_loss(logits, target, ignore_index, focal_gamma=gamma, class_weights=class_weights)


class DenseStage(TrainingStage):
    """The single stage of a scheme with dense targets: :meth:`LabelingScheme.render_target` and the
    protocol's loss (cross-entropy or focal)."""

    def __init__(self, scheme: LabelingScheme) -> None:
        self.scheme = scheme

    def target(
        self,
        regions: RegionLabels,
        labeled: np.ndarray,
        previous_probs: np.ndarray | None,
        previous_features: np.ndarray | None = None,
    ) -> np.ndarray:
        return self.scheme.render_target(regions, labeled)


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

    def named_classes(self, dominant: np.ndarray, present: np.ndarray) -> np.ndarray:
        """``(K, C) bool``: the classes each annotated region's label names, which class-balancing strategies
        count as the OREAL authors' code does (a region counts for every class its training target holds).

        ``dominant`` is ``(K,)`` (``ignore_index`` for an all-void region), ``present`` ``(K, C) bool`` the
        non-void classes in each region. Default: the dominant class alone; schemes that label every class of a
        region (``weak``, ``precise``) return ``present``.
        """
        named = np.zeros(present.shape, dtype=bool)
        rows = np.flatnonzero((dominant >= 0) & (dominant < present.shape[1]))
        named[rows, dominant[rows]] = True
        return named

    @abstractmethod
    def render_target(self, regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
        """The ``(H, W) int64`` training target of one image whose regions ``labeled`` are annotated.

        Pixels outside the labeled regions, and void pixels, get ``regions.ignore_index``.
        """

    def stages(self, num_classes: int) -> Sequence[TrainingStage]:
        """The training stages, in order; the last one's model is evaluated as ``miou`` and queries."""
        return (DenseStage(self),)
