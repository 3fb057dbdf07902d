"""``random``: regions drawn uniformly from the unlabeled pool (docs/strategies.md#random)."""

from __future__ import annotations

import numpy as np

from albench import Register, SelectionContext, Strategy, hookimpl
from albench.selection import take_within_budget


class RandomStrategy(Strategy):
    """A uniformly random order of the unlabeled regions, taken until the click budget is spent."""

    name = "random"
    version = "1"

    def select(self, context: SelectionContext) -> np.ndarray:
        unlabeled = context.unlabeled_ids()
        if context.unit_cost:
            size = min(context.budget, len(unlabeled))
            return context.generator.choice(unlabeled, size=size, replace=False)
        order = context.generator.permutation(unlabeled)
        return take_within_budget(order, context.region_cost(order), context.budget, overshoot=context.overshoot)


@hookimpl
def register_strategies(register: Register) -> None:
    register(RandomStrategy)
