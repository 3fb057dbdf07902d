"""Exact maxima: every max-aggregated score equals, bit for bit, the maximum of the per-pixel torch values.

The reference is the plain implementation: the score's ``compute`` on every pixel (the ``(H·W, C)`` view of
the probabilities, as the engine hands them to it), then the maximum of those float values per region.
"""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
import torch
from albench_plugins.strategies.pixelbal import WeightedBvsb

from albench.engine import _simd as simd
from albench.engine._keyed_max import Candidates, candidate_maxima, key_candidates
from albench.engine._label_runs import EMPTY_CODE, label_runs
from albench.engine.scoring import ScoreAccumulator
from albench.statistics import RegionStatistic
from albench.uncertainty import (
    BvsbMargin,
    BvsbRatio,
    OvrEntropy,
    ProbTimesEntropy,
    ShannonEntropy,
    bernoulli_variance,
)


def _labels(g, images, height, width, regions):
    """Irregular compact regions (nearest of random seeds under a warp), some ids left empty."""
    maps = []
    for _ in range(images):
        seeds = torch.rand(regions, 2, generator=g) * torch.tensor([height, width])
        yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        warp = torch.rand(2, height, width, generator=g) * 4
        points = torch.stack([yy + warp[0], xx + warp[1]], dim=-1).reshape(-1, 1, 2)
        maps.append(((points - seeds) ** 2).sum(-1).argmin(dim=1).reshape(height, width))
    return torch.stack(maps)


def _probabilities(g, images, classes, height, width, kind):
    if kind == "random":  # model-like: smooth logits of a random scale
        low = torch.randn(images, classes, height // 4 + 1, width // 4 + 1, generator=g) * 4
        logits = torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear", align_corners=False)
        return torch.softmax(logits, dim=1)
    if kind == "saturated":  # many pixels near ½ (within a few ulps to a few 1e-4): max keys nearly tied
        base = torch.full((images, classes, height, width), 0.5)
        noise = torch.randn(images, classes, height, width, generator=g)
        scale = torch.tensor([1e-7, 1e-5, 1e-3])[torch.randint(0, 3, (images, classes, 1, 1), generator=g)]
        return (base + noise * scale).clamp(0, 1)
    if kind == "confident":  # probabilities of 0, 1, subnormals and tiny values: keys at and near 0
        logits = torch.randn(images, classes, height, width, generator=g) * 60
        return torch.softmax(logits, dim=1)
    raise ValueError(kind)


def _reference(score, probs, labels, counts):
    """The score's float values of every pixel, maximum per region (NaN for an empty one), float64."""
    rows = []
    for image, count in enumerate(counts):
        pixels = probs[image].permute(1, 2, 0).reshape(-1, probs.shape[1])
        values = score.compute(pixels).numpy()
        flat = labels[image].reshape(-1).numpy()
        for region in range(count):
            chosen = values[flat == region]
            rows.append(chosen.max(axis=0).astype(np.float64) if len(chosen) else np.full(values.shape[1], np.nan))
    return np.stack(rows)


def _engine(score, probs, labels, counts):
    accumulator = ScoreAccumulator([RegionStatistic("max", score, "max")], probs.shape[1])
    accumulator.add(probs, labels, counts)
    return accumulator.region_results()["max"]


def _differing(result, reference):
    same = (result == reference) | (np.isnan(result) & np.isnan(reference))
    return int((~same).sum())


def _batch(seed, kind, classes, images=2, height=29, width=37, regions=12):
    g = torch.Generator().manual_seed(seed)
    probs = _probabilities(g, images, classes, height, width, kind)
    labels = _labels(g, images, height, width, regions)
    return probs, labels, [regions + 1] * images  # the last id of every image stays empty


@pytest.mark.parametrize("layout", ["channel-major", "channels-last"])
@pytest.mark.parametrize("kind", ["random", "saturated", "confident"])
@pytest.mark.parametrize("seed", [0, 1])
def test_ovr_entropy_maxima_equal_the_per_pixel_maxima_bit_for_bit(layout, kind, seed):
    probs, labels, counts = _batch(seed, kind, classes=21)
    if layout == "channels-last":
        probs = probs.contiguous(memory_format=torch.channels_last)
    result = _engine(OvrEntropy(), probs, labels, counts)
    reference = _reference(OvrEntropy(), probs, labels, counts)
    assert _differing(result, reference) == 0
    assert np.isnan(result[counts[0] - 1]).all() and not np.isnan(result[0]).any()


@pytest.mark.parametrize("classes", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 19, 31, 33])
def test_ovr_entropy_maxima_are_exact_for_any_number_of_channels(classes):
    # Channel groups of four (channel-major) and vectors of the next power of two (pixel-major) both
    # have remainders; saturated maps put many candidates in every band.
    for kind in ("random", "saturated"):
        probs, labels, counts = _batch(classes, kind, classes, images=1, height=17, width=23, regions=6)
        reference = _reference(OvrEntropy(), probs, labels, counts)
        for layout in (torch.contiguous_format, torch.channels_last):
            result = _engine(OvrEntropy(), probs.contiguous(memory_format=layout), labels, counts)
            assert _differing(result, reference) == 0, (kind, layout)


