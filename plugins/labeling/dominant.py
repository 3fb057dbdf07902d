"""``dominant``: one click per region; every pixel of it gets the region's majority ground-truth class."""

from __future__ import annotations

import numpy as np

from albench import LabelingScheme, RegionLabels, Register, hookimpl


class DominantLabeling(LabelingScheme):
    """Dominant labels (docs/protocol.md#labeling-schemes). Void pixels stay ignored, and a region that is all void
    trains nothing (it still costs its click)."""

    name = "dominant"
    version = "1"
    unit_cost = True

    def render_target(self, regions: RegionLabels, labeled: np.ndarray) -> np.ndarray:
        lookup = np.full(regions.histogram.shape[0], regions.ignore_index, dtype=np.int64)
        lookup[labeled] = regions.dominant()[labeled]
        target = lookup[regions.superpixels]
        target[(regions.mask < 0) | (regions.mask >= regions.histogram.shape[1])] = regions.ignore_index
        return target


@hookimpl
def register_labeling_schemes(register: Register) -> None:
    register(DominantLabeling)
