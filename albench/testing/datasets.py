"""``check_dataset``: metadata, ids, seeded splits, a few loaded samples and their augmentation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from albench.components import Dataset, Sample, Split
from albench.testing._contract import Contract, changed, global_seeds, snapshot

__all__ = ["check_dataset"]


def _check_metadata(contract: Contract, dataset: Dataset) -> None:
    classes = dataset.classes
    contract.check(
        isinstance(classes, (tuple, list))
        and len(classes) > 0
        and all(isinstance(c, str) and c for c in classes)
        and len(set(classes)) == len(classes),
        "declares its classes",
        f"`classes` must be unique non-empty names, got {classes!r}",
    )
    contract.check(
        isinstance(dataset.ignore_index, int) and not 0 <= dataset.ignore_index < len(classes),
        "declares its classes",
        f"ignore_index {dataset.ignore_index!r} must be an int outside the class range 0..{len(classes) - 1}",
    )
    background = dataset.background_class
    contract.check(
        background is None or (isinstance(background, int) and 0 <= background < len(classes)),
        "declares its classes",
        f"background_class {background!r} must be None or a class index",
    )
    fields = {f.name for f in dataclasses.fields(contract.params_cls)}
    unknown = sorted(set(dataset.split_and_augmentation_params) - fields)
    contract.check(
        not unknown,
        "declares its classes",
        f"split_and_augmentation_params names {unknown}, which are not fields of its Params",
    )


def _check_split(contract: Contract, dataset: Dataset, ids: list[str], seed: int) -> Split:
    where = f"split({seed})"
    with contract.calling("splits by seed", where), global_seeds(11):
        split = dataset.split(seed)
    contract.check(isinstance(split, Split), "splits by seed", f"{where} must return an albench.Split, got {split!r}")
    contract.check(
        len(split.pool) > 0 and len(split.evaluation) > 0,
        "splits by seed",
        f"{where} gave {len(split.pool)} pool and {len(split.evaluation)} evaluation images; both must be non-empty",
    )
    known = set(ids)
    parts = {"pool": split.pool, "val": split.val, "test": split.test}
    for part, members in parts.items():
        strange = [i for i in members if i not in known]
        contract.check(
            not strange, "splits by seed", f"{where}.{part} holds {strange[0]!r}, not in image_ids()" if strange else ""
        )
    for first, second in (("pool", "val"), ("pool", "test"), ("val", "test")):
        shared = sorted(set(parts[first]) & set(parts[second]))
        contract.check(
            not shared,
            "splits into disjoint parts",
            f"{where}: {shared[0] if shared else ''!r} is in both {first} and {second}",
        )
    with global_seeds(12):
        again = dataset.split(seed)
    contract.check(
        again == split,
        "splits by seed",
        f"{where} changed with the global random seeds; derive the split from `seed` alone "
        f"(albench.numpy_generator(seed, ...))",
    )
    return split


def _check_sample(contract: Contract, dataset: Dataset, image_id: str) -> Sample:
    where = f"load({image_id!r})"
    with contract.calling("loads its images", where):
        sample = dataset.load(image_id)
        again = dataset.load(image_id)
    contract.check(isinstance(sample, Sample), "loads its images", f"{where} must return an albench.Sample")
    image, mask = sample.image, sample.mask
    contract.check(
        isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8,
        "loads (H, W, 3) uint8 images",
        f"{where}.image is {getattr(image, 'shape', '')} {getattr(image, 'dtype', type(image).__name__)}",
    )
    contract.check(
        isinstance(mask, np.ndarray) and mask.shape == image.shape[:2] and np.issubdtype(mask.dtype, np.integer),
        "loads (H, W) integer masks of the image's size",
        f"{where}.mask is {getattr(mask, 'shape', '')} {getattr(mask, 'dtype', type(mask).__name__)}, "
        f"the image {image.shape}",
    )
    _check_labels(contract, dataset, mask, where)
    contract.check(
        np.array_equal(image, again.image) and np.array_equal(mask, again.mask),
        "is deterministic",
        f"{where} returned different arrays twice",
    )
    return sample


def _check_labels(contract: Contract, dataset: Dataset, target: np.ndarray, where: str) -> None:
    declared = (target == dataset.ignore_index) | ((target >= 0) & (target < dataset.num_classes))
    contract.check(
        bool(declared.all()),
        "uses declared labels only",
        f"{where} holds label {int(target[~declared][0]) if (~declared).any() else 0}, neither a class "
        f"0..{dataset.num_classes - 1} nor ignore_index {dataset.ignore_index}",
    )


def _check_augment(contract: Contract, dataset: Dataset, sample: Sample, image_id: str) -> None:
    image = torch.from_numpy(sample.image).permute(2, 0, 1).float().div(255)
    target = torch.from_numpy(sample.mask.astype(np.int64))
    where = f"augment() of {image_id!r}"
    outputs = []
    for global_seed in (11, 12):
        before = snapshot((image, target))
        with contract.calling("augments", where), global_seeds(global_seed):
            out = dataset.augment(image, target, torch.Generator().manual_seed(5))
        moved = changed(before, (image, target))
        contract.check(moved is None, "leaves its inputs unchanged", f"{where} modified its input {moved}")
        contract.check(
            isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out),
            "augments",
            f"{where} must return (image, target) tensors",
        )
        new_image, new_target = out
        contract.check(
            new_image.shape == image.shape
            and new_image.is_floating_point()
            and new_target.shape == target.shape
            and new_target.dtype == torch.int64,
            "augments at the working resolution",
            f"{where} returned {tuple(new_image.shape)} {new_image.dtype} and {tuple(new_target.shape)} "
            f"{new_target.dtype} for {tuple(image.shape)} and {tuple(target.shape)} int64",
        )
        _check_labels(contract, dataset, new_target.numpy(), f"the target of {where}")
        outputs.append(out)
    same = torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])
    contract.check(
        same,
        "draws randomness from its generator only",
        f"{where} changed with the global random seeds; draw from the generator argument only",
    )


def check_dataset(
    dataset: type[Dataset],
    params: Mapping[str, Any] | object | None = None,
    *,
    root: Path | str | None = None,
    max_images: int = 3,
) -> None:
    """Check a dataset class against its contract; raise :class:`ContractError` naming the broken rule.

    Opened with ``params`` and ``root`` (its ``--data-root``): ``classes`` are unique names, ``ignore_index``
    lies outside them, ``background_class`` is one of them or None; ``image_ids()`` are unique strings,
    the same twice; ``split(seed)`` for two seeds gives disjoint, non-empty pool and evaluation parts of
    those ids, whatever the global random seeds; ``load`` returns ``(H, W, 3) uint8`` images with
    ``(H, W)`` integer masks of declared labels only (classes or ``ignore_index``), the same twice (up to
    ``max_images`` pool images and one evaluation image); ``augment`` keeps image and target sizes and
    labels, draws from its generator only and leaves its inputs unchanged; ``identity()`` and
    ``fingerprint()`` are stable strings.
    """
    contract = Contract("dataset", dataset, params)
    with contract.calling("opens its data", "the constructor"):
        instance = dataset(contract.params, root=None if root is None else Path(root))
    _check_metadata(contract, instance)
    with contract.calling("lists its images", "image_ids()"):
        ids = list(instance.image_ids())
        ids_again = list(instance.image_ids())
    contract.check(
        len(ids) > 0 and all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids),
        "lists its images",
        f"image_ids() must give unique strings, at least one; got {ids[:5]!r}...",
    )
    contract.check(ids == ids_again, "is deterministic", "image_ids() gave two different orders")
    split = _check_split(contract, instance, ids, 0)
    _check_split(contract, instance, ids, 1)
    chosen = [*split.pool[:max_images], split.evaluation[0]]
    samples = []
    for image_id in chosen:
        samples.append(_check_sample(contract, instance, image_id))
        with contract.calling("fingerprints its images", f"fingerprint({image_id!r})"):
            prints = instance.fingerprint(image_id), instance.fingerprint(image_id)
        contract.check(
            isinstance(prints[0], str) and prints[0] == prints[1],
            "fingerprints its images",
            f"fingerprint({image_id!r}) must be the same string twice, got {prints!r}",
        )
    _check_augment(contract, instance, samples[0], chosen[0])
    with contract.calling("has an identity", "identity()"):
        identities = instance.identity(), instance.identity()
    contract.check(
        isinstance(identities[0], str) and identities[0] == identities[1],
        "has an identity",
        f"identity() must be the same string twice, got {identities!r}",
    )
