"""Pixel uncertainty measures of SPEC.md §Strategies, as plain functions and as engine :class:`PixelScore` s."""

from __future__ import annotations

import torch

from albench.scoring import PixelScore

__all__ = ["OVR_EPSILON", "OvrEntropy", "ProbTimesEntropy", "ShannonEntropy", "ovr_entropy", "shannon_entropy"]

OVR_EPSILON = 1e-7


def ovr_entropy(p: torch.Tensor, eps: float = OVR_EPSILON) -> torch.Tensor:
    """One-vs-rest entropy per class, natural log: H_c = −p_c ln(p_c + ε) − (1 − p_c) ln(1 − p_c + ε)."""
    entropy: torch.Tensor = -(p * torch.log(p + eps) + (1 - p) * torch.log(1 - p + eps))
    return entropy


def shannon_entropy(probs: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """H = −Σ_c p_c ln p_c over the last dimension (0·ln 0 taken as 0)."""
    entropy: torch.Tensor = -torch.special.xlogy(probs, probs + eps).sum(dim=-1)
    return entropy


class OvrEntropy(PixelScore):
    """C channels of one-vs-rest entropy (OREAL).

    H_c is symmetric about p_c = ½ and decreasing in |p_c − ½|, so any order statistic of H_c over a
    region is H_c at the matching order statistic of −|p_c − ½|: the engine reduces that key and takes
    logarithms of the reduced values only. They are evaluated in float64 at p = ½ − |p − ½|.
    """

    name = "ovr-entropy"

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return ovr_entropy(probs)

    def order_key(self, probs: torch.Tensor) -> torch.Tensor | None:
        return -(probs - 0.5).abs()

    def from_order_key(self, key: torch.Tensor) -> torch.Tensor:
        return ovr_entropy(0.5 + key.to(torch.float64))


class ShannonEntropy(PixelScore):
    """One channel: the Shannon entropy of the pixel's softmax."""

    name = "entropy"

    def channels(self, num_classes: int) -> int:
        return 1

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return shannon_entropy(probs).unsqueeze(1)


class ProbTimesEntropy(PixelScore):
    """C channels of p_c·H (the OREAL Prob×Entropy ablation)."""

    name = "prob-entropy"

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return probs * shannon_entropy(probs).unsqueeze(1)
