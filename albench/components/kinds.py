"""The one table of component kinds: every other list of kinds (hooks, run spec keys, result columns,
protocol-file sections, ``--set`` prefixes, ``albench plugins``) is derived from it."""

from __future__ import annotations

from dataclasses import dataclass

from albench.components.backbone import Backbone
from albench.components.dataset import Dataset
from albench.components.executor import Executor
from albench.components.labeling import LabelingScheme
from albench.components.strategy import Strategy
from albench.components.superpixels import SuperpixelMethod

__all__ = ["KINDS", "RUN_KINDS", "Kind"]


@dataclass(frozen=True)
class Kind:
    """A kind of component: its name, the base class its components subclass, and the hook registering them.

    ``in_run_spec`` kinds are the choices a run's numbers depend on: each is a key of the run spec, a group
    of results columns (``<kind>``, ``<kind>_params``, ``<kind>_version``) and a ``--set <kind>.X`` prefix.
    """

    name: str
    base: type
    hook: str
    in_run_spec: bool = True


# In the order a run spec, its results columns and `albench plugins` list them.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("dataset", Dataset, "register_datasets"),
        Kind("backbone", Backbone, "register_backbones"),
        Kind("superpixels", SuperpixelMethod, "register_superpixel_methods"),
        Kind("labeling", LabelingScheme, "register_labeling_schemes"),
        Kind("strategy", Strategy, "register_strategies"),
        # where runs execute, not what they compute: not part of a run spec
        Kind("executor", Executor, "register_executors", in_run_spec=False),
    )
}

#: The kinds whose choices make up a run spec, in order.
RUN_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.in_run_spec)
