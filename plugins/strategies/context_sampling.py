"""The oracle strategies of the context-sampling experiment (supplementary §1): ``foreground`` and
``foreground-context``. They read the ground truth, so they are references, not competitors
(docs/strategies.md#foreground-and-foreground-context)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from albench import Register, SelectionContext, Strategy, hookimpl
from albench.errors import ComponentError
from albench.selection import take_within_budget


@dataclass(frozen=True)
class ForegroundParams:
    """Parameters of ``foreground``.

    Attributes:
        foreground_probability: p, the chance that each pick is a foreground region.
    """

    foreground_probability: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.foreground_probability <= 1.0:
            raise ValueError(f"parameter 'foreground_probability' must be in [0, 1], got {self.foreground_probability}")


@dataclass(frozen=True)
class ForegroundContextParams(ForegroundParams):
    """Parameters of ``foreground-context``.

    Attributes:
        foreground_probability: p, the chance that each pick is a foreground region.
        context_per_region: at most this many background neighbours follow each foreground pick (unset: all).
    """

    context_per_region: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.context_per_region is not None and self.context_per_region < 0:
            raise ValueError(f"parameter 'context_per_region' must be at least 0, got {self.context_per_region}")


class ForegroundOracle(Strategy):
    """Foreground regions with probability p, other regions otherwise (an oracle: it reads the ground truth)."""

    name = "foreground"
    version = "1"
    Params = ForegroundParams
    uses_ground_truth = True

    def context_limit(self) -> int | None:
        """Background neighbours added after each foreground pick (0 here; None means all)."""
        return 0

    def _classes(self, context: SelectionContext) -> tuple[np.ndarray, int]:
        if context.ground_truth is None:
            raise ComponentError(
                f"strategy {self.name!r} reads the ground truth, but the selection context "
                "carries none; it must run through albench's runner (uses_ground_truth)"
            )
        if context.background_class is None:
            raise ComponentError(
                f"strategy {self.name!r} separates foreground from background, but the dataset "
                "declares no background class; run it on a dataset that has one"
            )
        return np.asarray(context.ground_truth), int(context.background_class)

    def picks(self, context: SelectionContext) -> Iterator[int]:
        """The regions in the order this oracle wants them, lazily (see the module docstring)."""
        truth, background = self._classes(context)
        unlabeled = context.unlabeled_ids()
        is_foreground = (
            (truth[unlabeled] != background) & (truth[unlabeled] >= 0) & (truth[unlabeled] < context.num_classes)
        )
        generator = context.generator
        foreground = generator.permutation(unlabeled[is_foreground])
        others = generator.permutation(unlabeled[~is_foreground])
        picked = context.labeled.copy()
        limit = self.context_limit()
        next_foreground = next_other = 0
        p = self.params.foreground_probability
        while True:
            while next_foreground < len(foreground) and picked[foreground[next_foreground]]:
                next_foreground += 1
            while next_other < len(others) and picked[others[next_other]]:
                next_other += 1
            has_foreground, has_other = next_foreground < len(foreground), next_other < len(others)
            if not (has_foreground or has_other):
                return
            wants_foreground = generator.random() < p
            if has_foreground and (wants_foreground or not has_other):
                region = int(foreground[next_foreground])
                picked[region] = True
                yield region
                if limit != 0:
                    neighbours = np.unique(context.graph.neighbors(region))
                    neighbours = neighbours[(truth[neighbours] == background) & ~picked[neighbours]]
                    for neighbour in generator.permutation(neighbours)[:limit]:
                        picked[neighbour] = True
                        yield int(neighbour)
            else:
                region = int(others[next_other])
                picked[region] = True
                yield region

    def select(self, context: SelectionContext) -> np.ndarray:
        picks = self.picks(context)
        order: list[int] = []
        wanted = context.budget + 1  # every region costs a click, except all-void ones: look further if needed
        while True:
            order.extend(islice(picks, wanted - len(order)))
            ids = np.asarray(order, dtype=np.int64)
            taken = take_within_budget(ids, context.region_cost(ids), context.budget, overshoot=context.overshoot)
            if len(taken) < len(ids) or len(ids) < wanted:
                return taken
            wanted *= 2


class ForegroundContextOracle(ForegroundOracle):
    """As ``foreground``, plus the background regions touching each foreground pick (an oracle)."""

    name = "foreground-context"
    version = "1"
    Params = ForegroundContextParams

    def context_limit(self) -> int | None:
        limit: int | None = self.params.context_per_region
        return limit


@hookimpl
def register_strategies(register: Register) -> None:
    register(ForegroundOracle)
    register(ForegroundContextOracle)
