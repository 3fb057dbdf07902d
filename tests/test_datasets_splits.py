"""Seeded k-fold splits: deterministic, disjoint, complete, different per seed, groups kept whole."""

from __future__ import annotations

import pytest
from albench_plugins.datasets._splits import fold_of_seed, kfold_split

from albench.errors import DatasetError

IDS = [f"img{i:02d}" for i in range(20)]


def test_seed_picks_partition_and_fold():
    """Seed s uses fold s mod k of partition ⌊s / k⌋: the paper's 10 seeds with k = 6 are folds 0..5 of
    partition 0, then folds 0..3 of partition 1."""
    assert [fold_of_seed(s, 6) for s in range(10)] == [(0, f) for f in range(6)] + [(1, f) for f in range(4)]
    assert fold_of_seed(-1, 6) == (-1, 5)


def test_split_is_deterministic_disjoint_and_complete():
    split = kfold_split("d", IDS, IDS, seed=4, folds=6, test_ids=("t1", "t2"))
    assert split == kfold_split("d", IDS, IDS, seed=4, folds=6, test_ids=("t1", "t2"))
    assert not set(split.pool) & set(split.val)
    assert sorted(split.pool + split.val) == IDS
    assert split.test == ("t1", "t2") and split.evaluation == ("t1", "t2")
    assert list(split.pool) == sorted(split.pool)  # the dataset's order is kept


def test_the_first_k_seeds_are_the_k_disjoint_folds_of_one_partition():
    vals = [set(kfold_split("d", IDS, IDS, seed=s, folds=6).val) for s in range(6)]
    assert set().union(*vals) == set(IDS) and sum(len(v) for v in vals) == len(IDS)
    assert sorted(len(v) for v in vals) == [3, 3, 3, 3, 4, 4]  # 20 groups dealt round-robin into 6 folds


def test_different_seeds_give_different_splits_and_later_seeds_reshuffle():
    splits = [kfold_split("d", IDS, IDS, seed=s, folds=3) for s in range(6)]
    assert len({s.val for s in splits}) == 6
    # seeds 3..5 come from a second shuffle: their folds are not the folds of seeds 0..2 again
    assert {s.val for s in splits[:3]} != {s.val for s in splits[3:]}


def test_groups_stay_on_one_side():
    groups = [f"seq{i // 4}" for i in range(len(IDS))]  # five sequences of four frames
    for seed in range(5):
        split = kfold_split("d", IDS, groups, seed=seed, folds=5)
        val_groups = {groups[IDS.index(i)] for i in split.val}
        pool_groups = {groups[IDS.index(i)] for i in split.pool}
        assert len(val_groups) == 1 and not val_groups & pool_groups and len(split.val) == 4


def test_too_few_groups_for_the_folds_is_an_error_naming_the_dataset():
    with pytest.raises(DatasetError, match=r"dataset 'mine' has 4 groups .* too few for a 6-fold split; .*`folds`"):
        kfold_split("mine", IDS[:4], IDS[:4], seed=0, folds=6)
