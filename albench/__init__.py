"""albench: a deterministic, plugin-based benchmark for active learning in semantic segmentation.

This top level is the public API: everything a plugin needs is importable from here (``__all__``), and the
modules it comes from (:mod:`albench.components`, :mod:`albench.statistics`, :mod:`albench.uncertainty`,
:mod:`albench.selection`, :mod:`albench.losses`, :mod:`albench.adjacency`, :mod:`albench.determinism`,
:mod:`albench.params`, :mod:`albench.errors`, :mod:`albench.hookspecs`, :mod:`albench.testing`) are public too.
The subpackages ``host``, ``run``, ``engine``, ``results`` and ``cli`` are albench's own machinery: private by
place, free to change between releases.
"""

from albench.adjacency import RegionGraph
from albench.components import (
    Backbone,
    Dataset,
    DenseStage,
    Executor,
    LabelingScheme,
    RegionLabels,
    Sample,
    ScoredStrategy,
    SelectionContext,
    Split,
    Strategy,
    SuperpixelMethod,
    Task,
    TaskEnded,
    TrainingStage,
    dominant_classes,
    holdout_split,
)
from albench.determinism import derive_seed, numpy_generator, torch_generator
from albench.errors import AlbenchError, ComponentError, DatasetError, ParameterError, ProtocolError, SelectionError
from albench.hookspecs import Register, hookimpl
from albench.losses import dense_loss, merged_positive_loss, prototypical_pixel_loss
from albench.params import NoParams
from albench.selection import allocate_items, items_per_class, spend_in_score_order, take_within_budget, top_k
from albench.statistics import (
    Aggregation,
    PercentileMethod,
    PixelScore,
    PoolStatistic,
    RegionAggregation,
    RegionStatistic,
)

__version__ = "0.1.0"

__all__ = [
    "Aggregation",
    "AlbenchError",
    "Backbone",
    "ComponentError",
    "Dataset",
    "DatasetError",
    "DenseStage",
    "Executor",
    "LabelingScheme",
    "NoParams",
    "ParameterError",
    "PercentileMethod",
    "PixelScore",
    "PoolStatistic",
    "ProtocolError",
    "RegionAggregation",
    "RegionGraph",
    "RegionLabels",
    "RegionStatistic",
    "Register",
    "Sample",
    "ScoredStrategy",
    "SelectionContext",
    "SelectionError",
    "Split",
    "Strategy",
    "SuperpixelMethod",
    "Task",
    "TaskEnded",
    "TrainingStage",
    "__version__",
    "allocate_items",
    "dense_loss",
    "derive_seed",
    "dominant_classes",
    "holdout_split",
    "hookimpl",
    "items_per_class",
    "merged_positive_loss",
    "numpy_generator",
    "prototypical_pixel_loss",
    "spend_in_score_order",
    "take_within_budget",
    "top_k",
    "torch_generator",
]
