"""How albench writes counts in its messages: ``1 run``, ``3 runs``, ``2 strategies``."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``count`` and ``word``, in the plural (``word + "s"`` unless ``plural_form``) unless ``count`` is 1."""
    return f"{count} {word if count == 1 else plural_form or word + 's'}"
