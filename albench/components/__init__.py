"""One base class per component kind. Plugins subclass these and register them through the hooks."""

from albench.components.backbone import Backbone
from albench.components.dataset import Dataset, Sample, Split, holdout_split
from albench.components.executor import Executor, Task, TaskEnded
from albench.components.kinds import KINDS, RUN_KINDS, Kind
from albench.components.labeling import DenseStage, LabelingScheme, RegionLabels, TrainingStage, dominant_classes
from albench.components.strategy import ScoredStrategy, SelectionContext, Strategy
from albench.components.superpixels import SuperpixelMethod

__all__ = [
    "KINDS",
    "RUN_KINDS",
    "Backbone",
    "Dataset",
    "DenseStage",
    "Kind",
    "Executor",
    "LabelingScheme",
    "RegionLabels",
    "Sample",
    "ScoredStrategy",
    "SelectionContext",
    "Split",
    "Strategy",
    "SuperpixelMethod",
    "Task",
    "TaskEnded",
    "TrainingStage",
    "dominant_classes",
    "holdout_split",
]
