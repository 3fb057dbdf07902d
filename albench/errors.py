"""Errors albench raises on bad input. Each message names the thing at fault and what to do."""

from __future__ import annotations

__all__ = [
    "AlbenchError",
    "ComponentError",
    "DatasetError",
    "DuplicateComponentError",
    "ParameterError",
    "ProtocolError",
    "SelectionError",
    "UnknownComponentError",
]


class AlbenchError(Exception):
    """Base class: an error the user can act on. The CLI prints its message without a traceback."""


class ComponentError(AlbenchError):
    """A component (plugin) misbehaved or cannot be found."""


class UnknownComponentError(ComponentError):
    """A component name that no loaded plugin registered."""


class DuplicateComponentError(ComponentError):
    """Two plugins registered the same component name."""


class ParameterError(AlbenchError):
    """A component parameter that is unknown or has the wrong type."""


class ProtocolError(AlbenchError):
    """A protocol (budget, rounds, schedule) that cannot be run."""


class DatasetError(AlbenchError):
    """A dataset that cannot be read: missing files, bad masks, bad labels."""


class SelectionError(ComponentError):
    """A strategy returned a selection that breaks the protocol's rules."""
