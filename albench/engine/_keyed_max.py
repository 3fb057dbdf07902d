"""Exact per-superpixel maxima of a score with an elementwise key, on the CPU, in one read of the probabilities.

A score such as one-vs-rest entropy is costly per pixel (two logarithms) but increasing in a cheap key
(p(1 − p)). Its maximum over a region is the score of a pixel whose key is maximal *in exact arithmetic*;
the float32 score as torch computes it is monotone in the key only up to rounding, so near the maximum a
pixel with a slightly smaller key can score one ulp higher. The kernels here therefore find, per region and
channel, the maximal key and every pixel whose key is within the score's tolerance of it (the *candidates*);
the engine scores only those with torch and takes their maximum. That maximum is bit for bit the maximum of
the score over all the region's pixels, because every pixel outside the band scores no higher than a
maximal-key pixel (the score's promise: :attr:`albench.statistics.PixelScore.key_tolerance`).

Keys are compared as *codes*, the float32 bits as int32, which order like the floats for keys ≥ 0 and put
NaN on top. A superpixel map is a sequence of runs of equal labels in raster order
(:mod:`albench.engine._label_runs`), each reduced in registers. The vectors are explicit
(:mod:`albench.engine._simd`), so the same source uses AVX-512, AVX2 or whatever the CPU has. Two layouts:

- **pixel-major** ``(H·W, C)`` (channels-last): a pixel's C probabilities are contiguous and load as one
  vector (a masked load; lanes past C hold 0 and are ignored), so a run's maximum is a vector maximum over
  the channels, pixel after pixel. Per channel the kernel also keeps the run's second-largest code and the
  probability at the maximum. After the run the region's maximum so far is updated, and so is the band
  below it: the run's maximum is a candidate if it lies in that band, and only if the second-largest code
  does too is the run (still in L1 cache) read again for all its pixels in the band. A region's maximum
  only grows, so its final band lies inside every earlier one; a last filter keeps the candidates in the
  final band (about three are written per region and channel on smooth maps, one survives).
- **channel-major** ``(C, H·W)``, the layout of a plain ``(B, C, H, W)`` softmax (torch's CPU softmax
  writes it even for channels-last logits): the kernel makes one pass over the runs per group of four
  channels, reading four rows of the probabilities as streams. A run of one channel is contiguous, so up to
  16 of its pixels load as one vector, and the four channels' vectors reduce to their four maxima in one
  shuffle tree; each run's maximal codes are kept. After the pass the group's maxima are final: the runs
  whose maximum lies in their region's band (about one per region and channel) are read again for their
  pixels in the band, the candidates, and nothing needs filtering.

A key whose sign bit is set anywhere (a probability outside [0, 1] for p(1 − p), or −0.0) makes the kernels
report the image invalid; the engine then scores every pixel of it directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from albench.engine import _simd as simd
from albench.engine._label_runs import EMPTY_CODE, LabelRuns

__all__ = ["Candidates", "candidate_maxima", "key_candidates", "vector_parts"]

_LOW_BITS = np.int32(0x7FFFFFFF)
#: The smallest code a candidate may have: keys of 0 are never candidates (see ``PixelScore.key_tolerance``).
_ONE = np.int32(1)
#: Pixels of one channel per vector in the channel-major kernel.
_SPAN = 16
#: How many pixels ahead the pixel-major kernel asks for the cache line (a few percent faster from DRAM).
_AHEAD = 64
#: How many pixels ahead, in each of its four rows, the channel-major kernel asks for the cache line.
_AHEAD_CM = 256


@dataclass(frozen=True)
class Candidates:
    """The pixels of one image that may hold a region's maximal score: their probability and their slot
    ``region · C + channel`` (local region ids)."""

    values: np.ndarray
    slots: np.ndarray


def vector_parts(channels: int) -> tuple[int, int]:
    """The pixel-major kernel's two vectors for C channels: the largest power of two ≤ C lanes, then the next
    power of two ≥ the rest (at least one lane). LLVM maps power-of-two vectors onto the CPU's registers
    cleanly (21 channels: 16 + 8 lanes, one 512-bit and one 256-bit register with AVX-512, three 256-bit
    ones with AVX2), where one 21-lane vector it would handle element by element."""
    head = 1 << (channels.bit_length() - 1)
    rest = channels - head
    return head, 1 << max(rest - 1, 0).bit_length()


@numba.njit(inline="always")
def _fold(key: Any, p: Any, best: Any, second: Any, held: Any, lowest: Any) -> Any:  # pragma: no cover
    """One pixel into a run's accumulators: the largest and second-largest codes, the probability at the
    largest, and the smallest raw code (negative: a key with its sign bit set)."""
    code = simd.as_int32(key(p))
    lowest = simd.minimum(lowest, code)
    second = simd.maximum(second, simd.minimum(best, code))
    held = simd.select_greater(code, best, p, held)
    best = simd.maximum(best, code)
    return best, second, held, lowest


def _pixel_major_kernel(key: Callable[[Any], Any], channels: int) -> Any:
    head, tail = vector_parts(channels)
    rest = channels - head  # the tail's loaded lanes (0: a single lane that loads nothing)
    every_channel = (1 << channels) - 1 if channels < 64 else -1

    @numba.njit(nogil=True, boundscheck=False)
    def kernel(
        values: Any,
        starts: Any,
        regions: Any,
        num_pixels: int,
        codes: Any,
        held_values: Any,
        tolerance: int,
        cand_values: Any,
        cand_slots: Any,
        cand_codes: Any,
    ) -> Any:  # pragma: no cover - compiled
        capacity = cand_values.shape[0]
        count = 0
        runs = starts.shape[0]
        band_h, band_t = simd.splat(np.int32(tolerance), head), simd.splat(np.int32(tolerance), tail)
        one_h, one_t = simd.splat(_ONE, head), simd.splat(_ONE, tail)
        empty_h, empty_t = simd.splat(EMPTY_CODE, head), simd.splat(EMPTY_CODE, tail)
        zero_h, zero_t = simd.splat(np.float32(0.0), head), simd.splat(np.float32(0.0), tail)
        lowest_h, lowest_t = simd.splat(np.int32(0), head), simd.splat(np.int32(0), tail)
        for i in range(runs):
            start = starts[i]
            stop = starts[i + 1] if i + 1 < runs else num_pixels
            region = regions[i]
            best_h, second_h, held_h = empty_h, empty_h, zero_h
            best_t, second_t, held_t = empty_t, empty_t, zero_t
            for j in range(start, stop):
                simd.prefetch(values, j + _AHEAD, 0)
                p_h = simd.load(values, j, 0, head, head)
                p_t = simd.load(values, j, head, rest, tail)  # lanes past C load as 0
                best_h, second_h, held_h, lowest_h = _fold(key, p_h, best_h, second_h, held_h, lowest_h)
                best_t, second_t, held_t, lowest_t = _fold(key, p_t, best_t, second_t, held_t, lowest_t)
            # The region's maximum so far, and who holds it: this run where it set a new maximum.
            old_h, old_t = simd.load_row(codes, region, 0, head), simd.load_row(codes, region, head, tail)
            before_h = simd.load_row(held_values, region, 0, head)
            before_t = simd.load_row(held_values, region, head, tail)
            top_h, top_t = simd.maximum(old_h, best_h), simd.maximum(old_t, best_t)
            simd.store_row(codes, region, 0, top_h)
            simd.store_row(codes, region, head, top_t)
            simd.store_row(held_values, region, 0, simd.select_greater(best_h, old_h, held_h, before_h))
            simd.store_row(held_values, region, head, simd.select_greater(best_t, old_t, held_t, before_t))
            floor_h = simd.maximum(simd.subtract(top_h, band_h), one_h)
            floor_t = simd.maximum(simd.subtract(top_t, band_t), one_t)
            raised = every_channel & ~(simd.bitmask_ge(old_h, best_h) | (simd.bitmask_ge(old_t, best_t) << head))
            slot = region * channels
            # A raised maximum whose previous holder is still in the band: that holder becomes a candidate.
            mask = raised & (simd.bitmask_ge(old_h, floor_h) | (simd.bitmask_ge(old_t, floor_t) << head))
            while mask:
                lane = simd.lowest_set_bit(mask)
                mask &= mask - 1
                if count < capacity:
                    if lane < head:
                        cand_values[count], cand_codes[count] = simd.element(before_h, lane), simd.element(old_h, lane)
                    else:
                        cand_values[count] = simd.element(before_t, lane - head)
                        cand_codes[count] = simd.element(old_t, lane - head)
                    cand_slots[count] = slot + lane
                count += 1
            deep = simd.bitmask_ge(second_h, floor_h) | (simd.bitmask_ge(second_t, floor_t) << head)
            if every_channel & deep:  # several pixels in the band: read the run again for all of them
                for j in range(start, stop):
                    code_h = simd.as_int32(key(simd.load(values, j, 0, head, head)))
                    code_t = simd.as_int32(key(simd.load(values, j, head, rest, tail)))
                    mask = every_channel & (
                        simd.bitmask_ge(code_h, floor_h) | (simd.bitmask_ge(code_t, floor_t) << head)
                    )
                    while mask:
                        lane = simd.lowest_set_bit(mask)
                        mask &= mask - 1
                        if count < capacity:
                            cand_values[count] = values[j, lane]
                            cand_slots[count] = slot + lane
                            cand_codes[count] = (
                                simd.element(code_h, lane) if lane < head else simd.element(code_t, lane - head)
                            )
                        count += 1
            else:  # the run's maximum, where it is in the band without being the region's holder
                mask = (
                    every_channel
                    & ~raised
                    & (simd.bitmask_ge(best_h, floor_h) | (simd.bitmask_ge(best_t, floor_t) << head))
                )
                while mask:
                    lane = simd.lowest_set_bit(mask)
                    mask &= mask - 1
                    if count < capacity:
                        if lane < head:
                            cand_values[count], cand_codes[count] = (
                                simd.element(held_h, lane),
                                simd.element(best_h, lane),
                            )
                        else:
                            cand_values[count] = simd.element(held_t, lane - head)
                            cand_codes[count] = simd.element(best_t, lane - head)
                        cand_slots[count] = slot + lane
                    count += 1
        # Keys ≥ 0 have codes ≥ 0 (which compare as their floats do, NaN on top); a negative code is a key
        # with its sign bit set, which the caller must not trust.
        return count, min(simd.min_reduce(lowest_h), simd.min_reduce(lowest_t))

    return kernel


def _channel_major_kernel(key: Callable[[Any], Any]) -> Any:
    """Four channels at a time over the whole image: their run maxima, then their candidates.

    A pass per group of four channels reads four rows of the probabilities, a stream the CPU fetches well
    (with a prefetch ahead: masked loads do not train its prefetchers); one pass over all C rows at once,
    run by run, keeps some 20 streams in flight and ran 2× slower. Up to 16 pixels of a channel's run load
    as one vector, and the four channels' vectors reduce to their four maxima in one shuffle tree. Codes are
    compared as *unsigned* there, so a key with its sign bit set wins its region's maximum, where the check
    after the pass finds it. Once the pass is done the group's maxima are final: the runs whose maximum lies
    in their region's band are listed (without a branch), then read again for their pixels in the band
    (about one run per region and channel; most write one candidate, also without a branch).
    """

    @numba.njit(nogil=True, boundscheck=False)
    def kernel(
        values: Any,
        starts: Any,
        regions: Any,
        num_pixels: int,
        codes: Any,
        run_codes: Any,
        hit_runs: Any,
        tolerance: int,
        cand_values: Any,
        cand_slots: Any,
    ) -> Any:  # pragma: no cover - compiled
        capacity = cand_values.shape[0] - 1  # the last slot takes the writes that count nothing
        count = 0
        runs = starts.shape[0]
        channels = values.shape[0]
        num_regions = codes.shape[0] // ((channels + 3) // 4)
        one = simd.splat(_ONE, 4)
        band = simd.splat(np.int32(tolerance), 4)
        for group in range(0, channels, 4):
            valid = (np.int64(1) << min(4, channels - group)) - 1  # channels past the last repeat it
            c0, c1 = group, min(group + 1, channels - 1)
            c2, c3 = min(group + 2, channels - 1), min(group + 3, channels - 1)
            table = (group // 4) * num_regions  # this group's rows of ``codes``: (region, 4 channels)
            for i in range(runs):
                start = starts[i]
                stop = starts[i + 1] if i + 1 < runs else num_pixels
                region = regions[i]
                simd.prefetch(values, c0, start + _AHEAD_CM)
                simd.prefetch(values, c1, start + _AHEAD_CM)
                simd.prefetch(values, c2, start + _AHEAD_CM)
                simd.prefetch(values, c3, start + _AHEAD_CM)
                size = min(_SPAN, stop - start)  # lanes past the run load as 0 (code 0, below every other)
                m0 = simd.as_int32(key(simd.load(values, c0, start, size, _SPAN)))
                m1 = simd.as_int32(key(simd.load(values, c1, start, size, _SPAN)))
                m2 = simd.as_int32(key(simd.load(values, c2, start, size, _SPAN)))
                m3 = simd.as_int32(key(simd.load(values, c3, start, size, _SPAN)))
                for begin in range(start + _SPAN, stop, _SPAN):  # runs longer than a vector
                    size = min(_SPAN, stop - begin)
                    m0 = simd.unsigned_maximum(m0, simd.as_int32(key(simd.load(values, c0, begin, size, _SPAN))))
                    m1 = simd.unsigned_maximum(m1, simd.as_int32(key(simd.load(values, c1, begin, size, _SPAN))))
                    m2 = simd.unsigned_maximum(m2, simd.as_int32(key(simd.load(values, c2, begin, size, _SPAN))))
                    m3 = simd.unsigned_maximum(m3, simd.as_int32(key(simd.load(values, c3, begin, size, _SPAN))))
                best = simd.unsigned_max_reduce4(m0, m1, m2, m3)
                simd.store_row(run_codes, i, 0, best)
                row = table + region
                simd.store_row(codes, row, 0, simd.unsigned_maximum(simd.load_row(codes, row, 0, 4), best))
            # Keys ≥ 0 have codes ≥ 0 (which compare as their floats do, NaN on top); a code with its sign bit
            # set is a key the caller must not trust: stop here.
            for row in range(table, table + num_regions):
                if simd.min_reduce(simd.load_row(codes, row, 0, 4)) < 0:
                    return count, -1
            hits = 0
            for i in range(runs):
                top = simd.load_row(codes, table + regions[i], 0, 4)
                floor = simd.maximum(simd.subtract(top, band), one)  # keys of 0 are never candidates
                lanes = valid & simd.bitmask_ge(simd.load_row(run_codes, i, 0, 4), floor)
                hit_runs[hits] = i * 16 + lanes
                hits += lanes != 0
            for hit in range(hits):
                i = hit_runs[hit] >> 4
                lanes = hit_runs[hit] & 15
                start = starts[i]
                stop = starts[i + 1] if i + 1 < runs else num_pixels
                region = regions[i]
                while lanes:
                    lane = simd.lowest_set_bit(lanes)
                    lanes &= lanes - 1
                    c = group + lane
                    slot = region * channels + c
                    low = simd.splat(np.int32(max(codes[table + region, lane] - tolerance, 1)), _SPAN)
                    for begin in range(start, stop, _SPAN):
                        p = simd.load(values, c, begin, min(_SPAN, stop - begin), _SPAN)
                        mask = simd.bitmask_ge(simd.as_int32(key(p)), low)
                        # Usually one pixel: written whatever the mask, counted only if there is one.
                        at = min(count, capacity)
                        cand_values[at] = values[c, begin + (simd.lowest_set_bit(mask) & (_SPAN - 1))]
                        cand_slots[at] = slot
                        count += mask != 0
                        mask &= mask - 1
                        while mask:
                            at = min(count, capacity)
                            cand_values[at] = values[c, begin + simd.lowest_set_bit(mask)]
                            cand_slots[at] = slot
                            mask &= mask - 1
                            count += 1
        return count, 0

    return kernel


@numba.njit(nogil=True, cache=True)
def _region_major(codes: Any, regions: Any, channels: int, out: Any) -> None:  # pragma: no cover - compiled
    """The channel-major kernel's maxima ``(groups · R, 4)`` as ``out (R, C)``; :data:`EMPTY_CODE` for regions
    without a pixel."""
    num_regions = out.shape[0]
    out[:] = EMPTY_CODE
    for region in regions:
        out[region, 0] = 0
    for region in range(num_regions):
        if out[region, 0] == 0:
            for c in range(channels):
                out[region, c] = codes[(c // 4) * num_regions + region, c % 4]


@numba.njit(nogil=True, cache=True)
def _keep_final_band(
    values: Any, slots: Any, candidate_codes: Any, count: int, codes: Any, tolerance: int
) -> int:  # pragma: no cover - compiled
    """Compact the candidates to those in their region's final band (``codes`` flat); the new count."""
    kept = 0
    for index in range(count):
        slot = slots[index]
        if candidate_codes[index] >= max(codes[slot] - tolerance, 1):
            values[kept] = values[index]
            slots[kept] = slot
            kept += 1
    return kept


