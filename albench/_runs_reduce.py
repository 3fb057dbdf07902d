"""Per-superpixel maxima and sums on the CPU in one pass over runs of equal labels, compiled with numba.

Scattering every pixel value to its region costs several nanoseconds a value on a CPU: a read-modify-write
whose address depends on the label, repeated for neighbouring pixels of the same region. Superpixels are
compact, so in raster order the label map is a sequence of runs (about 16 pixels at Pascal VOC scale): each
run is reduced in a register and written to its region once. A score that supplies a scalar key function
(:attr:`albench.scoring.PixelScore.elementwise_key`) has it fused into the maximum, so the key map is never
written to memory: the probabilities are read once.

Maxima propagate NaN, as ``torch.amax`` does; sums accumulate in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

__all__ = ["LabelRuns", "label_runs", "runs_max", "runs_sum"]


@dataclass(frozen=True)
class LabelRuns:
    """An image's label map as runs in raster order: run i covers flat pixels ``starts[i]`` up to
    ``starts[i + 1]`` (or the end) and belongs to global region ``regions[i]``."""

    starts: np.ndarray
    regions: np.ndarray
    num_pixels: int


def label_runs(labels: np.ndarray, offset: int = 0) -> LabelRuns:
    """The runs of ``labels (H, W)`` (local ids), made global by adding ``offset``."""
    flat = np.ascontiguousarray(labels).reshape(-1)
    change = np.empty(flat.shape, dtype=bool)
    change[:1] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    return LabelRuns(starts.astype(np.int64), flat[starts].astype(np.int64) + offset, int(flat.size))


@numba.njit(inline="always")
def _identity(value: Any) -> Any:
    return value


@numba.njit(inline="always")
def _max(a: Any, b: Any) -> Any:
    """max that propagates NaN (b is NaN: b != b)."""
    return b if (b > a or b != b) else a


def _make_max_kernel(key: Callable[[Any], Any]) -> Any:
    """A compiled run-maximum of ``key(value)`` over ``values (K, N)`` into ``out (K, R)``."""

    @numba.njit(nogil=True)
    def kernel(values: Any, starts: Any, regions: Any, num_pixels: int, out: Any) -> None:  # pragma: no cover
        runs = starts.shape[0]
        for k in range(values.shape[0]):
            row = values[k]
            target = out[k]
            for i in range(runs):
                start = starts[i]
                stop = starts[i + 1] if i + 1 < runs else num_pixels
                best = key(row[start])
                for j in range(start + 1, stop):
                    best = _max(best, key(row[j]))
                region = regions[i]
                target[region] = _max(target[region], best)

    return kernel


_MAX_KERNELS: dict[Any, Any] = {}


def runs_max(values: np.ndarray, runs: LabelRuns, out: np.ndarray, key: Callable[[Any], Any] | None = None) -> None:
    """``out[k, r] = max(out[k, r], max of key(values[k, x]) over the pixels x of region r)``.

    ``values`` is channel-major ``(K, H·W)``; ``key`` a numba-compiled scalar function (default: identity).
    """
    # A dispatcher read off an instance comes back bound, a new object on every access: unwrap it, so the
    # compiled kernel is found again instead of compiled anew.
    function = _identity if key is None else getattr(key, "__func__", key)
    kernel = _MAX_KERNELS.get(function)
    if kernel is None:
        kernel = _MAX_KERNELS[function] = _make_max_kernel(function)
    kernel(np.ascontiguousarray(values), runs.starts, runs.regions, runs.num_pixels, out)


@numba.njit(nogil=True, cache=True)
def _runs_sum(values: Any, starts: Any, regions: Any, num_pixels: int, out: Any) -> None:  # pragma: no cover
    runs = starts.shape[0]
    for k in range(values.shape[0]):
        row = values[k]
        target = out[k]
        for i in range(runs):
            start = starts[i]
            stop = starts[i + 1] if i + 1 < runs else num_pixels
            total = 0.0
            for j in range(start, stop):
                total += row[j]
            target[regions[i]] += total


def runs_sum(values: np.ndarray, runs: LabelRuns, out: np.ndarray) -> None:
    """``out[k, r] += Σ values[k, x]`` over the pixels x of region r, accumulated in float64 (``out``)."""
    _runs_sum(np.ascontiguousarray(values), runs.starts, runs.regions, runs.num_pixels, out)
