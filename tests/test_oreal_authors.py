"""albench's ``oreal`` with ``tie_order=first-seen`` picks what the OREAL authors' query step picks (issue #13).

The authors' side is :mod:`reference.oreal_authors`, their query step re-expressed function by function. Both
sides get the same pools (MONARCH-sized: 220², 8 classes, ~36 superpixels; VOC-sized: 513², 21 classes, ~500
superpixels), the same initial labeled set and, round after round, the same softmax maps. Selections must be
identical, in order, over several rounds, for dominant, precise and weak (multi-class) labels.

The selection tests give albench the reference's region scores; the engine test scores through albench's own
engine, whose max-aggregated H_c is bit for bit the authors' per-pixel float32 expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from albench_plugins.strategies.oreal import Oreal, OrealParams, authors_walk, first_seen_rank
from reference import oreal_authors as authors
from scipy.spatial import cKDTree

from albench.components import dominant_classes
from albench.engine.scoring import ScoreAccumulator
from albench.statistics import RegionStatistic
from albench.testing import selection_context
from albench.uncertainty import OvrEntropy


@pytest.fixture(autouse=True)
def one_thread():
    """Small per-class tensors: one thread is many times faster than two on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ the authors' region order, by hand


def test_walk_keeps_the_initial_labeling_order_then_cpythons_set_order():
    # Image 0 (global ids 0-39) and image 1 (40-79). Round 0 labels 40+5, 33, 40+8, 20 (in that order);
    # round 1 picks 0+5 and 40+0. The authors' lists: image 0: round 0 [33, 20] → round 1 list(set([33, 20, 5]))
    # = [33, 20, 5] (8-slot table: 33→1, 20→4, 5→5); image 1: [5, 8] → list(set([5, 8, 0])) = [8, 0, 5]
    # (0→0? no: 5→5, 8→0, then 0 collides with 8 and probes to 1: slots 0:8, 1:0, 5:5).
    region_image = np.repeat([0, 1], 40)
    order = np.array([45, 33, 48, 20, 5, 40])
    rounds = np.array([0, 0, 0, 0, 1, 1])
    assert list(set([33, 20, 5])) == [33, 20, 5] and list(set([5, 8, 0])) == [8, 0, 5]
    walk = authors_walk(order, rounds, region_image)
    assert order[walk].tolist() == [33, 20, 5, 48, 40, 45]
    # all in one round: the labeling order within each image, images in pool order
    assert order[authors_walk(order, None, region_image)].tolist() == [33, 20, 5, 45, 48, 40]


def test_first_seen_lists_a_regions_classes_in_index_order():
    # walk: region {3, 1}, region {2}; background 0 never counted → 1, 3, 2, then 0
    named = np.array([[False, True, False, True], [False, False, True, False]])
    assert first_seen_rank(named, 0).tolist() == [3, 0, 2, 1]
    assert first_seen_rank(np.zeros((0, 3), dtype=bool), None).tolist() == [0, 1, 2]


def test_first_seen_counts_every_class_a_label_names():
    # three labeled regions of one image; precise labels name {1, 2}, {2}, {2}: n = [0, 1, 3]; background 0.
    # n + δ with n_0 = 0: (0,1,3) → 0 → (1,1,3) → tie 0/1: first seen 1, then 2, then 0 → 1 → (1,2,3) → 0
    named = [[False, True, True], [False, False, True], [False, False, True]]
    context = selection_context(
        num_regions=6,
        num_classes=3,
        budget=3,
        labeled=[0, 1, 2],
        labeled_classes=[2, 2, 2],
        labeled_class_sets=named,
        background_class=0,
        region_stats={"class_scores": np.zeros((6, 3))},
    )
    delta, order = Oreal(OrealParams(tie_order="first-seen")).allocation(context)
    assert delta.tolist() == [2, 1, 0] and order == [0, 1]
    # tie_order=index counts dominant classes: n = [0, 0, 3] → 0, 1, 0
    assert Oreal(OrealParams()).allocation(context)[0].tolist() == [2, 1, 0]


# ------------------------------------------------------------------ the same pools on both sides