@pytest.mark.parametrize(
    "score",
    [
        ProbTimesEntropy(),
        ShannonEntropy(),
        ShannonEntropy(1e-7),
        BvsbRatio(),
        BvsbRatio(0.1),
        BvsbMargin(),
        WeightedBvsb(0.1, np.array([0.9, 0.1, 0.05, 0.3, 0.2])),
    ],
    ids=lambda s: s.name,
)
@pytest.mark.parametrize("kind", ["random", "saturated"])
def test_every_other_max_aggregated_score_equals_the_per_pixel_maxima(score, kind):
    probs, labels, counts = _batch(3, kind, classes=5)
    if kind == "saturated":
        probs = probs / probs.sum(dim=1, keepdim=True)
    for layout in (torch.contiguous_format, torch.channels_last):
        laid_out = probs.contiguous(memory_format=layout)
        result = _engine(score, laid_out, labels, counts)
        assert _differing(result, _reference(score, laid_out, labels, counts)) == 0


def test_pixelbal_max_split_by_predicted_class_is_exact():
    # The engine's class split (scatter on the score values) against per-pixel values grouped by hand.
    probs, labels, counts = _batch(4, "random", classes=4)
    accumulator = ScoreAccumulator([RegionStatistic("m", BvsbRatio(0.1), "max", by_predicted_class=True)], 4)
    accumulator.add(probs, labels, counts)
    result = accumulator.region_results()["m"][:, 0, :]
    rows = []
    for image, count in enumerate(counts):
        pixels = probs[image].permute(1, 2, 0).reshape(-1, 4)
        values, predicted = BvsbRatio(0.1).compute(pixels)[:, 0].numpy(), pixels.argmax(dim=1).numpy()
        flat = labels[image].reshape(-1).numpy()
        for region in range(count):
            rows.append([values[(flat == region) & (predicted == c)].max(initial=-np.inf) for c in range(4)])
    assert np.array_equal(result, np.array(rows))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_probabilities_outside_zero_one_are_scored_pixel_by_pixel(layout):
    # p(1 − p) < 0 (or −0.0) sets the key's sign bit: the kernels flag the image and the engine scores every
    # pixel, so the NaN of ln(negative) and the −0.0 are still the per-pixel maximum's.
    probs, labels, counts = _batch(5, "random", classes=3, images=2)
    probs[0, 0, 0, 0] = -0.25
    probs[0, 1, 3, 3] = 1.5
    probs[1, 2, 5, 5] = -0.0
    probs = probs.contiguous(memory_format=layout)
    result = _engine(OvrEntropy(), probs, labels, counts)
    reference = _reference(OvrEntropy(), probs, labels, counts)
    assert np.isnan(reference).sum() > 2 * 2  # two NaN regions of image 0 plus the empty ids
    assert _differing(result, reference) == 0


def test_key_candidates_flags_an_invalid_key_and_retries_when_its_buffer_overflows():
    # One region of 64×64 pixels all at p = ½ (four channels): every pixel is a candidate, far more than the
    # first buffer holds, so the kernels reduce the image again with room for all of them.
    values = np.full((4096, 4), 0.5, dtype=np.float32)
    runs = label_runs(np.zeros((64, 64), dtype=np.int64))
    for pixel_major in (True, False):
        data = values if pixel_major else values.T.copy()
        codes, candidates = key_candidates(data, runs, 0, 1, bernoulli_variance, 2**13, pixel_major=pixel_major)
        assert codes.tolist() == [[np.float32(0.25).view(np.int32)] * 4]
        assert np.bincount(candidates.slots).tolist()[:4] >= [4096] * 4 and set(candidates.values.tolist()) == {0.5}
    values[7, 2] = -0.5
    assert key_candidates(values, runs, 0, 1, bernoulli_variance, 2**13, pixel_major=True) is None
    assert key_candidates(values.T.copy(), runs, 0, 1, bernoulli_variance, 2**13, pixel_major=False) is None


def test_key_candidates_hand_computed():
    # Two regions on one row of six pixels, [0 0 1 1 1 0], one channel: p = 0.1 0.3 | 0.5 0.2 0.5 | 0.31.
    # Keys p(1 − p): 0.09 0.21 | 0.25 0.16 0.25 | 0.2139: region 0's maximal key is 0.2139 (the last pixel),
    # and 0.21 lies 1.8 % below it, outside a tolerance of 8 ulps; region 1 has two pixels at 0.25. (A
    # candidate may be listed twice: the maximum of their scores is the same.)
    values = np.array([[0.1, 0.3, 0.5, 0.2, 0.5, 0.31]], dtype=np.float32)
    runs = label_runs(np.array([[0, 0, 1, 1, 1, 0]]))
    for pixel_major in (False, True):
        data = values.T.copy() if pixel_major else values
        codes, candidates = key_candidates(data, runs, 0, 3, bernoulli_variance, 8, pixel_major=pixel_major)
        keys = codes.view(np.float32)
        assert keys[:2, 0].tolist() == pytest.approx([0.31 * 0.69, 0.25]) and codes[2, 0] == EMPTY_CODE
        pairs = sorted(set(zip(candidates.slots.tolist(), candidates.values.tolist(), strict=True)))
        assert pairs == [(0, pytest.approx(0.31)), (1, 0.5)]
        assert np.bincount(candidates.slots)[1] >= 2  # both pixels at 0.5


