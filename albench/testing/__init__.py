"""The contract kit: the checks every built-in component passes, for plugin authors to run in their own tests.

Each ``check_<kind>`` takes a component class (and optionally its parameters), runs it on a tiny built-in
pool on the CPU in seconds, and raises :class:`ContractError` naming the component and the rule it broke.
albench's own suite runs the same checks over every registered component. With albench installed, pytest
also offers each check as a fixture of the same name (the ``albench`` pytest plugin)::

    def test_my_strategy_keeps_the_contract(check_strategy):
        check_strategy(MyStrategy, {"aggregation": "max"})

:func:`selection_context` builds a :class:`~albench.SelectionContext` by hand, for tests of a strategy's
own formula. What each check enforces is listed in docs/plugins.md, "Component contracts".
"""

from albench.testing._context import selection_context
from albench.testing._contract import ContractError
from albench.testing.backbones import check_backbone
from albench.testing.datasets import check_dataset
from albench.testing.executors import check_executor
from albench.testing.labeling import check_labeling_scheme
from albench.testing.strategies import check_strategy
from albench.testing.superpixels import check_superpixel_method

__all__ = [
    "ContractError",
    "check_backbone",
    "check_dataset",
    "check_executor",
    "check_labeling_scheme",
    "check_strategy",
    "check_superpixel_method",
    "selection_context",
]
