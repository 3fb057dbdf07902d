"""Hwang et al.'s prototype pseudo-labels and label expansion (NeurIPS 2023, stage 2 of multi-class labels).

From their official code, github.com/sehyun03/MulActSeg, ``trainer/eval_save_cosplbl_prop_includeonehot.py:
ActiveTrainer.pseudo_label_generation`` (the method their ``script/open_source/train_city_mul_res50.sh`` runs
before every stage-2 training), per image, with unit-norm pixel features f(x) and softmax p(x):

1. Prototypes: for each labeled region s and each class c it names, the feature of the pixel of s with the
   highest p_c (``scatter_max``: the first such pixel in raster order).
2. Within the region: each pixel of s takes the class of its most similar prototype of s (inner product;
   ties to the lower class), so a one-class region takes its class.
3. Thresholds: per prototype, the lower median (``torch.median``) of the similarities of the pixels of s
   that chose it in step 2; 1.0 if none did.
4. Label expansion, labeled regions in increasing id order: every pixel of s and of the regions touching it
   (a 3×3 dilation of s, so diagonal contact counts) takes the class of its most similar prototype of s if
   some prototype of s is more similar to it than that prototype's own threshold (``torch.any(threshold <
   similarity)``); a later region overwrites an earlier one.
5. Every pixel of a labeled region finally gets its step-2 class. Everything else stays ignored.

Their code labels every pixel of a selected region, void ones included (it cannot see void; Cityscapes' void
is a class of its own there). A labeled region naming no class (all void in albench) has no prototypes: its
pixels end ignored, and it expands nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lower_median", "prototype_pseudo_labels", "touching_regions"]


def lower_median(values: np.ndarray) -> float:
    """``torch.median``'s median: the lower of the two middle values when their number is even."""
    return float(np.sort(values)[(len(values) - 1) // 2])


def touching_regions(superpixels: np.ndarray) -> dict[int, set[int]]:
    """Region id → ids under its 3×3 dilation (itself and every region touching it, diagonals included)."""
    height, width = superpixels.shape
    touching: dict[int, set[int]] = {int(k): {int(k)} for k in np.unique(superpixels)}
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        rows, cols = slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx))
        a = superpixels[rows, cols]
        b = superpixels[rows.start + dy : rows.stop + dy, cols.start + dx : cols.stop + dx]
        pairs = np.unique(np.stack([a.reshape(-1), b.reshape(-1)], axis=1), axis=0)
        for i, j in pairs[pairs[:, 0] != pairs[:, 1]]:
            touching[int(i)].add(int(j))
            touching[int(j)].add(int(i))
    return touching


def prototype_pseudo_labels(
    superpixels: np.ndarray,
    labeled: np.ndarray,
    class_sets: np.ndarray,
    probs: np.ndarray,
    features: np.ndarray,
    ignore_index: int,
    *,
    expansion: bool = True,
) -> np.ndarray:
    """``(H, W) int64`` stage-2 target of one image.

    ``superpixels (H, W)`` region ids; ``labeled`` the labeled region ids; ``class_sets (K, C) bool`` the classes
    each region's label names; ``probs (C, H, W)``; ``features (D, H, W)`` unit-norm pixel features.
    """
    ids = superpixels.reshape(-1)
    p = probs.reshape(probs.shape[0], -1)
    f = features.reshape(features.shape[0], -1).astype(np.float32, copy=False)
    order = np.argsort(ids, kind="stable")  # pixels grouped by region, raster order within a region
    starts = np.searchsorted(ids[order], np.arange(class_sets.shape[0] + 1))
    pixels_of = {int(s): order[starts[s] : starts[s + 1]] for s in np.unique(np.asarray(labeled, dtype=np.int64))}
    target = np.full(ids.shape, ignore_index, dtype=np.int64)
    within: dict[int, np.ndarray] = {}
    prototypes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for s, pixels in sorted(pixels_of.items()):
        classes = np.flatnonzero(class_sets[s])
        if classes.size == 0 or pixels.size == 0:
            continue
        protos = f[:, pixels[p[classes][:, pixels].argmax(axis=1)]].T  # (k, D)
        similarity = protos @ f[:, pixels]  # (k, n)
        nearest = similarity.argmax(axis=0)
        best = similarity[nearest, np.arange(pixels.size)]
        thresholds = np.array(
            [lower_median(best[nearest == j]) if np.any(nearest == j) else 1.0 for j in range(classes.size)],
            dtype=np.float32,
        )
        within[s] = classes[nearest]
        prototypes[s] = (classes, protos, thresholds)
    if expansion and prototypes:
        touching = touching_regions(superpixels)
        for s, (classes, protos, thresholds) in sorted(prototypes.items()):
            around = np.concatenate([order[starts[r] : starts[r + 1]] for r in sorted(touching[s])])
            similarity = protos @ f[:, around]
            valid = np.any(similarity > thresholds[:, None], axis=0)
            target[around[valid]] = classes[similarity.argmax(axis=0)][valid]
    for s, pixels in pixels_of.items():
        target[pixels] = within.get(s, ignore_index)
    return target.reshape(superpixels.shape)
