"""Training losses against hand-computed values."""

import math

import pytest
import torch

from albench.losses import dense_loss, merged_positive_loss, prototypical_pixel_loss, set_membership

# One 1x3 image, three classes. Pixels x1, x2 in region 0 annotated {0, 1}; x3 in region 1 annotated {2}.
PROBS = torch.tensor([[0.5, 0.1, 0.2], [0.3, 0.6, 0.2], [0.2, 0.3, 0.6]]).reshape(1, 3, 1, 3)
SETS = torch.tensor([[[0b011, 0b011, 0b100]]])
REGIONS = torch.tensor([[[0, 0, 1]]])


def test_set_membership_reads_bitmasks():
    assert set_membership(torch.tensor([0b101, 0]), 3).tolist() == [[True, False, True], [False, False, False]]


def test_merged_positive_loss_hand_computed():
    # x1: -ln(0.5 + 0.3); x2: -ln(0.1 + 0.6); x3: -ln(0.6)
    expected = (-math.log(0.8) - math.log(0.7) - math.log(0.6)) / 3
    assert merged_positive_loss(PROBS, SETS).item() == pytest.approx(expected, abs=1e-6)


def test_merged_positive_loss_skips_unlabeled_pixels():
    sets = torch.tensor([[[0b011, 0, 0]]])
    assert merged_positive_loss(PROBS, sets).item() == pytest.approx(-math.log(0.8), abs=1e-6)


def test_prototypical_pixel_loss_hand_computed():
    # region 0: max p0 = 0.5 (x1), max p1 = 0.6 (x2); region 1: max p2 = 0.6
    expected = (-math.log(0.5) - math.log(0.6) - math.log(0.6)) / 3
    assert prototypical_pixel_loss(PROBS, SETS, REGIONS).item() == pytest.approx(expected, abs=1e-6)


def test_partial_losses_are_zero_with_a_gradient_when_nothing_is_labeled():
    probs = PROBS.clone().requires_grad_(True)
    for loss in (
        merged_positive_loss(probs, torch.zeros_like(SETS)),
        prototypical_pixel_loss(probs, torch.zeros_like(SETS), torch.full_like(REGIONS, -1)),
    ):
        assert loss.item() == 0.0 and loss.requires_grad


def test_dense_cross_entropy_and_focal_hand_computed():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])).reshape(1, 2, 3).permute(0, 2, 1)[..., None]
    target = torch.tensor([[0, 255]])[..., None]  # second pixel ignored
    assert dense_loss(logits, target, 255).item() == pytest.approx(-math.log(0.5), abs=1e-6)
    assert dense_loss(logits, target, 255, focal_gamma=2.0).item() == pytest.approx(-(0.5**2) * math.log(0.5), abs=1e-6)
    assert dense_loss(logits, torch.full_like(target, 255), 255).item() == 0.0


def test_merged_positive_loss_of_single_class_sets_is_cross_entropy():
    logits = torch.randn(2, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 4, (2, 5, 6), generator=torch.Generator().manual_seed(1))
    merged = merged_positive_loss(torch.softmax(logits, dim=1), 1 << labels)
    assert merged.item() == pytest.approx(dense_loss(logits, labels, 255).item(), abs=1e-5)
