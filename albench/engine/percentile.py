"""Percentiles per group with NumPy's rules, on any torch device: ``numpy.percentile(values, q, method=...)``.

The supplementary's "95% percentile pixel value" does not fix how a percentile falls between two pixel
values; NumPy's ``linear`` rule (its default, also R's type 7) interpolates between the order statistics
around position 0.95·(n − 1), the other rules return one of the values. The result equals, bit for bit,
``numpy.percentile`` (NumPy ≥ 2) called on the same values in their own dtype: for float32 scores the
interpolation is float32 arithmetic with the weight rounded to float32, as NumPy does with a Python ``q``.
"""

from __future__ import annotations

import math

import torch

from albench.statistics import PercentileMethod

__all__ = ["grouped_percentile"]


def _float32_order(values: torch.Tensor, nonnegative: bool) -> torch.Tensor:
    """float32 → int64 in [0, 2³²) with the same order: the IEEE bits, negative ones reflected."""
    bits = values.view(torch.int32).to(torch.int64)
    if nonnegative:
        return bits & 0x7FFFFFFF  # −0.0 becomes +0.0
    return torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits) + 2**31


def _from_float32_order(order: torch.Tensor, nonnegative: bool) -> torch.Tensor:
    bits = order if nonnegative else order - 2**31
    bits = bits if nonnegative else torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return bits.to(torch.int32).view(torch.float32)


def sorted_within_groups(values: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """``values (N, K)`` reordered, column by column, by group and then by value.

    float32 values sort once, as the int64 key group·2³² + (order-preserving bits of the value); other
    dtypes sort by value, then stably by group. (NaN positions do not matter: a group with a NaN is NaN.)
    """
    if values.dtype == torch.float32:
        nonnegative = bool(values.amin() >= 0) if values.numel() else True
        columns = []
        for start in range(0, values.shape[1], 4):  # a few channels at a time: int64 keys are 2x the values
            keys = groups.unsqueeze(1) * 2**32 + _float32_order(values[:, start : start + 4], nonnegative)
            columns.append(_from_float32_order(torch.sort(keys, dim=0).values & 0xFFFFFFFF, nonnegative))
        return torch.cat(columns, dim=1)
    sorted_values, order = torch.sort(values, dim=0, stable=True)
    _, regroup = torch.sort(groups[order], dim=0, stable=True)
    return torch.gather(sorted_values, 0, regroup)


def grouped_percentile(
    values: torch.Tensor, groups: torch.Tensor, num_groups: int, q: float = 95.0, method: PercentileMethod = "linear"
) -> torch.Tensor:
    """``(num_groups, K)`` float64: the ``q``-th percentile of ``values (N, K)`` within each group.

    Equal to ``numpy.percentile(group_values, q, method=method, axis=0)`` per group, NaN for a group that
    holds a NaN and for an empty group.
    """
    n, k = values.shape
    device = values.device
    segmented = sorted_within_groups(values, groups)
    counts = torch.bincount(groups, minlength=num_groups)
    offsets = torch.cumsum(counts, 0) - counts
    quantile = q / 100  # as numpy.true_divide(q, 100)
    size = counts.to(torch.float64)
    interpolate = method == "linear"
    if method == "linear":
        virtual = (size - 1) * quantile
        previous = virtual.floor()
        following = previous + 1
        beyond = virtual >= size - 1  # NumPy then reads the last value for both ends (index −1)
        previous = torch.where(beyond, size - 1, previous)
        following = torch.where(beyond, size - 1, following)
        gamma = virtual - torch.where(beyond, torch.full_like(previous, -1.0), previous)
    elif method == "inverted_cdf":
        index = size * quantile - 1
        floor = index.floor()
        previous = following = torch.where(index - floor == 0, floor, floor + 1).clamp(min=0)
    else:
        position = (size - 1) * quantile
        rounded = {"lower": position.floor, "higher": position.ceil, "nearest": position.round}[method]()
        previous = following = rounded  # torch.round, as numpy.around, rounds half to even
    last = max(n - 1, 0)

    def take(position: torch.Tensor) -> torch.Tensor:
        index = (offsets + position.long()).clamp(min=0, max=last)
        return torch.gather(segmented, 0, index.unsqueeze(1).expand(-1, k))

    low = take(previous)
    if interpolate:
        high = take(following)
        # NumPy's _lerp in the values' dtype: a + d·t, or b − d·(1 − t) from t = ½ on, for symmetry.
        weight = gamma.to(values.dtype).unsqueeze(1)
        complement = (1 - gamma).to(values.dtype).unsqueeze(1)
        difference = high - low
        result = torch.where((gamma >= 0.5).unsqueeze(1), high - difference * complement, low + difference * weight)
    else:
        result = low
    result = result.to(torch.float64)
    if values.dtype.is_floating_point:  # NumPy: a NaN anywhere makes the percentile NaN
        nans = torch.zeros(num_groups, k, dtype=torch.int64, device=device)
        nans.index_add_(0, groups, torch.isnan(values).to(torch.int64))
        result[nans > 0] = math.nan
    result[counts == 0] = math.nan
    return result