@dataclass
class SyntheticPool:
    superpixels: list[np.ndarray]
    ground_truth: list[np.ndarray]
    num_classes: int
    offsets: np.ndarray
    histograms: list[np.ndarray] = field(default_factory=list)

    @property
    def num_regions(self) -> int:
        return int(self.offsets[-1])

    @property
    def region_image(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.superpixels)), np.diff(self.offsets))

    @property
    def patch_number(self) -> int:
        return int(np.diff(self.offsets).max())

    def present(self) -> np.ndarray:
        return np.concatenate(self.histograms) > 0

    def dominant(self) -> np.ndarray:
        return np.concatenate([dominant_classes(h, 255) for h in self.histograms])


def make_pool(seed: int, images: int, size: int, num_classes: int, regions: int) -> SyntheticPool:
    """Voronoi superpixels (ids 0..K−1) over a blocky long-tailed ground truth with no void pixels."""
    rng = np.random.default_rng(seed)
    yx = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), axis=-1).reshape(-1, 2)
    frequency = 1.0 / np.arange(1, num_classes + 1)
    superpixels, truth, histograms, counts = [], [], [], []
    for _ in range(images):
        seeds = rng.uniform(0, size, size=(regions, 2))
        _, nearest = cKDTree(seeds).query(yx)
        _, labels = np.unique(nearest, return_inverse=True)
        labels = labels.reshape(size, size).astype(np.int64)
        cells = rng.choice(num_classes, size=(12, 12), p=frequency / frequency.sum())
        mask = np.kron(cells, np.ones((size // 12 + 1, size // 12 + 1), dtype=np.int64))[:size, :size]
        histogram = np.zeros((labels.max() + 1, num_classes), dtype=np.int64)
        np.add.at(histogram, (labels.reshape(-1), mask.reshape(-1)), 1)
        superpixels.append(labels)
        truth.append(mask)
        histograms.append(histogram)
        counts.append(len(histogram))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SyntheticPool(superpixels, truth, num_classes, offsets, histograms)


def softmax_maps(rng: np.random.Generator, pool: SyntheticPool) -> list[torch.Tensor]:
    """Float32 softmax maps, smooth enough that many region maxima sit near ln 2."""
    maps = []
    for labels in pool.superpixels:
        size = labels.shape[0]
        coarse = torch.from_numpy(rng.normal(0.0, 2.5, size=(1, pool.num_classes, 16, 16)).astype(np.float32))
        logits = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        noise = torch.from_numpy(rng.normal(0.0, 0.3, size=logits.shape).astype(np.float32))
        maps.append(torch.softmax(logits + noise, dim=1)[0])
    return maps


class BothSides:
    """The authors' state (per-image region lists) and albench's (labeling order and rounds), kept in step."""

    def __init__(self, pool: SyntheticPool, labeling: str, initial: list[tuple[int, int]]) -> None:
        self.pool, self.labeling = pool, labeling
        self.lists: dict[int, list[int]] = {}
        for image, patch in initial:
            self.lists.setdefault(image, []).append(patch)
        self.order = [int(pool.offsets[i] + k) for i, k in initial]
        self.rounds = [0] * len(initial)
        self.present = pool.present()
        self.dominant = pool.dominant()
        self.multi_hot = {
            i: np.pad(
                self.present[pool.offsets[i] : pool.offsets[i + 1]],
                ((0, pool.patch_number - int(np.diff(pool.offsets)[i])), (0, 0)),
            ).astype(np.int64)
            for i in range(len(pool.superpixels))
        }

    def costs(self) -> np.ndarray | None:
        return np.maximum(self.present.sum(axis=1), 1) if self.labeling == "weak" else None

    def authors_picks(self, entropy: list[torch.Tensor], budget: int) -> list[tuple[int, int]]:
        pool = self.pool
        unlabeled = {
            i: authors.region_scores(entropy[i], pool.superpixels[i], pool.patch_number, self.lists.get(i, []))
            for i in range(len(pool.superpixels))
            if len(self.lists.get(i, [])) < pool.patch_number
        }
        labeled_images = sorted(self.lists)
        if self.labeling == "weak":
            return authors.query_multiclass(
                unlabeled, labeled_images, self.multi_hot, self.lists, budget, pool.num_classes, start=1
            )
        targets = {
            i: authors.training_target(
                pool.ground_truth[i], pool.superpixels[i], self.lists[i], dominant=self.labeling == "dominant"
            )
            for i in labeled_images
        }
        superpixels = dict(enumerate(pool.superpixels))
        return authors.query_dominant(
            unlabeled, labeled_images, targets, superpixels, self.lists, budget, pool.num_classes, start=1
        )

    def albench_picks(self, scores: np.ndarray, budget: int) -> list[tuple[int, int]]:
        pool, order = self.pool, np.asarray(self.order)
        named = (
            self.present[order]
            if self.labeling != "dominant"
            else np.eye(pool.num_classes, dtype=bool)[self.dominant[order]]
        )
        context = selection_context(
            num_regions=pool.num_regions,
            num_classes=pool.num_classes,
            budget=budget,
            labeled=order,
            labeled_classes=self.dominant[order],
            labeled_class_sets=named,
            labeled_round=self.rounds,
            region_image=pool.region_image,
            background_class=0,
            costs=self.costs(),
            overshoot=self.labeling == "weak",
            region_stats={"class_scores": scores},
        )
        selected = Oreal(OrealParams(tie_order="first-seen")).select(context)
        images = pool.region_image[selected]
        return [(int(i), int(r - pool.offsets[i])) for i, r in zip(images, selected, strict=True)]

    def label(self, picks: list[tuple[int, int]], round_index: int) -> None:
        authors.merge_round(self.lists, picks)
        self.order += [int(self.pool.offsets[i] + k) for i, k in picks]
        self.rounds += [round_index] * len(picks)


def reference_scores(entropy: list[torch.Tensor], pool: SyntheticPool) -> np.ndarray:
    """``(R, C)`` float32: every region's per-class maximum of the authors' per-pixel H_c."""
    rows = [
        authors.region_scores(h, labels, int(labels.max()) + 1, [])
        for h, labels in zip(entropy, pool.superpixels, strict=True)
    ]
    return np.concatenate(rows).astype(np.float32)


def engine_scores(probs: list[torch.Tensor], pool: SyntheticPool) -> np.ndarray:
    accumulator = ScoreAccumulator([RegionStatistic("class_scores", OvrEntropy(), "max")], pool.num_classes)
    for p, labels in zip(probs, pool.superpixels, strict=True):
        accumulator.add(p[None], torch.from_numpy(labels)[None], [int(labels.max()) + 1])
    return accumulator.region_results()["class_scores"]


SIZES = {
    # name: (images, side, classes, superpixels per image, initial regions, budget per round, query rounds)
    "monarch": (24, 220, 8, 36, 72, 72, 4),
    "voc": (3, 513, 21, 500, 150, 300, 3),
}


def run_rounds(size: str, labeling: str, score: str) -> int:
    images, side, classes, regions, initial_count, budget, rounds = SIZES[size]
    pool = make_pool(13, images, side, classes, regions)
    rng = np.random.default_rng(7)
    pairs = [(i, k) for i in range(images) for k in range(int(np.diff(pool.offsets)[i]))]
    initial = [pairs[j] for j in rng.permutation(len(pairs))[:initial_count]]
    sides = BothSides(pool, labeling, initial)
    compared = 0
    for round_index in range(1, rounds + 1):
        probs = softmax_maps(rng, pool)
        entropy = [authors.class_entropy(p) for p in probs]
        scores = reference_scores(entropy, pool) if score == "reference" else engine_scores(probs, pool)
        theirs = sides.authors_picks(entropy, budget)
        ours = sides.albench_picks(scores, budget)
        assert ours == theirs, f"round {round_index}: first difference at pick {_first_difference(ours, theirs)}"
        sides.label(theirs, round_index)
        compared += len(theirs)
    return compared


def _first_difference(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


@pytest.mark.parametrize("labeling", ["dominant", "precise", "weak"])
@pytest.mark.parametrize("size", ["monarch", "voc"])
def test_first_seen_selects_what_the_authors_select_from_the_same_scores(size, labeling):
    assert run_rounds(size, labeling, "reference") > 0


@pytest.mark.parametrize("size", ["monarch", "voc"])
def test_first_seen_selects_what_the_authors_select_through_albenchs_engine(size):
    assert run_rounds(size, "dominant", "engine") > 0
