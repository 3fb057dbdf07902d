"""``check_backbone``: a model built twice under one seed, run forward and backward on an odd-sized batch."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from albench.components import Backbone
from albench.testing._contract import Contract

__all__ = ["check_backbone"]


def _build(contract: Contract, backbone: Backbone, num_classes: int, other_seed: int) -> nn.Module:
    """Build under torch seed 0, as the runner does, with Python's and NumPy's generators seeded otherwise."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(other_seed)
    np.random.seed(other_seed)
    torch.manual_seed(0)
    try:
        with contract.calling("builds a model", f"build({num_classes})"):
            model = backbone.build(num_classes)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    contract.check(isinstance(model, nn.Module), "builds a torch.nn.Module", f"build() returned {type(model).__name__}")
    return model


def check_backbone(
    backbone: type[Backbone],
    params: Mapping[str, Any] | object | None = None,
    *,
    num_classes: int = 3,
    size: tuple[int, int] = (37, 45),
    train_size: tuple[int, int] | None = None,
) -> None:
    """Check a backbone class against its contract; raise :class:`ContractError` naming the broken rule.

    ``build`` returns an ``nn.Module`` whose weights depend on torch's global seed alone (the runner seeds
    it, so every strategy starts from the same model): built twice under ``torch.manual_seed(0)``, with
    Python's and NumPy's generators seeded differently, the state dicts are equal. On a batch of two
    ``(3, H, W)`` images in [0, 1] of an odd ``size``, the model in eval mode returns finite
    ``(2, num_classes, H, W)`` logits, at the input resolution, the same twice, without modifying its input;
    in train mode a loss on its logits gives gradients to its parameters (on ``train_size`` images, default
    ``size``, for models that train on one input size only). CPU only.
    """
    contract = Contract("backbone", backbone, params)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small inputs: one thread is as fast, and immune to a busy machine's contention
    try:
        _check(contract, backbone(contract.params), num_classes, size, train_size)
    finally:
        torch.set_num_threads(threads)


def _check(
    contract: Contract, instance: Backbone, num_classes: int, size: tuple[int, int], train_size: tuple[int, int] | None
) -> None:
    model = _build(contract, instance, num_classes, other_seed=11)
    twin = _build(contract, instance, num_classes, other_seed=12)
    for (name, value), (_, other) in zip(model.state_dict().items(), twin.state_dict().items()):
        contract.check(
            torch.equal(value, other),
            "builds the same model under one torch seed",
            f"parameter {name!r} differs between two builds after torch.manual_seed(0); draw the "
            f"initial weights from torch's global generator only",
        )
    images = torch.rand((2, 3, *size), generator=torch.Generator().manual_seed(1))
    before = images.clone()
    model.eval()
    with torch.no_grad(), contract.calling("runs forward", f"the model's forward on {tuple(images.shape)}"):
        logits = model(images)
        again = model(images)
    contract.check(torch.equal(before, images), "leaves its inputs unchanged", "the forward pass modified its input")
    expected = (2, num_classes, *size)
    contract.check(
        isinstance(logits, torch.Tensor) and tuple(logits.shape) == expected,
        "returns logits at the input resolution",
        f"input {tuple(images.shape)} gave {tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}, "
        f"expected {expected}",
    )
    contract.check(
        logits.is_floating_point() and bool(torch.isfinite(logits).all()),
        "returns finite logits",
        "the logits hold NaN or infinite values",
    )
    contract.check(torch.equal(logits, again), "is deterministic", "two eval-mode forward passes gave different logits")
    model.train()
    batch = (
        images if train_size is None else torch.rand((2, 3, *train_size), generator=torch.Generator().manual_seed(2))
    )
    with contract.calling("trains", f"a forward and backward pass in train mode on {tuple(batch.shape)}"):
        model(batch).logsumexp(dim=1).mean().backward()
    trained = [p for p in model.parameters() if p.requires_grad]
    contract.check(
        any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in trained),
        "trains",
        "no parameter received a gradient from a loss on the logits",
    )
