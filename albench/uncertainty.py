"""Pixel uncertainty measures of docs/strategies.md, as plain functions and as engine :class:`PixelScore` s."""

from __future__ import annotations

import numba
import numpy as np
import torch

from albench.statistics import PixelScore

__all__ = [
    "OVR_EPSILON",
    "BvsbMargin",
    "BvsbRatio",
    "OvrEntropy",
    "PredictedClass",
    "ProbTimesEntropy",
    "Probabilities",
    "ShannonEntropy",
    "bernoulli_variance",
    "bvsb_margin",
    "bvsb_ratio",
    "ovr_entropy",
    "shannon_entropy",
    "tempered",
]

OVR_EPSILON = 1e-7


def ovr_entropy(p: torch.Tensor, eps: float = OVR_EPSILON) -> torch.Tensor:
    """One-vs-rest entropy per class, natural log: H_c = −p_c ln(p_c + ε) − (1 − p_c) ln(1 − p_c + ε).

    Bit for bit the OREAL authors' float32 expression (``utils.py: compute_entropy_v2`` in
    github.com/feiwu77777/simple_AL): ``b = stack([1 − p, p]); −(b · log(b + 1e-7)).sum(1)``, i.e. the same
    elementwise float32 operations (1 − p; x + ε with ε rounded to float32; log; products) and one float32
    addition of the two terms, whose order does not matter, then an exact negation. torch's float32 log is
    elementwise, so H_c of a pixel does not depend on the tensor it sits in (checked in the tests).
    Without autograd the temporaries are reused in place (same operations, same roundings): on whole
    probability maps each temporary is as large as the map, and allocating it costs more than the arithmetic.
    """
    if p.requires_grad:
        entropy: torch.Tensor = -(p * torch.log(p + eps) + (1 - p) * torch.log(1 - p + eps))
        return entropy
    q = 1 - p
    positive = torch.add(p, eps).log_().mul_(p)
    return torch.add(q, eps).log_().mul_(q).add_(positive).neg_()


