"""The hooks a plugin implements: one per component kind, each handed a ``register`` callback."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

__all__ = ["Register", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("albench")
hookimpl = pluggy.HookimplMarker("albench")

Register = Callable[[type], None]


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes (subclasses of ``albench.Dataset``) by calling ``register(cls)``."""


@hookspec
def register_backbones(register: Register) -> None:
    """Register backbone classes (subclasses of ``albench.Backbone``) by calling ``register(cls)``."""


@hookspec
def register_superpixel_methods(register: Register) -> None:
    """Register superpixel classes (subclasses of ``albench.SuperpixelMethod``) by calling ``register(cls)``."""


@hookspec
def register_labeling_schemes(register: Register) -> None:
    """Register labeling-scheme classes (subclasses of ``albench.LabelingScheme``) by calling ``register(cls)``."""


@hookspec
def register_strategies(register: Register) -> None:
    """Register query-strategy classes (subclasses of ``albench.Strategy``) by calling ``register(cls)``."""


@hookspec
def register_executors(register: Register) -> None:
    """Register executor classes (subclasses of ``albench.Executor``) by calling ``register(cls)``."""