_NAN_CODE = 0x7F800000  # codes above this one are NaN


@numba.njit(nogil=True, cache=True)
def _candidate_maxima(scores: Any, slots: Any, codes: Any, out: Any) -> bool:  # pragma: no cover - compiled
    """The maximum of each slot's candidate scores into ``out``, NaN for NaN keys and empty regions; whether
    some maximal key is 0 (those slots are left for the caller)."""
    best = np.full(codes.size, -np.inf, dtype=np.float32)
    for index in range(scores.shape[0]):
        best[slots[index]] = max(best[slots[index]], scores[index])
    flat_codes, flat_out = codes.reshape(-1), out.reshape(-1)
    zero = False
    for slot in range(flat_codes.shape[0]):
        code = flat_codes[slot]
        zero |= code == 0
        flat_out[slot] = np.nan if code > _NAN_CODE or code == EMPTY_CODE else best[slot]
    return zero


def candidate_maxima(
    codes: np.ndarray, candidates: Candidates, scores: np.ndarray, zero_score: Callable[[], float]
) -> np.ndarray:
    """Each region's maximal score ``(R, C)`` float64 from its candidates' float32 ``scores``: their maximum
    (exact: no arithmetic); where the maximal key is 0 every pixel scores as p = 0 does (no candidate was
    written), ``zero_score()``; NaN for a NaN key and for an empty region."""
    codes = np.ascontiguousarray(codes)
    out = np.empty(codes.shape, dtype=np.float64)
    if _candidate_maxima(scores, candidates.slots, codes, out):
        out[codes == 0] = zero_score()
    return out


