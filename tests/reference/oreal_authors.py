"""The OREAL authors' query step, re-expressed step by step as a test reference (issue #13).

Source: github.com/feiwu77777/simple_AL (commits 12fb315 / bca7c4; the functions below are identical in both):

- ``utils.py: compute_entropy_v2``      → :func:`class_entropy` and :func:`region_scores`
- ``datasets/pascal_VOC.py: DataHandlerPascal.label_patches_superpixel`` → :func:`training_target`
- ``utils.py: balance_classes``          → :func:`balance_classes`
- ``other_queries.py: class_entropy_patch_query``            → :func:`query_dominant`
- ``other_queries.py: class_entropy_patch_multiClass_query``
  and ``count_multiClassLabeling_click``                    → :func:`query_multiclass`
- ``main.py: main`` (merge of each round's picks)            → :func:`merge_round`
- ``create_dataset.py: init_image_patch_labeled_set``        → :func:`initial_patches`

It keeps the authors' data structures where they decide an order (dicts in insertion order, Python's stable
``sorted``, ``list(set(...))`` on the region ids) and drops only what cannot change a result (file names,
logging, image loading, the rectangle-patch branch). The per-region maximum uses a sort + ``reduceat`` instead
of a boolean mask per region: the maximum of a set of float32 values is exact, so the result is identical,
and a VOC-sized image (500 regions, 21 classes) takes milliseconds instead of seconds.

Names: an image is identified by its position in the training sequence (TRAIN_SEQ order); the authors key
dicts by file name, in the same order.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

IGNORE = 255
SMOOTH = 1e-7


def class_entropy(probs: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` float32 one-vs-rest entropy of ``(C, H, W)`` float32 probabilities, per pixel, on the CPU.

    compute_entropy_v2: for each class, stack (1 − p, p), log of (that + smooth), times, sum over the pair, negate.
    """
    maps = []
    for c in range(probs.shape[0]):
        positive = probs[c][None]
        pair = torch.stack([1 - positive, positive], dim=1)  # (1, 2, H, W), as the authors' (B, 2, H, W)
        maps.append(-(pair * torch.log(pair + SMOOTH)).sum(1)[0])
    return torch.stack(maps, dim=0)


