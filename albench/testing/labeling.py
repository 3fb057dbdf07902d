"""``check_labeling_scheme``: costs, dense targets and training stages on the tiny pool's regions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from albench.components import LabelingScheme, RegionLabels, TrainingStage
from albench.run.protocol import Protocol
from albench.testing._contract import Contract, changed, global_seeds, snapshot
from albench.testing._pool import TinyPool, tiny_pool

__all__ = ["check_labeling_scheme"]


def _features(shape: tuple[int, ...], index: int, dim: int = 8) -> np.ndarray:
    """``(dim, H, W)`` float32 pixel features, L2-normalised per pixel as the runner passes them: a fixed
    random map per image, for stages with ``needs_previous_features``."""
    features = np.random.default_rng(index).standard_normal((dim, *shape)).astype(np.float32)
    normalised: np.ndarray = features / np.linalg.norm(features, axis=0, keepdims=True)
    return normalised


def _check_costs(contract: Contract, scheme: LabelingScheme, pool: TinyPool) -> None:
    present = np.concatenate([np.arange(pool.num_classes + 1), pool.classes_present]).astype(np.int64)
    before = present.copy()
    with contract.calling("prices regions", "region_cost(classes_present)"):
        costs = scheme.region_cost(present)
    contract.check(
        np.array_equal(before, present), "leaves its inputs unchanged", "region_cost() modified classes_present"
    )
    contract.check(
        isinstance(costs, np.ndarray) and costs.shape == present.shape and np.issubdtype(costs.dtype, np.integer),
        "prices each region in whole clicks",
        f"region_cost() of {len(present)} regions must return a ({len(present)},) integer numpy array, got "
        f"{type(costs).__name__} {getattr(costs, 'shape', '')} {getattr(costs, 'dtype', '')}",
    )
    contract.check(
        bool((costs >= 1).all()),
        "charges at least one click per region",
        f"region_cost() of a region with {int(present[np.argmin(costs)])} classes is {int(costs.min())}; "
        f"a free region would let a strategy label without limit",
    )
    if scheme.unit_cost:
        contract.check(
            bool((costs == 1).all()),
            "charges one click per region when unit_cost",
            f"unit_cost is True but a region with {int(present[np.argmax(costs)])} classes costs "
            f"{int(costs.max())} clicks; set unit_cost = False",
        )


def _labeled_sets(regions: RegionLabels, rng: np.random.Generator) -> list[np.ndarray]:
    count = len(regions.histogram)
    return [
        np.empty(0, dtype=np.int64),
        np.sort(rng.choice(count, size=count // 2, replace=False)),
        np.arange(count, dtype=np.int64),
    ]


def _check_dense(contract: Contract, scheme: LabelingScheme, pool: TinyPool, rng: np.random.Generator) -> None:
    for index, regions in enumerate(pool.regions):
        for labeled in _labeled_sets(regions, rng):
            where = f"image {index}, {len(labeled)} of {len(regions.histogram)} regions labeled"
            before = snapshot((regions, labeled))
            with contract.calling("renders a dense target", f"render_target() for {where}"), global_seeds(11):
                target = scheme.render_target(regions, labeled)
            moved = changed(before, (regions, labeled))
            contract.check(
                moved is None, "leaves its inputs unchanged", f"render_target() modified its input {moved} ({where})"
            )
            shape = regions.mask.shape
            contract.check(
                isinstance(target, np.ndarray) and target.shape == shape and target.dtype == np.int64,
                "renders an (H, W) int64 target",
                f"render_target() must return an {shape} int64 array, got {type(target).__name__} "
                f"{getattr(target, 'shape', '')} {getattr(target, 'dtype', '')} ({where})",
            )
            declared = (target == regions.ignore_index) | ((target >= 0) & (target < pool.num_classes))
            contract.check(
                bool(declared.all()),
                "uses declared labels only",
                f"the target holds {int(target[~declared][0]) if (~declared).any() else 0}, neither a "
                f"class 0..{pool.num_classes - 1} nor ignore_index {regions.ignore_index} ({where})",
            )
            outside = ~np.isin(regions.superpixels, labeled) | (regions.mask == regions.ignore_index)
            contract.check(
                bool((target[outside] == regions.ignore_index).all()),
                "trains on labeled regions only",
                f"pixels outside the labeled regions, or void pixels, must be ignore_index ({where})",
            )
            with global_seeds(12):
                again = scheme.render_target(regions, labeled)
            contract.check(
                np.array_equal(target, again),
                "is deterministic",
                f"render_target() gave two different targets for the same regions ({where})",
            )


def _check_stages(contract: Contract, scheme: LabelingScheme, pool: TinyPool, rng: np.random.Generator) -> None:
    with contract.calling("declares its training stages", "stages(num_classes)"):
        stages = list(scheme.stages(pool.num_classes))
    contract.check(
        len(stages) > 0 and all(isinstance(s, TrainingStage) for s in stages),
        "declares its training stages",
        f"stages() must return one or more albench.TrainingStage, got {stages!r}",
    )
    contract.check(
        not stages[0].needs_previous_stage,
        "declares its training stages",
        f"the first stage {stages[0].name!r} needs a previous stage's predictions, but there is none",
    )
    protocol = Protocol()
    for stage in stages:
        where = f"stage {stage.name!r}"
        targets = []
        for index, regions in enumerate(pool.regions):
            labeled = _labeled_sets(regions, rng)[1]
            previous = pool.probs[index].numpy().copy() if stage.needs_previous_stage else None
            features = _features(regions.mask.shape, index) if stage.needs_previous_features else None
            before = snapshot((regions, labeled, previous, features))
            with contract.calling("builds stage targets", f"{where}: target()"), global_seeds(11):
                target = stage.target(regions, labeled, previous, features)
            moved = changed(before, (regions, labeled, previous, features))
            contract.check(moved is None, "leaves its inputs unchanged", f"{where}: target() modified {moved}")
            contract.check(
                isinstance(target, np.ndarray)
                and target.dtype == np.int64
                and target.ndim >= 2
                and target.shape[-2:] == regions.mask.shape,
                "builds (..., H, W) int64 stage targets",
                f"{where}: target() must return an int64 array ending in {regions.mask.shape}, got "
                f"{type(target).__name__} {getattr(target, 'shape', '')} {getattr(target, 'dtype', '')}",
            )
            with global_seeds(12):
                again = stage.target(regions, labeled, previous, features)
            contract.check(
                np.array_equal(target, again),
                "is deterministic",
                f"{where}: target() gave two different targets for the same regions",
            )
            targets.append(target)
        logits = torch.randn(
            (len(targets), pool.num_classes, *pool.regions[0].mask.shape),
            generator=torch.Generator().manual_seed(3),
            requires_grad=True,
        )
        batch = torch.from_numpy(np.stack(targets))
        with contract.calling("gives a trainable loss", f"{where}: loss()"):
            loss = stage.loss(logits, batch, protocol, pool.ignore_index)
            contract.check(
                isinstance(loss, torch.Tensor) and loss.ndim == 0 and bool(torch.isfinite(loss)),
                "gives a trainable loss",
                f"{where}: loss() must return a finite scalar tensor, got {loss!r}",
            )
            loss.backward()  # type: ignore[no-untyped-call]
        grad = logits.grad
        contract.check(
            grad is not None and bool(torch.isfinite(grad).all()) and bool(grad.abs().sum() > 0),
            "gives a trainable loss",
            f"{where}: loss() gives no finite, non-zero gradient to the logits",
        )


def check_labeling_scheme(
    scheme: type[LabelingScheme], params: Mapping[str, Any] | object | None = None, *, seed: int = 0
) -> None:
    """Check a labeling-scheme class against its contract; raise :class:`ContractError` naming the broken rule.

    On the tiny built-in pool: ``region_cost`` prices every region in whole clicks, at least one (exactly
    one when ``unit_cost``); ``render_target`` gives an ``(H, W) int64`` target with declared labels only
    (classes or ``ignore_index``), ignoring unlabeled regions and void pixels; every training stage's
    ``target`` is ``(..., H, W) int64`` and its ``loss`` a finite scalar with a gradient; all of it
    deterministic, whatever the global random seeds, and without modifying the regions handed in.
    """
    contract = Contract("labeling", scheme, params)
    instance = scheme(contract.params)
    pool = tiny_pool(seed)
    _check_costs(contract, instance, pool)
    _check_dense(contract, instance, pool, np.random.default_rng(seed))
    _check_stages(contract, instance, pool, np.random.default_rng(seed))
