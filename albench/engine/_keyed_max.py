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
  writes it even for channels-last logits): a run of one channel is contiguous, so up to 16 of its pixels
  load as one vector, and four channels' vectors reduce to their four maxima in one shuffle tree. Each
  run's maximal codes are kept; when a region's last run is done its band is final, and the kernel reads
  again the region's runs whose maximum lies in it (about one per channel) and writes the candidates.

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

__all__ = ["Candidates", "key_candidates", "vector_lanes"]

_LOW_BITS = np.int32(0x7FFFFFFF)
#: The smallest code a candidate may have: keys of 0 are never candidates (see ``PixelScore.key_tolerance``).
_ONE = np.int32(1)
#: Pixels of one channel per vector in the channel-major kernel.
_SPAN = 16


@dataclass(frozen=True)
class Candidates:
    """The pixels of one image that may hold a region's maximal score: their probability and their slot
    ``region · C + channel`` (local region ids)."""

    values: np.ndarray
    slots: np.ndarray


def vector_lanes(channels: int) -> int:
    """Lanes of the pixel-major kernel's vectors: the next power of two ≥ C (LLVM splits those into the
    CPU's registers cleanly; other counts it handles element by element)."""
    return 1 << max(channels - 1, 0).bit_length()


def _pixel_major_kernel(key: Callable[[Any], Any], channels: int) -> Any:
    lanes = vector_lanes(channels)
    every_channel = (1 << channels) - 1 if channels < 64 else -1

    @numba.njit(nogil=True, boundscheck=False)
    def kernel(
        values: Any,
        starts: Any,
        regions: Any,
        num_pixels: int,
        codes: Any,
        tolerance: int,
        cand_values: Any,
        cand_slots: Any,
    ) -> Any:  # pragma: no cover - compiled
        capacity = cand_values.shape[0]
        count = 0
        runs = starts.shape[0]
        low_bits = simd.splat(_LOW_BITS, lanes)
        band = simd.splat(np.int32(tolerance), lanes)
        one = simd.splat(_ONE, lanes)
        empty = simd.splat(EMPTY_CODE, lanes)
        zero = simd.splat(np.float32(0.0), lanes)
        bits = simd.splat(np.int32(0), lanes)
        for i in range(runs):
            start = starts[i]
            stop = starts[i + 1] if i + 1 < runs else num_pixels
            region = regions[i]
            best, second, held = empty, empty, zero
            for j in range(start, stop):
                p = simd.load(values, j, 0, channels, lanes)
                code = simd.as_int32(key(p))
                bits = simd.bitwise_or(bits, code)
                code = simd.bitwise_and(code, low_bits)
                second = simd.maximum(second, simd.minimum(best, code))
                held = simd.select_greater(code, best, p, held)
                best = simd.maximum(best, code)
            top = simd.maximum(simd.load_row(codes, region, 0, lanes), best)
            simd.store_row(codes, region, 0, top)
            floor = simd.maximum(simd.subtract(top, band), one)
            slot = region * channels
            if every_channel & simd.bitmask_ge(second, floor):  # several pixels in the band: read the run again
                for j in range(start, stop):
                    code = simd.bitwise_and(simd.as_int32(key(simd.load(values, j, 0, channels, lanes))), low_bits)
                    mask = every_channel & simd.bitmask_ge(code, floor)
                    while mask:
                        lane = simd.lowest_set_bit(mask)
                        mask &= mask - 1
                        if count < capacity:
                            cand_values[count] = values[j, lane]
                            cand_slots[count] = slot + lane
                        count += 1
            else:
                mask = every_channel & simd.bitmask_ge(best, floor)
                while mask:
                    lane = simd.lowest_set_bit(mask)
                    mask &= mask - 1
                    if count < capacity:
                        cand_values[count] = simd.element(held, lane)
                        cand_slots[count] = slot + lane
                    count += 1
        return count, simd.or_reduce(bits)

    return kernel


