"""One base class per component kind. Plugins subclass these and register them through the hooks."""

from albench.components.backbone import Backbone, SegmentationModel
from albench.components.dataset import Dataset, Sample, Split, holdout_split
from albench.components.labeling import DenseStage, LabelingScheme, RegionLabels, TrainingStage, dominant_classes
from albench.components.strategy import SelectionContext, Strategy
from albench.components.superpixels import SuperpixelMethod

__all__ = [
    "KINDS",
    "Backbone",
    "Dataset",
    "DenseStage",
    "LabelingScheme",
    "RegionLabels",
    "Sample",
    "SegmentationModel",
    "SelectionContext",
    "Split",
    "Strategy",
    "SuperpixelMethod",
    "TrainingStage",
    "dominant_classes",
    "holdout_split",
]

# kind name -> base class; the order is the order `albench plugins` lists them in.
KINDS: dict[str, type] = {
    "dataset": Dataset,
    "backbone": Backbone,
    "superpixels": SuperpixelMethod,
    "labeling": LabelingScheme,
    "strategy": Strategy,
}
