"""Seeded k-fold splits of a training set (the OREAL authors' code, docs/protocol.md#splits: validation = one fold of a 6-fold split of the
training set chosen by the seed, test = the official validation set).

Seed ``s`` takes fold ``s mod k`` of partition ``⌊s / k⌋``: seeds 0…k−1 are the k disjoint folds of one
shuffled partition (the paper's 3 seeds: three disjoint validation folds), seeds k…2k−1 the folds of a second,
independently shuffled partition (the paper's 10 seeds with k = 6: all six folds of the first, four of the
second), and so on. Groups (a video sequence, a subfolder) are assigned to folds whole, round-robin in the
partition's shuffled order, so frames of one sequence never sit on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

from albench.components import Split
from albench.determinism import numpy_generator
from albench.errors import DatasetError

__all__ = ["fold_of_seed", "kfold_split"]


def fold_of_seed(seed: int, folds: int) -> tuple[int, int]:
    """``(partition, fold)`` used by ``seed``."""
    return seed // folds, seed % folds


def kfold_split(
    dataset: str, train_ids: Sequence[str], groups: Sequence[str], seed: int, folds: int, test_ids: Sequence[str] = ()
) -> Split:
    """Pool = the training ids outside the seed's fold, val = the fold, test = ``test_ids``; orders kept."""
    if len(groups) != len(train_ids):
        raise ValueError("one group per training id")
    unique_groups = sorted(set(groups))
    if len(unique_groups) < folds:
        raise DatasetError(
            f"dataset {dataset!r} has {len(unique_groups)} groups (images or sequences) in its training set, too few "
            f"for a {folds}-fold split; add images or lower the dataset's `folds` parameter"
        )
    partition, fold = fold_of_seed(seed, folds)
    order = numpy_generator(partition, "kfold", folds).permutation(len(unique_groups))
    fold_of_group = {unique_groups[g]: position % folds for position, g in enumerate(order.tolist())}
    val = tuple(i for i, g in zip(train_ids, groups) if fold_of_group[g] == fold)
    pool = tuple(i for i, g in zip(train_ids, groups) if fold_of_group[g] != fold)
    return Split(pool=pool, val=val, test=tuple(test_ids))
