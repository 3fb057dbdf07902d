"""``precise``: one click per region; every pixel of it gets its true class (the superpixel-free reference)."""

from __future__ import annotations

import numpy as np

from albench import LabelingScheme, RegionLabels, Register, hookimpl


class PreciseLabeling(LabelingScheme):
    """Precise labels (docs/protocol.md#labeling-schemes): every pixel of a labeled region is trained with its ground-truth class, at the cost
    of one click per region. Comparing it with ``dominant`` shows what the dominant-label approximation
    costs; with the ``full`` strategy it is full supervision."""

    name = "precise"
    version = "1"
    unit_cost = True

    def named_classes(self, dominant: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Every class of the region: its training target holds them all."""
        return present

    def render_target(self, regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
        chosen = np.zeros(regions.histogram.shape[0], dtype=bool)
        chosen[labeled] = True
        mask = regions.mask.astype(np.int64)
        valid = chosen[regions.superpixels] & (mask >= 0) & (mask < regions.histogram.shape[1])
        return np.where(valid, mask, regions.ignore_index)


@hookimpl
def register_labeling_schemes(register: Register) -> None:
    register(PreciseLabeling)
