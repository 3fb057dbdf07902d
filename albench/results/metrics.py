"""Metrics of docs/metrics.md: IoU from a confusion matrix, AuALC, and the Gini index of class counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["aualc", "aualc_per_class", "balance", "gini", "iou_per_class", "mean_iou"]

Convention = Literal["standard", "paper"]


def iou_per_class(confusion: np.ndarray, convention: Convention = "standard") -> np.ndarray:
    """IoU_c = TP_c / (GT_c + Pred_c − TP_c) from ``confusion[ground truth, prediction]``.

    ``standard``: NaN for a class absent from both ground truth and prediction (left out of the mean).
    ``paper`` (the OREAL authors' code): IoU 1 for a class absent from the ground truth.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    gt = confusion.sum(axis=1)
    pred = confusion.sum(axis=0)
    union = gt + pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou: np.ndarray = tp / union
    if convention == "paper":
        iou[gt == 0] = 1.0
    else:
        iou[union == 0] = np.nan
    return iou


def mean_iou(confusion: np.ndarray, convention: Convention = "standard", background: int | None = None) -> float:
    """mIoU over classes; the ``paper`` convention leaves the background class out of the mean."""
    iou = iou_per_class(confusion, convention)
    if convention == "paper" and background is not None:
        iou = np.delete(iou, background)
    present = iou[~np.isnan(iou)]
    return float(present.mean()) if present.size else float("nan")


def aualc(miou_by_round: Sequence[float] | np.ndarray) -> float:
    """Area under the active-learning curve (mIoU vs round), trapezoidal, divided by the number of
    round intervals so it is in mIoU units. One round: that round's mIoU."""
    values = np.asarray(miou_by_round, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    if values.size == 1:
        return float(values[0])
    return float(((values[:-1] + values[1:]) / 2).sum() / (values.size - 1))


def gini(counts: Sequence[int] | np.ndarray) -> float:
    """Gini index (Farris 2010): G = Σᵢ (2i − n − 1)·xᵢ / (n·Σᵢ xᵢ) over counts sorted ascending.

    0 for uniform counts, towards 1 when concentrated; NaN when there is nothing to count.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def balance(
    counts: Sequence[int] | np.ndarray, background: int | None = None, *, foreground_only: bool = False
) -> float:
    """1 − Gini of per-class counts; with ``foreground_only`` the background class is left out."""
    values = np.asarray(counts)
    if foreground_only and background is not None:
        values = np.delete(values, background)
    return 1.0 - gini(values)


def aualc_per_class(iou_by_round: np.ndarray) -> np.ndarray:
    """AuALC of each class: :func:`aualc` down each column of an ``(R, C)`` per-class IoU array.

    A class with a NaN IoU in any round (not measurable there) gets NaN.
    """
    values = np.asarray(iou_by_round, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected an (rounds, classes) array, got shape {values.shape}")
    if values.shape[0] == 1:
        first: np.ndarray = values[0].copy()
        return first
    area: np.ndarray = ((values[:-1] + values[1:]) / 2).sum(axis=0) / (values.shape[0] - 1)
    return area