@numba.njit(nogil=True, cache=True)
def _runs_by_region(regions: Any, num_regions: int) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """Each region's runs, in raster order: ``members[first[r] : first[r + 1]]`` (a counting sort)."""
    first = np.zeros(num_regions + 1, dtype=np.int64)
    for region in regions:
        first[region + 1] += 1
    for region in range(num_regions):
        first[region + 1] += first[region]
    members = np.empty(regions.shape[0], dtype=np.int64)
    filled = first[:-1].copy()
    for i in range(regions.shape[0]):
        members[filled[regions[i]]] = i
        filled[regions[i]] += 1
    return first, members


def _channel_major_kernel(key: Callable[[Any], Any]) -> Any:
    """Run maxima, then each region's candidates as soon as its last run is reduced.

    A channel's run is contiguous: up to 16 of its pixels load as one vector, and four channels' vectors
    reduce to their four maxima in one shuffle tree (:func:`albench.engine._simd.max_reduce4`); each run's
    maximal codes are kept. When a region's last run is done, its band is final: the kernel reads again the
    region's runs whose maximum lies in the band (about one per channel), rows it read moments ago and
    that are still in cache, and writes the final candidates directly.
    """

    @numba.njit(nogil=True, boundscheck=False)
    def kernel(
        values: Any,
        starts: Any,
        regions: Any,
        num_pixels: int,
        first: Any,
        members: Any,
        codes: Any,
        run_codes: Any,
        tolerance: int,
        cand_values: Any,
        cand_slots: Any,
    ) -> Any:  # pragma: no cover
        capacity = cand_values.shape[0]
        count = 0
        runs = starts.shape[0]
        channels = values.shape[0]
        low_bits = simd.splat(_LOW_BITS, _SPAN)
        zero = simd.splat(np.int32(0), _SPAN)
        one = simd.splat(_ONE, _SPAN)
        band = simd.splat(np.int32(tolerance), _SPAN)
        never = simd.splat(np.int32(0x7FFFFFFF), _SPAN)
        bits = zero
        for i in range(runs):
            start = starts[i]
            stop = starts[i + 1] if i + 1 < runs else num_pixels
            region = regions[i]
            for group in range(0, channels, 4):  # channels past the last repeat it (their columns are padding)
                c0, c1 = group, min(group + 1, channels - 1)
                c2, c3 = min(group + 2, channels - 1), min(group + 3, channels - 1)
                m0, m1, m2, m3 = zero, zero, zero, zero  # codes are ≥ 0, and lanes past the run load as 0
                for begin in range(start, stop, _SPAN):
                    size = min(_SPAN, stop - begin)
                    k0 = simd.as_int32(key(simd.load(values, c0, begin, size, _SPAN)))
                    k1 = simd.as_int32(key(simd.load(values, c1, begin, size, _SPAN)))
                    k2 = simd.as_int32(key(simd.load(values, c2, begin, size, _SPAN)))
                    k3 = simd.as_int32(key(simd.load(values, c3, begin, size, _SPAN)))
                    bits = simd.bitwise_or(bits, simd.bitwise_or(simd.bitwise_or(k0, k1), simd.bitwise_or(k2, k3)))
                    m0 = simd.maximum(m0, simd.bitwise_and(k0, low_bits))
                    m1 = simd.maximum(m1, simd.bitwise_and(k1, low_bits))
                    m2 = simd.maximum(m2, simd.bitwise_and(k2, low_bits))
                    m3 = simd.maximum(m3, simd.bitwise_and(k3, low_bits))
                best = simd.max_reduce4(m0, m1, m2, m3)
                simd.store_row(run_codes, i, group, best)
                simd.store_row(codes, region, group, simd.maximum(simd.load_row(codes, region, group, 4), best))
            if members[first[region + 1] - 1] != i:
                continue
            # The region's last run: its band is final. Maximal codes of 0 (keys of 0) write nothing.
            for group in range(0, channels, _SPAN):
                valid = (np.int64(1) << min(_SPAN, channels - group)) - 1
                top = simd.load_row(codes, region, group, _SPAN)
                floor = simd.select_greater(top, zero, simd.maximum(simd.subtract(top, band), one), never)
                for member in range(first[region], first[region + 1]):
                    run = members[member]
                    hits = valid & simd.bitmask_ge(simd.load_row(run_codes, run, group, _SPAN), floor)
                    if not hits:
                        continue
                    run_start = starts[run]
                    run_stop = starts[run + 1] if run + 1 < runs else num_pixels
                    while hits:
                        lane = simd.lowest_set_bit(hits)
                        hits &= hits - 1
                        c = group + lane
                        low = simd.splat(simd.element(floor, lane), _SPAN)
                        for begin in range(run_start, run_stop, _SPAN):
                            p = simd.load(values, c, begin, min(_SPAN, run_stop - begin), _SPAN)
                            mask = simd.bitmask_ge(simd.bitwise_and(simd.as_int32(key(p)), low_bits), low)
                            while mask:
                                index = simd.lowest_set_bit(mask)
                                mask &= mask - 1
                                if count < capacity:
                                    cand_values[count] = simd.element(p, index)
                                    cand_slots[count] = region * channels + c
                                count += 1
        return count, simd.or_reduce(bits)

    return kernel


