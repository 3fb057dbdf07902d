"""``full``: the fully labeled reference. Round 0 labels every region of the pool; nothing is queried after.

With ``--labeling precise`` this is full supervision, the upper-bound line of the curves; with
``--labeling dominant`` it is the ceiling that dominant superpixel labels allow (docs/strategies.md#full).
"""

from __future__ import annotations

import numpy as np

from albench import Register, SelectionContext, Strategy, hookimpl


class FullReference(Strategy):
    """Not a query strategy: the runner labels the whole pool at round 0 (``labels_whole_pool``)."""

    name = "full"
    version = "1"
    labels_whole_pool = True

    def select(self, context: SelectionContext) -> np.ndarray:
        return np.empty(0, dtype=np.int64)


@hookimpl
def register_strategies(register: Register) -> None:
    register(FullReference)
