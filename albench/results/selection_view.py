"""What the selection figure draws: one image of one run at one round (built by :mod:`albench.run.overlay`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SelectionView"]


@dataclass(frozen=True)
class SelectionView:
    """One image of one run at one round: ``selected`` (this round's additions) and ``earlier`` (labeled in
    earlier rounds) are ``(K,) bool`` over the image's superpixels; ``dominant`` is each region's class."""

    title: str
    image_id: str
    image: np.ndarray
    superpixels: np.ndarray
    selected: np.ndarray
    earlier: np.ndarray
    dominant: np.ndarray
    class_names: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
