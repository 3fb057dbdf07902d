"""The built-in components: toy dataset, tiny-deeplab backbone, slic, dominant labeling, random."""

import numpy as np
import pytest
import torch
from albench_plugins.backbones.tiny_deeplab import TinyDeepLabBackbone, TinyDeepLabParams
from albench_plugins.datasets.toy import CLASSES, ToyDataset, ToyParams, render_scene
from albench_plugins.labeling.dominant import DominantLabeling
from albench_plugins.strategies.random import RandomStrategy
from albench_plugins.superpixels.slic import Slic, SlicParams

from albench.components import RegionLabels
from albench.testing import selection_context


def test_toy_scenes_are_deterministic_and_depend_on_the_scene_seed():
    a, b = render_scene(5, 64, 0), render_scene(5, 64, 0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, render_scene(5, 64, 1).image)
    assert a.image.dtype == np.uint8 and a.image.shape == (64, 64, 3) and a.mask.shape == (64, 64)


def test_toy_classes_are_long_tailed_with_several_objects_per_image():
    dataset = ToyDataset(ToyParams(num_images=120))
    masks = [dataset.load(i).mask for i in dataset.image_ids()]
    pixels = np.bincount(np.concatenate([m.ravel() for m in masks]), minlength=len(CLASSES))
    assert pixels[0] / pixels.sum() > 0.6  # background dominates
    assert pixels[1] > 5 * pixels[6]  # head class vs tail class
    assert np.mean([len(np.unique(m)) - 1 for m in masks]) >= 2  # object classes per image


def test_toy_split_is_seeded_disjoint_and_complete():
    dataset = ToyDataset(ToyParams(num_images=50, val_fraction=0.2))
    split = dataset.split(3)
    assert split == dataset.split(3) and split != dataset.split(4)
    assert len(split.val) == 10 and not set(split.pool) & set(split.val)
    assert sorted(split.pool + split.val) == sorted(dataset.image_ids())


def test_toy_augmentation_flips_image_and_target_together():
    dataset = ToyDataset(ToyParams())
    image = torch.arange(12.0).reshape(1, 3, 4).expand(3, 3, 4)
    target = torch.arange(12).reshape(3, 4)
    flips = 0
    for seed in range(20):
        new_image, new_target = dataset.augment(image, target, torch.Generator().manual_seed(seed))
        flipped = torch.equal(new_target, target.flip(-1))
        flips += flipped
        assert torch.equal(new_image[0], new_target.float()) if flipped else torch.equal(new_target, target)
    assert 0 < flips < 20


def test_dominant_labeling_hand_computed():
    superpixels = np.array([[0, 0, 1], [1, 2, 2]])
    mask = np.array([[1, 1, 2], [2, 255, 0]])
    histogram = np.array([[0, 2, 0], [0, 0, 2], [1, 0, 0]])  # region 2: one void pixel, one class-0 pixel
    regions = RegionLabels(superpixels, mask, histogram, ignore_index=255)
    target = DominantLabeling(None).render_target(regions, np.array([0, 2]))
    # region 0 → class 1; region 1 unlabeled → ignored; region 2 → class 0 except its void pixel
    assert target.tolist() == [[1, 1, 255], [255, 255, 0]]
    assert DominantLabeling(None).region_cost(np.array([3, 1, 0])).tolist() == [1, 1, 1]


def test_dominant_ties_go_to_the_lowest_class_and_all_void_regions_are_ignored():
    regions = RegionLabels(np.zeros((1, 1)), np.zeros((1, 1)), np.array([[0, 3, 3], [0, 0, 0]]), 255)
    assert regions.dominant().tolist() == [1, 255]


def test_tiny_deeplab_keeps_the_input_size_and_builds_identically_under_one_seed():
    backbone = TinyDeepLabBackbone(TinyDeepLabParams(width=8))
    torch.manual_seed(0)
    a = backbone.build(5)
    torch.manual_seed(0)
    b = backbone.build(5)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    images = torch.rand(2, 3, 36, 44)
    a.eval()
    out = a(images)
    assert out.shape == (2, 5, 36, 44)
    assert torch.equal(out, a(images))


def test_tiny_deeplab_upsamples_with_nearest_by_default():
    model = TinyDeepLabBackbone(TinyDeepLabParams(width=8)).build(3).eval()
    out = model(torch.rand(1, 3, 32, 32))
    # output stride 4 with nearest upsampling: every 4×4 block is constant
    assert torch.equal(out[..., ::4, ::4].repeat_interleave(4, -1).repeat_interleave(4, -2), out)


def test_slic_gives_about_the_requested_number_of_regions():
    labels = Slic(SlicParams(n_segments=30)).segment(render_scene(0, 64, 0).image)
    assert labels.shape == (64, 64) and 15 <= len(np.unique(labels)) <= 45


def test_random_strategy_is_seeded_and_picks_only_unlabeled_regions():
    labeled = np.zeros(50, dtype=bool)
    labeled[:10] = True

    def context(seed):
        return selection_context(num_regions=50, num_classes=2, budget=5, labeled=list(range(10)), seed=seed)

    picked = RandomStrategy(None).select(context(1))
    assert len(set(picked.tolist())) == 5 and not labeled[picked].any()
    assert np.array_equal(picked, RandomStrategy(None).select(context(1)))
    assert not np.array_equal(picked, RandomStrategy(None).select(context(2)))


@pytest.mark.parametrize("params", [{"num_images": 1}, {"image_size": 8}, {"val_fraction": 1.0}])
def test_toy_rejects_bad_parameters(params):
    with pytest.raises(ValueError):
        ToyParams(**params)
