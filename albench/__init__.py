"""albench: a deterministic, plugin-based benchmark for active learning in semantic segmentation."""

from albench.components import (
    Backbone,
    Dataset,
    LabelingScheme,
    RegionLabels,
    Sample,
    SegmentationModel,
    SelectionContext,
    Split,
    Strategy,
    SuperpixelMethod,
)
from albench.hookspecs import hookimpl
from albench.statistics import PixelScore, PoolStatistic, RegionStatistic

__version__ = "0.1.0"

__all__ = [
    "Backbone",
    "Dataset",
    "LabelingScheme",
    "PixelScore",
    "PoolStatistic",
    "RegionLabels",
    "RegionStatistic",
    "Sample",
    "SegmentationModel",
    "SelectionContext",
    "Split",
    "Strategy",
    "SuperpixelMethod",
    "__version__",
    "hookimpl",
]