def region_scores(entropy: torch.Tensor, superpixels: np.ndarray, patch_number: int, selected: list[int]) -> np.ndarray:
    """``(patch_number, C)`` float64: each region's per-class maximum; 0 for empty ids and already labeled regions.

    compute_entropy_v2: ``np.max(class_entropy[i, :, superpixel_lab == patch_id].numpy(), axis=1)`` for
    ``patch_id in range(patch_number)``, ``np.zeros(N_LABEL)`` if the region is empty or in ``selected``;
    ``np.stack`` of float32 rows with float64 zero rows gives float64.
    """
    values = entropy.numpy().reshape(entropy.shape[0], -1)
    ids = superpixels.reshape(-1).astype(np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    maxima = np.maximum.reduceat(values[:, order], starts, axis=1)  # (C, present regions), float32
    present = sorted_ids[starts]
    rows = []
    for patch_id in range(patch_number):
        hit = np.flatnonzero(present == patch_id)
        if hit.size == 0 or patch_id in selected:
            rows.append(np.zeros(entropy.shape[0]))
        else:
            rows.append(maxima[:, hit[0]])
    return np.stack(rows, axis=0)


def training_target(
    ground_truth: np.ndarray, superpixels: np.ndarray, selected: list[int], dominant: bool
) -> np.ndarray:
    """label_patches_superpixel: 255 outside the labeled regions; inside, the dominant value or the ground truth.

    The dominant value is the most frequent value of the region's ground truth, void (255) included, ties to
    the lowest value (``np.unique`` ascending with a strict ``>``).
    """
    label = np.full_like(ground_truth, IGNORE)
    for patch in selected:
        inside = superpixels == patch
        region = ground_truth[inside]
        if dominant:
            best, best_count = None, 0
            for value in np.unique(region):
                count = int(np.sum(region == value))
                if count > best_count:
                    best, best_count = value, count
            if best is not None:
                label[inside] = best
        else:
            label[inside] = region
    return label


def balance_classes(img_per_class: dict[int, int], total: int, n_class: int) -> tuple[dict[int, int], dict[int, int]]:
    """utils.balance_classes with its default ``start=0``: classes missing from the counts join at 0 in
    index order; ``total`` times the first class (dict order) with the least count gets one more item.
    Returns the items per class, keyed in the order classes first received one."""
    counts = dict(img_per_class)
    for c in range(n_class):
        counts.setdefault(c, 0)
    added: dict[int, int] = {}
    while total > 0:
        least = sorted(counts.items(), key=lambda item: item[1])[0][0]
        counts[least] += 1
        total -= 1
        added[least] = added.get(least, 0) + 1
    return added, counts


def _ranking(scores: dict[int, np.ndarray], c: int) -> list[tuple[tuple[int, int], float]]:
    """All regions of the unlabeled images by decreasing score for class ``c``; ties keep (image, region) order."""
    flat = [((image, patch), float(rows[patch][c])) for image, rows in scores.items() for patch in range(len(rows))]
    return sorted(flat, key=lambda item: item[1], reverse=True)


def query_dominant(
    scores: dict[int, np.ndarray],
    labeled_images: list[int],
    targets: dict[int, np.ndarray],
    superpixels: dict[int, np.ndarray],
    curr_selected_patches: dict[int, list[int]],
    budget: int,
    n_label: int,
    start: int,
) -> list[tuple[int, int]]:
    """class_entropy_patch_query for superpixels; returns the picks (image, region) in the order they were made.

    ``scores``: region_scores of the unlabeled images, in dataset order. ``labeled_images``: the labeled images in
    dataset order. ``targets``: their training targets. ``budget`` = num_query · patch_number.
    """
    img_per_class: dict[int, int] = {}
    for image in labeled_images:
        y = targets[image]
        for patch in curr_selected_patches[image]:
            patch_y = y[superpixels[image] == patch]
            for c in range(start, n_label):
                if np.sum(patch_y == c) > 0:
                    img_per_class[c] = img_per_class.get(c, 0) + 1
    added, _ = balance_classes(img_per_class, budget, n_label)
    picked: dict[int, list[int]] = defaultdict(list)
    sequence: list[tuple[int, int]] = []
    for c in added:
        ranking = _ranking(scores, c)
        index = count = 0
        while True:
            (image, patch), _score = ranking[index]
            index += 1
            if patch in picked.get(image, []):
                continue
            picked[image].append(patch)
            sequence.append((image, patch))
            count += 1
            if count == added[c]:
                break
    return sequence


def query_multiclass(
    scores: dict[int, np.ndarray],
    labeled_images: list[int],
    multi_hot: dict[int, np.ndarray],
    curr_selected_patches: dict[int, list[int]],
    budget: int,
    n_label: int,
    start: int,
) -> list[tuple[int, int]]:
    """class_entropy_patch_multiClass_query + count_multiClassLabeling_click; picks in the order they were made.

    ``multi_hot[image]``: ``(patch_number, n_label)`` 0/1, the classes the annotator names for each region.
    """
    img_per_class: dict[int, int] = {}
    for image in labeled_images:
        patch_ids = curr_selected_patches[image]
        for c in range(start, n_label):
            img_per_class[c] = img_per_class.get(c, 0) + int(np.sum(multi_hot[image][patch_ids, c]))
    added, _ = balance_classes(img_per_class, budget, n_label)
    per_class: dict[int, list[tuple[int, int]]] = defaultdict(list)
    already: dict[int, list[int]] = defaultdict(list)
    for c in added:
        ranking = _ranking(scores, c)
        index = count = 0
        while count < added[c] and index < len(ranking):
            (image, patch), _score = ranking[index]
            index += 1
            if patch in already.get(image, []):
                continue
            per_class[c].append((image, patch))
            already[image].append(patch)
            count += 1
    interleaved: list[tuple[int, int]] = []
    turn = 0
    while len(interleaved) < budget:
        for samples in per_class.values():
            if turn < len(samples):
                interleaved.append(samples[turn])
        turn += 1
    sequence: list[tuple[int, int]] = []
    spent = 0
    for image, patch in interleaved:
        spent += int(multi_hot[image][patch].sum())
        sequence.append((image, patch))
        if spent > budget:
            break
    return sequence


def merge_round(curr_selected_patches: dict[int, list[int]], sequence: list[tuple[int, int]]) -> None:
    """main.py after a query: each picked image's list becomes ``list(set(old + picks in pick order))``."""
    new: dict[int, list[int]] = defaultdict(list)
    for image, patch in sequence:
        new[image].append(patch)
    for image, patches in new.items():
        curr_selected_patches[image] = list(set(curr_selected_patches.get(image, []) + patches))


def initial_patches(
    regions_per_image: list[int], count: int, rng: np.random.Generator
) -> tuple[dict[int, list[int]], list[tuple[int, int]]]:
    """init_image_patch_labeled_set: shuffle every (image, region), label the first ``count``; per image in that order."""
    pairs = [(image, patch) for image, k in enumerate(regions_per_image) for patch in range(k)]
    order = rng.permutation(len(pairs))
    chosen = [pairs[i] for i in order[:count]]
    lists: dict[int, list[int]] = defaultdict(list)
    for image, patch in chosen:
        lists[image].append(patch)
    return dict(lists), chosen
