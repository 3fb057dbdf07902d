"""Pixel uncertainty formulas against hand-computed values."""

import math

import pytest
import torch

from albench.uncertainty import OvrEntropy, ovr_entropy, shannon_entropy


def test_ovr_entropy_hand_computed():
    p = torch.tensor([0.5, 0.1, 0.0, 1.0], dtype=torch.float64)
    h = ovr_entropy(p)
    eps = 1e-7
    assert h[0].item() == pytest.approx(-2 * 0.5 * math.log(0.5 + eps))  # ≈ ln 2
    assert h[1].item() == pytest.approx(-(0.1 * math.log(0.1 + eps) + 0.9 * math.log(0.9 + eps)))  # ≈ 0.325083
    assert h[1].item() == pytest.approx(0.3250829, abs=1e-6)
    # p = 0 and p = 1: the ε keeps the logarithm finite and the entropy (almost) zero.
    assert h[2].item() == pytest.approx(-math.log(1 + eps))
    assert h[3].item() == pytest.approx(-math.log(1 + eps))


def test_ovr_entropy_in_place_path_equals_the_autograd_path_and_leaves_its_input_alone():
    p = torch.rand(500, 6, generator=torch.Generator().manual_seed(3))
    before = p.clone()
    tracked = p.clone().requires_grad_(True)
    fast, slow = ovr_entropy(p), ovr_entropy(tracked)
    assert torch.equal(fast, slow.detach()) and torch.equal(p, before)
    slow.sum().backward()  # dH/dp = ln((1 − p + ε) / (p + ε)) − p/(p + ε) + (1 − p)/(1 − p + ε)
    x = before[0, 0].item()
    expected = math.log((1 - x + 1e-7) / (x + 1e-7)) - x / (x + 1e-7) + (1 - x) / (1 - x + 1e-7)
    assert tracked.grad[0, 0].item() == pytest.approx(expected, rel=1e-4)


def test_from_order_key_leaves_the_key_alone():
    key = torch.tensor([[0.09, 0.25, 0.0]], dtype=torch.float64)
    OvrEntropy().from_order_key(key)
    assert key.tolist() == [[0.09, 0.25, 0.0]]


def test_ovr_entropy_is_symmetric_and_peaks_at_one_half():
    p = torch.linspace(0, 1, 101, dtype=torch.float64)
    h = ovr_entropy(p)
    assert torch.allclose(h, h.flip(0), atol=1e-12)
    assert int(h.argmax()) == 50


def test_order_key_round_trip_matches_direct_computation():
    probs = torch.rand(1000, 5, generator=torch.Generator().manual_seed(0))
    score = OvrEntropy()
    direct = score.compute(probs).double()
    via_key = score.from_order_key(score.order_key(probs))
    assert torch.allclose(direct, via_key, atol=1e-6)


def test_shannon_entropy_hand_computed():
    probs = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=torch.float64)
    assert shannon_entropy(probs).tolist() == pytest.approx([math.log(2), 0.0, 1.5 * math.log(2)])
