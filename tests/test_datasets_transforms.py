"""Training augmentations of the on-disk datasets (supplementary §3.2): seeded, geometry shared by image and
target, nearest labels, ignore padding, the flip rate and the crop bounds."""

from __future__ import annotations

import pytest
import torch
from albench_plugins.datasets._transforms import (
    center_crop,
    pad,
    random_resized_crop_box,
    resize_target,
    resized_crop_flip,
    zoom_crop_flip,
)

SCALE, RATIO = (0.85, 1.0), (3 / 4, 4 / 3)


def _ramp(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image channels 0/1 hold each pixel's row/column; the target encodes both as row·1000 + column."""
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width)
    image = torch.stack([rows, cols, torch.zeros_like(rows)])
    target = rows.long() * 1000 + cols.long()
    return image, target


def _zoom(image, target, seed, **kw):
    options = dict(max_extra=20, mode="resize", flip_probability=0.5, ignore_index=255) | kw
    return zoom_crop_flip(image, target, torch.Generator().manual_seed(seed), **options)


def _crop(image, target, seed, flip=0.5):
    return resized_crop_flip(
        image, target, torch.Generator().manual_seed(seed), scale=SCALE, ratio=RATIO, flip_probability=flip
    )


@pytest.mark.parametrize("augment", [_zoom, _crop])
def test_augmentation_is_deterministic_for_a_seed_and_differs_across_seeds(augment):
    image, target = _ramp(30, 40)
    a, b = augment(image, target, 7), augment(image, target, 7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    outcomes = {tuple(augment(image, target, seed)[1].flatten()[:50].tolist()) for seed in range(8)}
    assert len(outcomes) > 1


@pytest.mark.parametrize("augment", [_zoom, _crop])
def test_image_and_target_move_together_and_keep_their_size(augment):
    image, target = _ramp(30, 40)
    for seed in range(12):
        new_image, new_target = augment(image, target, seed)
        assert new_image.shape == (3, 30, 40) and new_target.shape == (30, 40) and new_target.dtype == torch.int64
        # The target is a nearest source pixel of the bilinear image sample: within one pixel in each axis.
        assert (new_image[0] - (new_target // 1000).float()).abs().max() <= 1.0
        assert (new_image[1] - (new_target % 1000).float()).abs().max() <= 1.0


@pytest.mark.parametrize("augment", [_zoom, _crop])
def test_target_values_are_only_source_values(augment):
    """Nearest neighbour on labels: no value is invented by resampling."""
    image = torch.rand(3, 30, 40)
    target = torch.randint(0, 5, (30, 40))
    for seed in range(6):
        assert set(augment(image, target, seed)[1].unique().tolist()) <= set(range(5))


def test_augmentation_handles_targets_with_leading_dimensions():
    image, target = _ramp(30, 40)
    stacked = torch.stack([target, target + 7])
    for augment in (_zoom, _crop):
        _, single = augment(image, target, 3)
        _, both = augment(image, stacked, 3)
        assert torch.equal(both[0], single) and torch.equal(both[1], single + 7)


def test_pad_fills_image_with_black_and_target_with_ignore():
    image, target = torch.ones(3, 2, 3), torch.tensor([[1, 2, 3], [4, 5, 6]])
    padded_image, padded_target = pad(image, target, 2, ignore_index=255)
    assert padded_target.shape == (6, 7) and padded_image.shape == (3, 6, 7)
    assert padded_target[2:4, 2:5].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert (padded_target == 255).sum() == 6 * 7 - 6
    assert padded_image.sum() == 3 * 6


def test_pad_mode_centre_crop_gives_the_input_back_or_its_mirror():
    """Symmetric padding then a centre crop to the input size is the identity (the padding reading of the supplementary's wording)."""
    image, target = _ramp(30, 40)
    for seed in range(6):
        new_image, new_target = _zoom(image, target, seed, mode="pad")
        assert torch.equal(new_target, target) or torch.equal(new_target, target.flip(-1))
        assert torch.equal(new_image[1], new_target.remainder(1000).float())


def test_zoom_by_a_hand_computed_amount():
    """ℓ = 4 on a 4×4 target: upscaled to 8×8, pixel (r, c) comes from (r // 2, c // 2); the centre crop keeps
    rows and columns 2..5, i.e. source rows and columns 1, 1, 2, 2."""
    target = torch.arange(16).reshape(4, 4)
    upscaled = resize_target(target, 8, 8)
    assert upscaled[::2, ::2].tolist() == target.tolist() and upscaled[1::2, 1::2].tolist() == target.tolist()
    assert center_crop(upscaled, 4, 4).tolist() == [[5, 5, 6, 6], [5, 5, 6, 6], [9, 9, 10, 10], [9, 9, 10, 10]]


def test_zoom_amount_stays_within_its_bound():
    """With max_extra = 0 nothing is resized: only flips happen."""
    image, target = _ramp(30, 40)
    for seed in range(6):
        _, new_target = _zoom(image, target, seed, max_extra=0)
        assert torch.equal(new_target, target) or torch.equal(new_target, target.flip(-1))


@pytest.mark.parametrize("augment", [_zoom, _crop])
def test_flip_probability_over_a_fixed_set_of_seeds(augment):
    """A flip reverses the column order, so the target's first column holds the largest column index."""
    image, target = _ramp(30, 40)
    flips = sum(int(augment(image, target, seed)[1][0, 0] % 1000 > 20) for seed in range(300))
    assert 120 <= flips <= 180  # Binomial(300, 0.5): mean 150, sd 8.7


def test_flip_probability_zero_and_one():
    image, target = _ramp(30, 40)
    for seed in range(10):
        assert _zoom(image, target, seed, flip_probability=0.0, max_extra=0)[1][0, 0] == 0
        assert _zoom(image, target, seed, flip_probability=1.0, max_extra=0)[1][0, 0] == 39


def test_random_resized_crop_scale_and_ratio_within_bounds():
    for height, width in ((200, 200), (150, 240)):
        for seed in range(200):
            top, left, h, w = random_resized_crop_box(height, width, SCALE, RATIO, torch.Generator().manual_seed(seed))
            assert 0 <= top and top + h <= height and 0 <= left and left + w <= width
            assert 0.85 - 0.02 <= h * w / (height * width) <= 1.0
            assert 3 / 4 - 0.02 <= w / h <= 4 / 3 + 0.02


def test_random_resized_crop_falls_back_to_the_largest_central_crop_within_the_ratio():
    """A 10×100 strip admits no crop of area ≥ 85% with w/h ≤ 4/3: after 10 tries torchvision's rule takes
    the central h = 10, w = round(10 · 4/3) = 13 window."""
    box = random_resized_crop_box(10, 100, SCALE, RATIO, torch.Generator().manual_seed(0))
    assert box == (0, (100 - 13) // 2, 10, 13)
