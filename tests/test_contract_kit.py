"""The contract kit both ways: a good component passes each check, a deliberately broken one fails it with a
message naming the component and the rule it broke."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from albench_plugins.labeling.dominant import DominantLabeling
from albench_plugins.strategies.entropy import EntropyStrategy
from torch import nn

from albench import (
    Backbone,
    Dataset,
    RegionLabels,
    RegionStatistic,
    Sample,
    ScoredStrategy,
    SelectionContext,
    Split,
    Strategy,
    SuperpixelMethod,
    holdout_split,
)
from albench.testing import (
    ContractError,
    check_backbone,
    check_dataset,
    check_labeling_scheme,
    check_strategy,
    check_superpixel_method,
)
from albench.uncertainty import ShannonEntropy

pytest_plugins = ["pytester"]


def broken(check, component, rule: str, **kwargs) -> str:
    """Run ``check`` on ``component``, expect it to fail naming the component and ``rule``; return the message."""
    with pytest.raises(ContractError) as caught:
        check(component, **kwargs)
    message = str(caught.value)
    assert f"{component.name!r}" in message and f"rule '{rule}'" in message, message
    return message


# ---------------------------------------------------------------- strategies


class LowestId(ScoredStrategy):
    """Good: the lowest ids first, in whole-budget clicks (ScoredStrategy counts the costs)."""

    name = "lowest-id"

    def scores(self, context: SelectionContext) -> np.ndarray:
        return -np.arange(context.num_regions, dtype=float)


def _first_unlabeled(context: SelectionContext, count: int) -> np.ndarray:
    return context.unlabeled_ids()[:count]


class IgnoresCosts(Strategy):
    name = "ignores-costs"

    def select(self, context):
        return _first_unlabeled(context, context.budget)  # one region per click: wrong under weak labels


class Twice(Strategy):
    name = "twice"

    def select(self, context):
        chosen = _first_unlabeled(context, context.budget - 1)
        return np.concatenate([chosen, chosen[:1]]) if len(chosen) else chosen


class PicksLabeled(Strategy):
    name = "picks-labeled"

    def select(self, context):
        labeled = np.flatnonzero(context.labeled)
        return labeled[: context.budget] if len(labeled) else _first_unlabeled(context, context.budget)


class GlobalRandom(Strategy):
    name = "global-random"

    def select(self, context):
        ids = context.unlabeled_ids()
        return np.random.permutation(ids)[: min(context.budget, len(ids))] if context.unit_cost else ids[:0]


_calls = itertools.count()


class Drifting(Strategy):
    name = "drifting"

    def select(self, context):
        ids = context.unlabeled_ids()
        return np.roll(ids, next(_calls))[: min(context.budget, len(ids))] if context.unit_cost else ids[:0]


class Mutates(Strategy):
    name = "mutates"

    def select(self, context):
        context.region_sizes[:] = 0
        return _first_unlabeled(context, context.budget)


class ReturnsList(Strategy):
    name = "returns-list"

    def select(self, context):
        return _first_unlabeled(context, context.budget).tolist()


class UnderSpends(Strategy):
    name = "under-spends"

    def select(self, context):
        return _first_unlabeled(context, 1)


class BadStatistics(Strategy):
    name = "bad-statistics"

    def statistics(self, num_classes):
        return ("entropy",)

    def select(self, context):
        return _first_unlabeled(context, context.budget)


class MissingStatistic(ScoredStrategy):
    name = "missing-statistic"

    def statistics(self, num_classes):
        return (RegionStatistic("entropy", ShannonEntropy(), "mean"),)

    def scores(self, context):
        return context.region_stats["margin"][:, 0]


def test_good_strategies_pass():
    check_strategy(LowestId)
    check_strategy(EntropyStrategy, {"aggregation": "p95"})


@pytest.mark.parametrize(
    ("strategy", "rule", "detail"),
    [
        (IgnoresCosts, "stays within the click budget", "with weak labels"),
        (Twice, "selects no region twice", "more than once"),
        (PicksLabeled, "selects no labeled region", "already labeled"),
        (GlobalRandom, "draws randomness from context.generator only", "global random seeds"),
        (Drifting, "is deterministic", "same context and generator seed"),
        (Mutates, "leaves its inputs unchanged", "context.region_sizes"),
        (ReturnsList, "returns a numpy array", "returned list"),
        (UnderSpends, "spends the whole budget", "selected 1 regions where 8"),
        (BadStatistics, "declares its statistics", "RegionStatistic and PoolStatistic"),
        (MissingStatistic, "selects without raising", "KeyError"),
    ],
)
def test_a_broken_strategy_fails_naming_the_rule(strategy, rule, detail):
    assert detail in broken(check_strategy, strategy, rule)


def test_a_class_that_is_no_strategy_or_has_no_version_is_named():
    class NotAStrategy:
        name = "not-a-strategy"

    broken(check_strategy, NotAStrategy, "is a subclass of albench.Strategy")

    class Unversioned(LowestId):
        name = "unversioned"
        version = 2

    broken(check_strategy, Unversioned, "has a `version`")

    @dataclasses.dataclass(frozen=True)
    class NoDefault:
        weight: float

    class NoDefaultParams(LowestId):
        name = "no-default"
        Params = NoDefault

    assert "needs a default" in broken(check_strategy, NoDefaultParams, "declares valid `Params`")


# ---------------------------------------------------------------- labeling schemes


class FreeRegions(DominantLabeling):
    name = "free"
    unit_cost = False

    def region_cost(self, classes_present):
        return np.asarray(classes_present, dtype=np.int64)  # an all-void region costs nothing


class UnitButCharges(DominantLabeling):
    name = "unit-but-charges"

    def region_cost(self, classes_present):
        return np.maximum(np.asarray(classes_present, dtype=np.int64), 1)


class LeaksUnlabeled(DominantLabeling):
    name = "leaks"

    def render_target(self, regions, labeled):
        return np.where(regions.mask < regions.histogram.shape[1], regions.mask, regions.ignore_index).astype(np.int64)


class UndeclaredLabel(DominantLabeling):
    name = "undeclared"

    def render_target(self, regions, labeled):
        target = super().render_target(regions, labeled)
        target[target == 1] = 9
        return target


class Int32Target(DominantLabeling):
    name = "int32"

    def render_target(self, regions, labeled):
        return super().render_target(regions, labeled).astype(np.int32)


class MutatesMask(DominantLabeling):
    name = "mutates-mask"

    def render_target(self, regions: RegionLabels, labeled):
        regions.mask[regions.mask == regions.ignore_index] = 0
        return super().render_target(regions, labeled)


class NanLoss(DominantLabeling):
    name = "nan-loss"

    def stages(self, num_classes):
        (stage,) = super().stages(num_classes)

        class Stage(type(stage)):
            def loss(self, logits, target, protocol, ignore_index):
                return logits.sum() * float("nan")

        return (Stage(self),)


def test_good_labeling_schemes_pass():
    check_labeling_scheme(DominantLabeling)

    class Grouped(DominantLabeling):
        name = "grouped"
        unit_cost = False

        def region_cost(self, classes_present):
            return 1 + np.asarray(classes_present, dtype=np.int64) // 2

    check_labeling_scheme(Grouped)


@pytest.mark.parametrize(
    ("scheme", "rule", "detail"),
    [
        (FreeRegions, "charges at least one click per region", "with 0 classes is 0"),
        (UnitButCharges, "charges one click per region when unit_cost", "set unit_cost = False"),
        (LeaksUnlabeled, "trains on labeled regions only", "0 of"),
        (UndeclaredLabel, "uses declared labels only", "holds 9"),
        (Int32Target, "renders an (H, W) int64 target", "int32"),
        (MutatesMask, "leaves its inputs unchanged", "mask"),
        (NanLoss, "gives a trainable loss", "finite scalar"),
    ],
)
def test_a_broken_labeling_scheme_fails_naming_the_rule(scheme, rule, detail):
    assert detail in broken(check_labeling_scheme, scheme, rule)


# ---------------------------------------------------------------- superpixel methods


class Blocks(SuperpixelMethod):
    """Good: 4×4 blocks."""

    name = "blocks"

    def segment(self, image):
        rows, cols = np.indices(image.shape[:2]) // 4
        return rows * 1000 + cols


class Scattered(Blocks):
    name = "scattered"

    def segment(self, image):
        return np.random.randint(0, 5, image.shape[:2])


class HalfSize(Blocks):
    name = "half-size"

    def segment(self, image):
        return super().segment(image)[::2, ::2]


class FloatMap(Blocks):
    name = "float-map"

    def segment(self, image):
        return super().segment(image).astype(float)


class Blurs(Blocks):
    name = "blurs"

    def segment(self, image):
        image[:] = image.mean()
        return super().segment(image)


def test_a_good_superpixel_method_passes():
    check_superpixel_method(Blocks)


@pytest.mark.parametrize(
    ("method", "rule", "detail"),
    [
        (Scattered, "is deterministic", "global random seeds"),
        (HalfSize, "returns an (H, W) integer region map", "(10, 14)"),
        (FloatMap, "returns an (H, W) integer region map", "float64"),
        (Blurs, "leaves its inputs unchanged", "modified the image"),
    ],
)
def test_a_broken_superpixel_method_fails_naming_the_rule(method, rule, detail):
    assert detail in broken(check_superpixel_method, method, rule)


# ---------------------------------------------------------------- backbones


class Pointwise(Backbone):
    """Good: one 1×1 convolution."""

    name = "pointwise"

    def build(self, num_classes):
        return nn.Conv2d(3, num_classes, 1)


class Strided(Pointwise):
    name = "strided"

    def build(self, num_classes):
        return nn.Conv2d(3, num_classes, 3, stride=2, padding=1)


class NumpyInit(Pointwise):
    name = "numpy-init"

    def build(self, num_classes):
        model = nn.Conv2d(3, num_classes, 1)
        with torch.no_grad():
            model.weight.copy_(torch.from_numpy(np.random.normal(size=model.weight.shape)))
        return model


class ScalesInPlace(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(3, num_classes, 1)

    def forward(self, x):
        return self.conv(x.mul_(2))


class MutatesInput(Pointwise):
    name = "mutates-input"

    def build(self, num_classes):
        return ScalesInPlace(num_classes)


class FrozenConv(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(3, num_classes, 1).requires_grad_(False)
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.conv(x) + 0 * self.unused


class Frozen(Pointwise):
    name = "frozen"

    def build(self, num_classes):
        return FrozenConv(num_classes)


class NotAModule(Pointwise):
    name = "not-a-module"

    def build(self, num_classes):
        return lambda images: images


def test_good_backbones_pass():
    check_backbone(Pointwise)
    check_backbone(Pointwise, num_classes=5, size=(16, 9))


@pytest.mark.parametrize(
    ("backbone", "rule", "detail"),
    [
        (Strided, "returns logits at the input resolution", "gave (2, 3, 19, 23), expected (2, 3, 37, 45)"),
        (NumpyInit, "builds the same model under one torch seed", "'weight'"),
        (MutatesInput, "leaves its inputs unchanged", "modified its input"),
        (Frozen, "trains", "no parameter received a gradient"),
        (NotAModule, "builds a torch.nn.Module", "function"),
    ],
)
def test_a_broken_backbone_fails_naming_the_rule(backbone, rule, detail):
    assert detail in broken(check_backbone, backbone, rule)


# ---------------------------------------------------------------- datasets


class Squares(Dataset):
    """Good: eight tiny images in memory, a seeded hold-out split, a seeded flip."""

    name = "squares"
    classes = ("background", "square")
    background_class = 0

    def image_ids(self) -> Sequence[str]:
        return [f"img{i}" for i in range(8)]

    def load(self, image_id: str) -> Sample:
        index = int(image_id[3:])
        mask = np.zeros((12, 10), dtype=np.int64)
        mask[2 : 4 + index, 3:7] = 1
        mask[0, 0] = self.ignore_index
        return Sample(image=(mask * 90 + 20).astype(np.uint8)[..., None].repeat(3, axis=2), mask=mask)

    def split(self, seed: int) -> Split:
        return holdout_split(self.image_ids(), seed, 0.25)

    def augment(self, image, target, generator):
        if torch.rand((), generator=generator) < 0.5:
            return image.flip(-1), target.flip(-1)
        return image, target


class UndeclaredMaskLabel(Squares):
    name = "undeclared-mask-label"

    def load(self, image_id):
        sample = super().load(image_id)
        return Sample(sample.image, np.where(sample.mask == 1, 5, sample.mask))


class GlobalSplit(Squares):
    name = "global-split"

    def split(self, seed):
        ids = list(np.random.permutation(self.image_ids()))
        return Split(pool=tuple(ids[2:]), val=tuple(ids[:2]))


class Overlapping(Squares):
    name = "overlapping"

    def split(self, seed):
        ids = tuple(self.image_ids())
        return Split(pool=ids[1:], val=ids[:2])


class ShortMask(Squares):
    name = "short-mask"

    def load(self, image_id):
        sample = super().load(image_id)
        return Sample(sample.image, sample.mask[1:])


class GlobalAugment(Squares):
    name = "global-augment"

    def augment(self, image, target, generator):
        shift = int(torch.randint(0, 1000, ()))  # torch's global generator, not ``generator``
        return image.roll(shift, -1), target.roll(shift, -1)


class CropsAugment(Squares):
    name = "crops-augment"

    def augment(self, image, target, generator):
        return image[:, 1:], target[1:]


class IgnoreIsAClass(Squares):
    name = "ignore-is-a-class"
    ignore_index = 1


def test_a_good_dataset_passes():
    check_dataset(Squares)


@pytest.mark.parametrize(
    ("dataset", "rule", "detail"),
    [
        (UndeclaredMaskLabel, "uses declared labels only", "holds label 5"),
        (GlobalSplit, "splits by seed", "changed with the global random seeds"),
        (Overlapping, "splits into disjoint parts", "in both pool and val"),
        (ShortMask, "loads (H, W) integer masks of the image's size", "(11, 10)"),
        (GlobalAugment, "draws randomness from its generator only", "augment()"),
        (CropsAugment, "augments at the working resolution", "(3, 11, 10)"),
        (IgnoreIsAClass, "declares its classes", "ignore_index 1"),
    ],
)
def test_a_broken_dataset_fails_naming_the_rule(dataset, rule, detail):
    assert detail in broken(check_dataset, dataset, rule)


# ---------------------------------------------------------------- the pytest plugin


def test_the_pytest_plugin_offers_the_checks_as_fixtures(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import numpy as np
        from albench import ScoredStrategy

        class LowestId(ScoredStrategy):
            name = "lowest-id"

            def scores(self, context):
                return -np.arange(context.num_regions, dtype=float)

        class Greedy(LowestId):
            name = "greedy"

            def select(self, context):
                return context.unlabeled_ids()[: context.budget]

        def test_good(check_strategy):
            check_strategy(LowestId)

        def test_broken(check_strategy):
            check_strategy(Greedy)

        def test_other_fixtures(check_dataset, check_backbone, check_superpixel_method, check_labeling_scheme,
                                selection_context):
            assert selection_context(num_regions=3, num_classes=2, budget=1).num_regions == 3
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")  # the plugin loads through its pytest11 entry point
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*ContractError: strategy 'greedy' breaks the contract rule 'stays within the click budget'*"]
    )
