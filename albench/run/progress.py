"""Progress reporting, kept out of the core's logic: the CLI plugs in rich bars, tests plug in nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["Advance", "NullProgress", "Progress"]

Advance = Callable[[int], None]


class Progress(Protocol):
    """Where long work reports how far it got."""

    def task(self, description: str, total: int | None) -> AbstractContextManager[Advance]:
        """A context manager yielding ``advance(n)`` for one bar."""
        ...

    def log(self, message: str) -> None:
        """A one-line message for the user."""
        ...


class NullProgress:
    """Reports nothing."""

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        def advance(n: int = 1) -> None:
            pass

        yield advance

    def log(self, message: str) -> None:
        pass