def test_candidate_maxima_hand_computed():
    # Region 0: channel 0 has two candidates (0.5, 0.75: the maximum is 0.75, as float32 exactly); channel 1's
    # maximal key is 0 (no candidate: every pixel scores as p = 0 does); channel 2's key is NaN (its candidate
    # does not count). Region 1 is empty.
    nan_code, quarter = 0x7FC00000, int(np.float32(0.25).view(np.int32))
    codes = np.array([[quarter, 0, nan_code], [EMPTY_CODE] * 3], dtype=np.int32)
    candidates = Candidates(np.array([0.5, 0.5, 0.5], dtype=np.float32), np.array([0, 0, 2]))
    scores = np.array([0.5, 0.75, 0.125], dtype=np.float32)
    maxima = candidate_maxima(codes, candidates, scores, lambda: 0.0625)
    assert maxima.dtype == np.float64 and maxima[0, :2].tolist() == [0.75, 0.0625]
    assert np.isnan(maxima[0, 2]) and np.isnan(maxima[1]).all()

    def unused() -> float:
        raise AssertionError("the score of p = 0 is computed only where a maximal key is 0")

    assert candidate_maxima(codes[:, [0, 2]], candidates, scores, unused)[0, 0] == 0.75


def test_simd_vectors_hand_computed():
    @numba.njit
    def lanes(rows):
        p = simd.load(rows, 0, 1, 3, 4)  # rows[0, 1:4] in four lanes: the fourth is 0
        code = simd.as_int32(p * simd.splat(np.float32(2.0), 4) - np.float32(1.0))
        q = simd.load_row(rows, 1, 0, 4)
        best = simd.unsigned_max_reduce4(
            simd.as_int32(simd.load(rows, 2, 0, 16, 16)),
            simd.as_int32(simd.load(rows, 3, 0, 16, 16)),
            simd.as_int32(simd.load(rows, 4, 0, 16, 16)),
            simd.as_int32(simd.load(rows, 5, 0, 16, 16)),
        )
        mask = simd.bitmask_ge(simd.as_int32(q), simd.as_int32(p))
        return (
            simd.element(code, 0),
            simd.element(code, 3),
            mask,
            simd.lowest_set_bit(np.int64(40)),
            simd.element(best, 0),
            simd.element(best, 3),
            simd.max_reduce(simd.as_int32(q)),
            simd.element(simd.unsigned_maximum(simd.as_int32(q), simd.as_int32(p)), 3),
        )

    rows = np.zeros((6, 16), dtype=np.float32)
    rows[0, :5] = [9.0, 1.5, 2.0, 0.25, 7.0]
    rows[1, :4] = [1.0, 2.5, 0.5, -3.0]
    rows[2:] = np.arange(64, dtype=np.float32).reshape(4, 16)[::-1]
    rows[5, 7] = -0.5  # sign bit set: the largest code read as unsigned
    first, last, mask, bit, best0, best3, top, larger = lanes(rows)
    assert np.int32(first).view(np.float32) == 2.0  # 1.5·2 − 1
    assert np.int32(last).view(np.float32) == -1.0  # the masked-off lane: 0·2 − 1
    # q ≥ p lane by lane, as int32 bits: 1.0 < 1.5, 2.5 ≥ 2.0, 0.5 ≥ 0.25, −3.0 (negative bits) < 0.0
    assert mask == 0b0110
    assert bit == 3 and (best0, best3) == (np.float32(63).view(np.int32), np.float32(-0.5).view(np.int32))
    assert np.int32(top).view(np.float32) == 2.5
    assert np.int32(larger).view(np.float32) == -3.0  # unsigned: −3.0's sign bit beats 0.0


def test_the_vector_kernels_are_exact_when_compiled_for_avx2():
    # numba compiles for the host (AVX-512 here when it has it); a fresh process compiled for Haswell (AVX2,
    # 8-lane registers) must give the same bits.
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import numpy as np, torch
        from test_keyed_max import _batch, _engine, _reference, _differing
        from albench.uncertainty import OvrEntropy
        for kind in ("random", "saturated", "confident"):
            probs, labels, counts = _batch(9, kind, classes=21)
            reference = _reference(OvrEntropy(), probs, labels, counts)
            for layout in (torch.contiguous_format, torch.channels_last):
                laid_out = probs.contiguous(memory_format=layout)
                assert _differing(_engine(OvrEntropy(), laid_out, labels, counts), reference) == 0, kind
        print("exact")
    """)
    environment = {**os.environ, "NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": ""}
    done = subprocess.run(
        [sys.executable, "-c", script, os.path.dirname(__file__)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "exact"
