"""Pixel uncertainty formulas against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from albench.uncertainty import OvrEntropy, bernoulli_variance, ovr_entropy, shannon_entropy


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


def _authors_ovr_entropy(all_proba):
    """The OREAL authors' expression (simple_AL ``utils.py: compute_entropy_v2``), on ``(B, C, H, W)`` float32."""
    smooth = 1e-7
    class_entropy = []
    for c in range(all_proba.shape[1]):
        proba_pos = all_proba[:, c, :, :]
        proba_neg = 1 - proba_pos
        all_proba_bin = torch.stack([proba_neg, proba_pos], dim=1)
        log_proba_bin = torch.log(all_proba_bin + smooth)
        class_entropy.append(-(all_proba_bin * log_proba_bin).sum(1))
    return torch.stack(class_entropy, dim=1)


def test_ovr_entropy_is_the_authors_float32_expression_bit_for_bit():
    # Softmax maps, saturated ones (p near ½), and the edges: 0, 1, subnormal, tiny, 1 − ulp.
    g = torch.Generator().manual_seed(4)
    maps = [torch.softmax(torch.randn(2, 5, 23, 31, generator=g) * scale, dim=1) for scale in (0.05, 1.0, 8.0)]
    edges = torch.tensor([0.0, 1.0, 1e-45, 1e-30, 7e-9, 1e-7, 0.5, 0.49999997, 1 - 5.96e-8, 0.9999999])
    maps.append(edges.reshape(1, 1, 2, 5))
    for probs in maps:
        ours, theirs = ovr_entropy(probs), _authors_ovr_entropy(probs)
        assert ours.dtype == theirs.dtype == torch.float32
        assert torch.equal(ours.view(torch.int32), theirs.view(torch.int32))


def test_ovr_entropy_of_a_pixel_does_not_depend_on_the_tensor_it_sits_in():
    # torch's float32 log is elementwise (the engine scores candidate pixels alone and must get the same bits).
    p = torch.rand(10_007, generator=torch.Generator().manual_seed(5))
    whole = ovr_entropy(p)
    pieces = torch.cat(
        [ovr_entropy(p[start : start + size].clone()) for start, size in ((0, 1), (1, 7), (8, 33), (41, 9_966))]
    )
    singles = torch.stack([ovr_entropy(p[i : i + 1].clone())[0] for i in range(0, 10_007, 97)])
    assert torch.equal(whole.view(torch.int32), pieces.view(torch.int32))
    assert torch.equal(whole[::97].view(torch.int32), singles.view(torch.int32))


def test_ovr_entropy_of_a_certain_pixel_is_minus_log_of_one_plus_epsilon_in_float32():
    # p = 0 and p = 1 both give −ln(1 + ε) in float32: ln(1.0000001f) = ln(1 + 2⁻²³) ≈ 1.1920928e−7, negated.
    h = ovr_entropy(torch.tensor([0.0, 1.0]))
    assert h[0].item() == h[1].item() == pytest.approx(-1.1920928e-7, rel=1e-6)
    assert OvrEntropy().key_tolerance == 2**13 and OvrEntropy().elementwise_key is not None


def test_ovr_entropy_is_symmetric_and_peaks_at_one_half():
    p = torch.linspace(0, 1, 101, dtype=torch.float64)
    h = ovr_entropy(p)
    assert torch.allclose(h, h.flip(0), atol=1e-12)
    assert int(h.argmax()) == 50


def test_bernoulli_variance_is_p_times_one_minus_p_in_float32():
    # 0.1f = 0.10000000149, 1 − 0.1f = 0.89999997616 (float32), their product rounds to 0.089999996f, one ulp
    # below float32(0.09): float32 arithmetic, one rounding per operation, as torch computes p·(1 − p).
    p = np.float32(0.1)
    assert bernoulli_variance(p) == np.float32(p * (np.float32(1) - p)) == np.float32(0.089999996)
    assert np.float32(bernoulli_variance(p)) != np.float32(0.09)
    assert bernoulli_variance(np.float32(0.5)) == np.float32(0.25) and bernoulli_variance(np.float32(1.0)) == 0


def test_shannon_entropy_hand_computed():
    probs = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=torch.float64)
    assert shannon_entropy(probs).tolist() == pytest.approx([math.log(2), 0.0, 1.5 * math.log(2)])
