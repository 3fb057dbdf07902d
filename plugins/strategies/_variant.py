"""The two flavours of each baseline: as its authors published it, or as the OREAL authors' copy computed it
(docs/strategies.md#two-flavours-of-each-baseline)."""

from __future__ import annotations

from typing import Literal

__all__ = ["Variant"]

Variant = Literal["original", "oreal-paper"]
