"""Training losses: dense labels (cross-entropy, focal) and partial labels (Hwang et al. 2023).

Partial-label targets carry, per pixel, the bitmask of the classes its region was annotated with
(bit c set ⇔ class c in the set; 0 = not labeled) and the pixel's region id (−1 = not labeled), stacked as
a ``(B, 2, H, W) int64`` tensor: see :data:`CLASS_SET`, :data:`REGION`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CLASS_SET",
    "REGION",
    "class_weights",
    "dense_loss",
    "merged_positive_loss",
    "prototypical_pixel_loss",
    "set_membership",
]

CLASS_SET = 0
REGION = 1
EPSILON = 1e-8


def class_weights(pixel_counts: np.ndarray, rule: str) -> np.ndarray:
    """Per-class loss weights from the labeled pixels' class counts n_c (long-tailed classes weigh more).

    With f_c = n_c / Σn: ``inverse-sqrt`` w_c ∝ f_c^(−1/2), ``inverse`` w_c ∝ 1/f_c (every class then weighs
    the same in total), ``none`` w_c = 1. Normalised so the mean weight over the labeled pixels is 1
    (Σ_c f_c·w_c = 1), which keeps the loss on the unweighted scale; classes without pixels get 0.
    """
    counts = np.asarray(pixel_counts, dtype=np.float64)
    if rule == "none" or counts.sum() == 0:
        return np.ones(len(counts))
    power = {"inverse-sqrt": 0.5, "inverse": 1.0}[rule]
    frequency = counts / counts.sum()
    weights = np.zeros(len(counts))
    present = frequency > 0
    weights[present] = frequency[present] ** -power
    return weights / float((frequency * weights).sum())


def dense_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int,
    *,
    focal_gamma: float | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy (or focal loss −(1 − p_t)^γ log p_t) over pixels whose target is not ignored.

    With ``class_weights`` (C,) each pixel's term is multiplied by the weight of its target class before the
    mean. 0, with a gradient, when no pixel is labeled (an augmentation can crop every labeled pixel away).
    """
    valid = target != ignore_index
    if not bool(valid.any()):
        return logits.sum() * 0.0
    log_probs = F.log_softmax(logits.float(), dim=1)
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)[valid]
    terms = -(((1 - picked.exp()) ** focal_gamma) * picked) if focal_gamma is not None else -picked
    if class_weights is not None:
        terms = terms * class_weights.to(terms.device, terms.dtype)[safe_target[valid]]
    return terms.mean()


def set_membership(class_sets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(...,)`` bitmasks → ``(..., C) bool``: whether class c is in each set."""
    bits = torch.arange(num_classes, device=class_sets.device)
    return ((class_sets.unsqueeze(-1) >> bits) & 1).bool()


def merged_positive_loss(probs: torch.Tensor, class_sets: torch.Tensor) -> torch.Tensor:
    """Merged positive loss: mean over labeled pixels of −log Σ_{c∈Y(x)} p_c(x).

    ``probs (B, C, H, W)``, ``class_sets (B, H, W)`` bitmasks (0 = unlabeled pixel).
    """
    labeled = class_sets != 0
    if not bool(labeled.any()):
        return probs.sum() * 0.0
    members = set_membership(class_sets[labeled], probs.shape[1])
    pixel_probs = probs.permute(0, 2, 3, 1)[labeled]
    return -torch.log((pixel_probs * members).sum(dim=1) + EPSILON).mean()


def prototypical_pixel_loss(probs: torch.Tensor, class_sets: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Prototypical pixel loss: every annotated class has at least one pixel of its region.

    For each labeled region s and class c ∈ Y(s), the prototype pixel of c is the region's pixel most
    likely to be c; the loss is the mean over (s, c) of −log max_{x∈s} p_c(x) (Hwang et al. 2023's
    multiple-instance term, as in their code's max-pooled "group" loss).
    ``regions (B, H, W)`` are per-image region ids (−1 = unlabeled).
    """
    b, c = probs.shape[:2]
    labeled = regions >= 0
    if not bool(labeled.any()):
        return probs.sum() * 0.0
    width = int(regions.max()) + 1
    batch_index = torch.arange(b, device=regions.device).view(b, 1, 1).expand_as(regions)
    groups = (batch_index * width + regions)[labeled]
    pixel_probs = probs.permute(0, 2, 3, 1)[labeled]
    num_groups = b * width
    region_max = torch.zeros(num_groups, c, dtype=probs.dtype, device=probs.device)
    region_max = region_max.scatter_reduce(
        0, groups.unsqueeze(1).expand(-1, c), pixel_probs, reduce="amax", include_self=True
    )
    region_sets = torch.zeros(num_groups, dtype=class_sets.dtype, device=probs.device)
    region_sets = region_sets.scatter_reduce(0, groups, class_sets[labeled], reduce="amax", include_self=True)
    members = set_membership(region_sets, c)
    return -torch.log(region_max[members] + EPSILON).mean()
