"""Hwang et al.'s prototype pseudo-labels and label expansion (``weak``, ``pseudo_labels=prototype``), by hand.

The 4×6 image below has four regions; region 0 is labeled {1, 2} and region 3 is labeled {0}. Features are
2-D so every inner product can be checked by eye.

    regions        features (x, y)
    0 0 0 1 1 1    a(1,0)    b(.8,.6)  c(.6,.8) | (.99,.141) (.85,.9)  (0,1)
    0 0 0 1 1 1    d(.8,.6)  e(.28,.96) f(0,1)  | (.8,.6)    (-.9,1)   (-1,0)
    2 2 2 3 3 3    (1,0)     (.6,.8)   (.6,.8)  | (0,1)      (-1,0)    (-1,0)
    2 2 2 3 3 3    (.6,.8)   (.6,.8)   (.6,.8)  | (-1,0)     (-.6,.8)  (-.8,-.6)

Region 0: p_1 peaks at a, p_2 at f, so its prototypes are P1 = (1, 0) and P2 = (0, 1). Similarities to P1:
a 1, b .8, c .6, d .8, e .28, f 0; to P2: a 0, b .6, c .8, d .6, e .96, f 1. Nearest: a, b, d → class 1;
c, e, f → class 2. Thresholds (lower median of the chosen similarities): P1 {1, .8, .8} → .8; P2 {.8, .96, 1}
→ .96. Region 3: p_0 peaks at (2,4), prototype (-1, 0); similarities 0, 1, 1, 1, .6, .8 → threshold .8.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from albench_plugins.backbones.tiny_deeplab import TinyDeepLab
from albench_plugins.labeling._prototypes import lower_median, prototype_pseudo_labels, touching_regions
from albench_plugins.labeling.weak import PseudoLabelStage, WeakLabeling, WeakParams

from albench.components import RegionLabels
from albench.errors import ComponentError
from albench.params import resolve_params
from albench.run.features import logits_and_features

SUPERPIXELS = np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3], [2, 2, 2, 3, 3, 3]])
FEATURES = np.array(
    [
        [(1, 0), (0.8, 0.6), (0.6, 0.8), (0.99, 0.141), (0.85, 0.9), (0, 1)],
        [(0.8, 0.6), (0.28, 0.96), (0, 1), (0.8, 0.6), (-0.9, 1), (-1, 0)],
        [(1, 0), (0.6, 0.8), (0.6, 0.8), (0, 1), (-1, 0), (-1, 0)],
        [(0.6, 0.8), (0.6, 0.8), (0.6, 0.8), (-1, 0), (-0.6, 0.8), (-0.8, -0.6)],
    ],
    dtype=np.float32,
).transpose(2, 0, 1)
CLASS_SETS = np.array([[False, True, True], [True, True, True], [True, True, True], [True, False, False]])
LABELED = np.array([0, 3])


def probabilities() -> np.ndarray:
    probs = np.full((3, 4, 6), 1 / 3, dtype=np.float32)
    probs[:, 0, 0] = (0.1, 0.8, 0.1)  # p_1 peaks at a
    probs[:, 1, 2] = (0.1, 0.1, 0.8)  # p_2 peaks at f
    probs[:, 2, 4] = (0.8, 0.1, 0.1)  # p_0 peaks in region 3
    return probs


X = 255  # ignored
EXPANDED = [
    [1, 1, 2, 1, 2, 2],  # (0,3): P1 .99 > .8 → 1; (0,4): argmax P2 (.9), valid through P1 (.85 > .8) → 2;
    # (0,5): P2 1 > .96 → 2
    [1, 2, 2, X, 0, 0],  # (1,3): P1 .8 is not above .8, P2 .6 → ignored; (1,4): region 0 gives 2 (P2 1 > .96),
    # region 3, later, gives 0 (.9 > .8); (1,5): only region 3 (1 > .8) → 0
    [1, X, X, 0, 0, 0],  # (2,0): P1 1 → 1; (.6,.8): P1 .6, P2 .8 → ignored. Region 3 is labeled: its own labels
    [X, X, X, 0, 0, 0],  # (region 0 expanded 2 onto (2,3) through the diagonal, then step 5 restores 0)
]


def test_lower_median_is_torch_median():
    assert lower_median(np.array([1.0, 0.8, 0.8])) == pytest.approx(0.8)
    assert lower_median(np.array([4.0, 1.0, 3.0, 2.0])) == 2.0
    values = torch.tensor([0.0, 0.6, 0.8, 1.0, 1.0, 1.0])
    assert lower_median(values.numpy()) == float(torch.median(values))


def test_touching_regions_counts_diagonal_contact():
    touching = touching_regions(SUPERPIXELS)
    assert touching[0] == {0, 1, 2, 3}  # region 3 touches region 0 only at a corner
    board = np.array([[0, 1], [2, 3]])
    assert touching_regions(board)[0] == {0, 1, 2, 3} and touching_regions(board)[1] == {0, 1, 2, 3}
    assert touching_regions(np.array([[0, 0, 1, 1, 2, 2]]))[0] == {0, 1}


def test_prototypes_label_each_pixel_of_a_region_with_its_nearest_prototype():
    target = prototype_pseudo_labels(SUPERPIXELS, LABELED, CLASS_SETS, probabilities(), FEATURES, X, expansion=False)
    assert target.tolist() == [
        [1, 1, 2, X, X, X],
        [1, 2, 2, X, X, X],
        [X, X, X, 0, 0, 0],
        [X, X, X, 0, 0, 0],
    ]


def test_expansion_spreads_labels_to_touching_regions_above_the_median_similarity():
    target = prototype_pseudo_labels(SUPERPIXELS, LABELED, CLASS_SETS, probabilities(), FEATURES, X)
    assert target.tolist() == EXPANDED


def test_a_labeled_region_naming_no_class_stays_ignored():
    sets = CLASS_SETS.copy()
    sets[3] = False  # region 3 all void: no prototype, no expansion from it, its pixels ignored
    target = prototype_pseudo_labels(SUPERPIXELS, LABELED, sets, probabilities(), FEATURES, X)
    assert target[2:, 3:].tolist() == [[X, X, X], [X, X, X]]
    assert target[1, 4:].tolist() == [2, X]  # region 0's label stays on (1,4); nothing reaches (1,5)


def test_stage_two_target_follows_the_prototype_rule():
    # the ground truth makes region 0 name {1, 2} and region 3 name {0}: the scheme's class sets
    mask = np.array([[1, 2, 1, 0, 0, 0], [1, 2, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    histogram = np.zeros((4, 3), dtype=np.int64)
    np.add.at(histogram, (SUPERPIXELS.reshape(-1), mask.reshape(-1)), 1)
    regions = RegionLabels(SUPERPIXELS, mask, histogram, X)
    (_, stage) = WeakLabeling(WeakParams()).stages(3)
    assert isinstance(stage, PseudoLabelStage) and stage.needs_previous_features
    assert stage.target(regions, LABELED, probabilities(), FEATURES).tolist() == EXPANDED
    # pseudo_labels=argmax: the stage-1 argmax within each labeled region's classes, labeled pixels only
    (_, argmax) = WeakLabeling(WeakParams(pseudo_labels="argmax")).stages(3)
    assert not argmax.needs_previous_features
    assert argmax.target(regions, LABELED, probabilities()).tolist() == [
        [1, 1, 1, X, X, X],  # a peaks at 1, f at 2; the others tie (1/3 each): the lower class of {1, 2}
        [1, 1, 2, X, X, X],
        [X, X, X, 0, 0, 0],
        [X, X, X, 0, 0, 0],
    ]


def test_the_pseudo_label_rule_is_a_recorded_parameter():
    params = resolve_params(WeakParams, {"pseudo_labels": "argmax", "expansion": "false"}, owner="labeling 'weak'")
    assert params.pseudo_labels == "argmax" and params.expansion is False
    assert WeakParams().pseudo_labels == "prototype" and WeakParams().expansion is True
    assert WeakLabeling.version == "2"


def test_features_are_the_classifier_input_normalised_then_upsampled():
    torch.manual_seed(0)
    model = TinyDeepLab(num_classes=3, width=4, upsample="nearest").eval()
    images = torch.rand(1, 3, 16, 16)
    logits, features = logits_and_features(model, images, 3)
    with torch.no_grad():
        head = model.aspp(model.encoder((images - model.mean) / model.std))
        expected = torch.nn.functional.interpolate(
            torch.nn.functional.normalize(head, dim=1), size=(16, 16), mode="bilinear", align_corners=False
        )
        assert torch.equal(logits, model(images))
    assert features.shape == (1, 8, 16, 16) and torch.equal(features, expected)


def test_a_model_without_a_class_convolution_is_refused_with_the_fix():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 1))
    with pytest.raises(ComponentError, match=r"last Conv2d with 3 output channels.*pseudo_labels=argmax"):
        logits_and_features(model, torch.rand(1, 3, 4, 4), 3)