class _Scratch(threading.local):
    """Per-thread buffers that only grow: arrays of megabytes, freshly allocated for every image, would cost
    a page fault per 4 KiB written (about 0.5 ms an image at Pascal VOC scale)."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype: type) -> np.ndarray:
        buffer = self.buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[name] = np.empty(max(size, 2 * (0 if buffer is None else buffer.size)), dtype=dtype)
        return buffer[:size]


_SCRATCH = _Scratch()


def _table(name: str, rows: int, columns: int, fill: int | None = None) -> np.ndarray:
    table = _SCRATCH.get(name, rows * columns, np.int32).reshape(rows, columns)
    if fill is not None:
        table.fill(fill)
    return table


_KERNELS: dict[tuple[Any, int | None], Any] = {}  # by key function and channel count (None: channel-major)


def _kernel(key: Callable[[Any], Any], channels: int | None) -> Any:
    function = getattr(key, "__func__", key)  # a dispatcher read off an instance comes back bound: unwrap it
    kernel = _KERNELS.get((function, channels))
    if kernel is None:
        made = _channel_major_kernel(function) if channels is None else _pixel_major_kernel(function, channels)
        kernel = _KERNELS[(function, channels)] = made
    return kernel


def key_candidates(
    values: np.ndarray,
    runs: LabelRuns,
    offset: int,
    num_regions: int,
    key: Callable[[Any], Any],
    tolerance: int,
    *,
    pixel_major: bool,
) -> tuple[np.ndarray, Candidates] | None:
    """The maximal key codes ``(num_regions, C)`` of one image and the candidates for its maximal scores.

    ``values`` holds the image's float32 probabilities, pixel-major ``(H·W, C)`` or channel-major
    ``(C, H·W)``, C-contiguous; ``runs`` its label runs with global region ids, ``offset`` the image's first
    global region id; ``key`` a numba scalar function, ``tolerance`` in ulps of the key. ``None`` when a key
    had its sign bit set: the caller scores the image directly. Empty regions keep :data:`EMPTY_CODE`.
    """
    regions = runs.regions - offset
    if pixel_major:
        return _pixel_major_candidates(values, runs, regions, num_regions, key, tolerance)
    channels = values.shape[0]
    kernel = _kernel(key, None)
    runs_count = len(runs.starts)
    capacity = 1024 + 2 * num_regions * channels
    while True:
        codes = _table("codes", -(-channels // 4) * num_regions, 4, 0)
        run_codes = _table("run codes", runs_count, 4)
        hit_runs = _SCRATCH.get("hit runs", runs_count, np.int64)
        cand_values = _SCRATCH.get("values", capacity + 1, np.float32)
        cand_slots = _SCRATCH.get("slots", capacity + 1, np.int64)
        count, flag = kernel(
            values,
            runs.starts,
            regions,
            runs.num_pixels,
            codes,
            run_codes,
            hit_runs,
            tolerance,
            cand_values,
            cand_slots,
        )
        if flag < 0:
            return None
        if count <= capacity:
            break
        capacity = 2 * count  # saturated maps: many pixels in the band; reduce again with room for all
    maxima = np.empty((num_regions, channels), dtype=np.int32)
    _region_major(codes, regions, channels, maxima)
    return maxima, Candidates(cand_values[:count].copy(), cand_slots[:count].copy())


def _pixel_major_candidates(
    values: np.ndarray,
    runs: LabelRuns,
    regions: np.ndarray,
    num_regions: int,
    key: Callable[[Any], Any],
    tolerance: int,
) -> tuple[np.ndarray, Candidates] | None:
    channels = values.shape[1]
    kernel = _kernel(key, channels)
    columns = sum(vector_parts(channels))
    capacity = 1024 + 2 * num_regions * channels
    while True:
        codes = _table("codes", num_regions, columns, int(EMPTY_CODE))
        held = _SCRATCH.get("held", num_regions * columns, np.float32).reshape(num_regions, columns)
        cand_values = _SCRATCH.get("values", capacity, np.float32)
        cand_slots = _SCRATCH.get("slots", capacity, np.int64)
        cand_codes = _SCRATCH.get("candidate codes", capacity, np.int32)
        count, bits = kernel(
            values, runs.starts, regions, runs.num_pixels, codes, held, tolerance, cand_values, cand_slots, cand_codes
        )
        if bits < 0:
            return None
        if count <= capacity:
            break
        capacity = 2 * count  # saturated maps: many pixels in the band; reduce again with room for all
    codes = codes[:, :channels].copy()
    kept = _keep_final_band(cand_values, cand_slots, cand_codes, count, codes.reshape(-1), tolerance)
    # Every region and channel with a maximal key > 0 has its holder as a candidate too.
    holders = np.flatnonzero(codes.reshape(-1) > 0)
    values_out = np.concatenate([cand_values[:kept], held[:, :channels].reshape(-1)[holders]])
    return codes, Candidates(values_out, np.concatenate([cand_slots[:kept], holders]))