def _make_filter(key: Callable[[Any], Any]) -> Any:
    @numba.njit(nogil=True)
    def keep_final_band(
        values: Any, slots: Any, count: int, codes: Any, tolerance: int
    ) -> int:  # pragma: no cover - compiled
        """Compact the candidates to those in their region's final band (``codes`` flat); the new count."""
        kept = 0
        for index in range(count):
            slot = slots[index]
            low = max(codes[slot] - tolerance, _ONE)
            if np.int32(np.float32(key(values[index])).view(np.int32) & _LOW_BITS) >= low:
                values[kept] = values[index]
                slots[kept] = slot
                kept += 1
        return kept

    return keep_final_band


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
_FILTERS: dict[Any, Any] = {}


def _kernel(key: Callable[[Any], Any], channels: int | None) -> Any:
    function = getattr(key, "__func__", key)  # a dispatcher read off an instance comes back bound: unwrap it
    kernel = _KERNELS.get((function, channels))
    if kernel is None:
        made = _channel_major_kernel(function) if channels is None else _pixel_major_kernel(function, channels)
        kernel = _KERNELS[(function, channels)] = made
    return kernel


def _filter(key: Callable[[Any], Any]) -> Any:
    function = getattr(key, "__func__", key)
    if function not in _FILTERS:
        _FILTERS[function] = _make_filter(function)
    return _FILTERS[function]


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
    columns = -(-channels // _SPAN) * _SPAN
    first, members = _runs_by_region(regions, num_regions)
    capacity = 1024 + 2 * num_regions * channels
    while True:
        codes = _table("codes", num_regions, columns, int(EMPTY_CODE))
        run_codes = _table("run codes", len(runs.starts), columns)
        cand_values = _SCRATCH.get("values", capacity, np.float32)
        cand_slots = _SCRATCH.get("slots", capacity, np.int64)
        count, bits = kernel(
            values,
            runs.starts,
            regions,
            runs.num_pixels,
            first,
            members,
            codes,
            run_codes,
            tolerance,
            cand_values,
            cand_slots,
        )
        if bits < 0:
            return None
        if count <= capacity:
            break
        capacity = 2 * count  # saturated maps: many pixels in the band; reduce again with room for all
    return codes[:, :channels].copy(), Candidates(cand_values[:count].copy(), cand_slots[:count].copy())


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
    capacity = 1024 + 8 * num_regions * channels  # about three per region and channel are written on smooth maps
    while True:
        codes = _table("codes", num_regions, vector_lanes(channels), int(EMPTY_CODE))
        cand_values = _SCRATCH.get("values", capacity, np.float32)
        cand_slots = _SCRATCH.get("slots", capacity, np.int64)
        count, bits = kernel(values, runs.starts, regions, runs.num_pixels, codes, tolerance, cand_values, cand_slots)
        if bits < 0:
            return None
        if count <= capacity:
            break
        capacity = 2 * count  # rare (saturated maps): reduce the image again with room for every candidate
    codes = codes[:, :channels].copy()
    kept = _filter(key)(cand_values, cand_slots, count, codes.reshape(-1), tolerance)
    return codes, Candidates(cand_values[:kept].copy(), cand_slots[:kept].copy())