def shannon_entropy(probs: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """H = −Σ_c p_c ln(p_c + ε) over the last dimension (0·ln 0 taken as 0)."""
    entropy: torch.Tensor = -torch.special.xlogy(probs, probs + eps).sum(dim=-1)
    return entropy


def tempered(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(z / T) from p = softmax(z), over the last dimension, in float64.

    ln p differs from z by one constant per pixel, which softmax ignores, so softmax(ln p / T) is exactly the
    softmax at temperature T (a probability that underflowed to 0 stays 0). T = 1 returns ``probs`` itself.
    """
    if temperature == 1.0:
        return probs
    return torch.softmax(torch.log(probs.to(torch.float64)) / temperature, dim=-1)


def _top_two(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """p₍₁₎ and p₍₂₎, the highest and second-highest class probabilities (p₍₂₎ = 0 with a single class)."""
    if probs.shape[-1] < 2:
        return probs[..., 0], torch.zeros_like(probs[..., 0])
    top = probs.topk(2, dim=-1).values
    return top[..., 0], top[..., 1]


def bvsb_ratio(probs: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """BvSB (Joshi et al. 2009, as a ratio): u = p₍₂₎ / p₍₁₎ ∈ [0, 1], higher = more uncertain.

    At temperature T the ratio is exp((z₍₂₎ − z₍₁₎) / T) = (p₍₂₎ / p₍₁₎)^(1/T); the argmax does not move.
    """
    first, second = _top_two(probs)
    ratio = second / first
    if temperature == 1.0:
        return ratio
    return ratio.to(torch.float64).pow(1.0 / temperature)


def bvsb_margin(probs: torch.Tensor) -> torch.Tensor:
    """The best-versus-second-best margin p₍₁₎ − p₍₂₎ (Joshi et al. 2009); lower = more uncertain."""
    first, second = _top_two(probs)
    return first - second


@numba.njit(inline="always")
def bernoulli_variance(p: float) -> float:
    """k = p(1 − p) in float32, the key of one-vs-rest entropy (a numba scalar function, fused by the engine)."""
    # A float32 one keeps float32 arithmetic for float32 p (an integer 1 would promote to float64 in numba).
    return p * (np.float32(1.0) - p)  # type: ignore[return-value]


class OvrEntropy(PixelScore):
    """C channels of one-vs-rest entropy (OREAL), exactly as :func:`ovr_entropy` computes it.

    H_c is symmetric about p_c = ½ and increasing in k = p_c(1 − p_c), so a region's maximal H_c sits at
    one of its largest keys: the CPU engine reduces k (:func:`bernoulli_variance`) and evaluates H_c only on
    the pixels whose key lies within :attr:`key_tolerance` of the maximum. The float32 H_c as torch rounds it
    is monotone in the float32 key only up to a few ulps; the tolerance, 2¹³ ulps of k (a relative band of
    at least 2⁻¹¹), covers what the rounding can do. Why: with the arguments rounded as torch rounds them
    (1 − p, p + ε, 1 − p + ε: each monotone in p), each of the two terms is monotone in p, and the only
    non-monotone steps are the roundings of log (≤ 1 ulp, as in SLEEF and MKL), of the two products and of
    the sum, at most 2⁻²¹ relative to the terms for two pixels together. Where p ≥ 2⁻¹¹ the exact H_c gains
    at least 2 per unit of k, which outweighs that within a relative band of 10⁻⁴ of k; below, the p-term
    alone gains |ln(p + ε)| − 1 ≥ 5.9 per unit of p, enough within 3·10⁻⁶, and the (1 − p)-term is a
    monotone staircase. Pixels with p ∈ {0, 1} (key 0) all score −ln(1 + ε), no higher than any p ∈ (0, 1).
    ``benchmarks/check_ovr_band.py`` checks the tolerance on every float32 p in [0, ½] (the upper half
    mirrors it exactly): the largest gap any rounding opens is below 3·10⁻⁷ of k, about 5 ulps.
    """

    name = "ovr-entropy"
    elementwise_key = bernoulli_variance
    key_tolerance = 2**13

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return ovr_entropy(probs)


class ShannonEntropy(PixelScore):
    """One channel: the Shannon entropy of the pixel's softmax, H = −Σ_c p_c ln(p_c + ε)."""

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = eps
        self.name = "entropy" if eps == 0.0 else f"entropy(eps={eps:g})"

    def channels(self, num_classes: int) -> int:
        return 1

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return shannon_entropy(probs, self.eps).unsqueeze(1)


class ProbTimesEntropy(PixelScore):
    """C channels of p_c·H (the OREAL Prob×Entropy ablation)."""

    name = "prob-entropy"

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return probs * shannon_entropy(probs).unsqueeze(1)


class BvsbRatio(PixelScore):
    """One channel: u = p₍₂₎/p₍₁₎ at temperature T (Revisiting SP, PixelBal, the BvSB baseline)."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature
        self.name = "bvsb-ratio" if temperature == 1.0 else f"bvsb-ratio(T={temperature:g})"

    def channels(self, num_classes: int) -> int:
        return 1

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return bvsb_ratio(probs, self.temperature).unsqueeze(1)


class BvsbMargin(PixelScore):
    """One channel: 1 − (p₍₁₎ − p₍₂₎), the margin turned into an uncertainty (higher = more uncertain)."""

    name = "bvsb-margin"

    def channels(self, num_classes: int) -> int:
        return 1

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return (1 - bvsb_margin(probs)).unsqueeze(1)


class Probabilities(PixelScore):
    """C channels: the softmax itself at temperature T (class priors π, mean probability vectors p̄)."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature
        self.name = "probabilities" if temperature == 1.0 else f"probabilities(T={temperature:g})"

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return tempered(probs, self.temperature)


class PredictedClass(PixelScore):
    """C channels: the one-hot argmax (ties to the lowest class); summed per region it counts predicted pixels."""

    name = "predicted-class"

    def channels(self, num_classes: int) -> int:
        return num_classes

    def compute(self, probs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(probs.argmax(dim=1), probs.shape[1]).to(probs.dtype)
