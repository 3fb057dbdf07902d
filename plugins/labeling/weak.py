"""``weak``: multi-class region labels (Hwang et al. 2023), one click per class present, trained in two stages.

The annotator names the set of classes present in a region (void ignored); that costs one click per class.
Training follows Hwang et al.'s two stages (docs/protocol.md#labeling-schemes):

1. ``partial``: the model learns from the class sets directly with the merged positive loss
   −log Σ_{c∈Y} p_c(x) at every labeled pixel, plus ``prototype_weight`` × their prototypical pixel loss
   (for each region and each class c of its set, −log of the region's highest p_c).
2. ``pseudo``: a second model trains with the protocol's loss on pseudo-labels made from the stage-1 model.
   ``pseudo_labels=prototype`` (default) is Hwang et al.'s rule from their official code (MulActSeg,
   ``trainer/eval_save_cosplbl_prop_includeonehot.py``; :mod:`albench_plugins.labeling._prototypes`): per
   labeled region, one prototype per named class (the feature of the region's pixel with the highest p_c);
   each pixel of the region takes the class of its most similar prototype, and with ``expansion`` the
   labels spread to the touching regions' pixels that are more similar to a prototype than the median of
   its own pixels. ``pseudo_labels=argmax`` is the simpler rule: argmax_{c∈Y(s)} p_c(x) on the labeled
   pixels only.

Both stages are evaluated every round (``stage_miou``); the second stage's model is reported as ``miou``
and scores the pool.

A region made only of void pixels has an empty class set and trains nothing; it costs one click (the
annotator still had to look at it), so no query is ever free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from albench_plugins.labeling._prototypes import prototype_pseudo_labels

from albench import LabelingScheme, RegionLabels, Register, hookimpl
from albench.components import TrainingStage
from albench.errors import ComponentError
from albench.losses import CLASS_SET, REGION, merged_positive_loss, prototypical_pixel_loss
from albench.run.protocol import Protocol

MAX_CLASSES = 62  # class sets are int64 bitmasks


@dataclass(frozen=True)
class WeakParams:
    """Parameters of ``weak``.

    Attributes:
        prototype_weight: scales stage 1's prototypical pixel loss (0 leaves only the merged positive loss).
        pseudo_labels: stage 2's targets, ``prototype`` (Hwang et al.) or ``argmax`` (the stage-1 argmax
            within the region's classes).
        expansion: with prototypes, spread labels to the touching regions (Hwang et al.).
    """

    prototype_weight: float = 1.0
    pseudo_labels: Literal["prototype", "argmax"] = "prototype"
    expansion: bool = True

    def __post_init__(self) -> None:
        if self.prototype_weight < 0:
            raise ValueError(f"prototype_weight must be at least 0, got {self.prototype_weight}")


def region_class_sets(histogram: np.ndarray) -> np.ndarray:
    """``(K,) int64`` bitmask of the classes present (non-void) in each region."""
    present = histogram > 0
    return (present.astype(np.int64) << np.arange(histogram.shape[1], dtype=np.int64)).sum(axis=1)


def _labeled_pixels(regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
    """Pixels of the labeled regions that are not void."""
    chosen = np.zeros(regions.histogram.shape[0], dtype=bool)
    chosen[labeled] = True
    mask = regions.mask
    return chosen[regions.superpixels] & (mask >= 0) & (mask < regions.histogram.shape[1])


class PartialLabelStage(TrainingStage):
    """Stage 1: class-set targets ``(2, H, W)``: the pixel's region class set (bitmask) and region id."""

    name = "partial"

    def __init__(self, prototype_weight: float) -> None:
        self.prototype_weight = prototype_weight

    def target(
        self,
        regions: RegionLabels,
        labeled: np.ndarray,
        previous_probs: np.ndarray | None,
        previous_features: np.ndarray | None = None,
    ) -> np.ndarray:
        inside = _labeled_pixels(regions, labeled)
        sets = region_class_sets(regions.histogram)[regions.superpixels]
        return np.stack([np.where(inside, sets, 0), np.where(inside, regions.superpixels, -1)]).astype(np.int64)

    def loss(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        protocol: Protocol,
        ignore_index: int,
        class_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        probs = torch.softmax(logits.float(), dim=1)
        class_sets, region_ids = target[:, CLASS_SET], target[:, REGION]
        loss = merged_positive_loss(probs, class_sets)
        if self.prototype_weight:
            loss = loss + self.prototype_weight * prototypical_pixel_loss(probs, class_sets, region_ids)
        return loss


class PseudoLabelStage(TrainingStage):
    """Stage 2: dense pseudo-labels from the stage-1 model: prototypes (Hwang et al.) or the restricted argmax."""

    name = "pseudo"
    needs_previous_stage = True

    def __init__(self, rule: str = "prototype", expansion: bool = True) -> None:
        self.rule = rule
        self.expansion = expansion
        self.needs_previous_features = rule == "prototype"

    def target(
        self,
        regions: RegionLabels,
        labeled: np.ndarray,
        previous_probs: np.ndarray | None,
        previous_features: np.ndarray | None = None,
    ) -> np.ndarray:
        if previous_probs is None or (self.needs_previous_features and previous_features is None):
            raise ComponentError("labeling 'weak': the pseudo-label stage needs the partial-label stage's predictions")
        if previous_features is None or self.rule == "argmax":
            return pseudo_labels(regions, labeled, previous_probs)
        return prototype_pseudo_labels(
            regions.superpixels,
            labeled,
            regions.histogram > 0,
            previous_probs,
            previous_features,
            regions.ignore_index,
            expansion=self.expansion,
        )


def pseudo_labels(regions: RegionLabels, labeled: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """argmax over c ∈ Y(s) of ``probs (C, H, W)`` at every non-void pixel of the labeled regions."""
    present = regions.histogram > 0  # (K, C)
    allowed = present[regions.superpixels]  # (H, W, C)
    restricted = np.where(allowed, np.moveaxis(probs, 0, -1), -np.inf)
    labels = restricted.argmax(axis=-1).astype(np.int64)
    inside = _labeled_pixels(regions, labeled) & allowed.any(axis=-1)
    return np.where(inside, labels, regions.ignore_index)


class WeakLabeling(LabelingScheme):
    """Multi-class labels: cost = classes present (at least one click); two-stage training."""

    name = "weak"
    version = "2"
    Params = WeakParams
    unit_cost = False

    def region_cost(self, classes_present: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(classes_present, dtype=np.int64), 1)

    def named_classes(self, dominant: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Every class the annotator named: all the non-void classes of the region."""
        return present

    def render_target(self, regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
        """Dense view of the labels for tools that want one: single-class regions get their class, others
        stay ignored (training uses :meth:`stages`)."""
        sets = region_class_sets(regions.histogram)
        single = (sets & (sets - 1)) == 0
        lookup = np.full(len(sets), regions.ignore_index, dtype=np.int64)
        chosen = np.asarray(labeled, dtype=np.int64)
        chosen = chosen[single[chosen] & (sets[chosen] != 0)]
        lookup[chosen] = regions.dominant()[chosen]
        target = lookup[regions.superpixels]
        target[~_labeled_pixels(regions, labeled)] = regions.ignore_index
        return target

    def stages(self, num_classes: int) -> tuple[TrainingStage, ...]:
        if num_classes > MAX_CLASSES:
            raise ComponentError(
                f"labeling 'weak' supports at most {MAX_CLASSES} classes (class sets are 64-bit masks); "
                f"this dataset has {num_classes}"
            )
        return (
            PartialLabelStage(self.params.prototype_weight),
            PseudoLabelStage(self.params.pseudo_labels, self.params.expansion),
        )


@hookimpl
def register_labeling_schemes(register: Register) -> None:
    register(WeakLabeling)
