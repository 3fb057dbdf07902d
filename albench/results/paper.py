"""The OREAL paper's published numbers, each with its source, for ``--compare-paper`` reference rows.

Transcribed from the OREAL paper's supplementary material: Table 1 (AuALC of the ablations), Table 2 (mean →
max mIoU gain, dominant labels, three backbones), Table 3 (the same with weak labels, stages 1 and 2), Table 4 (1 − Gini of the final labeled set) and the
dominant-label quality of Fig. 7's caption. Values are in the paper's units: AuALC and mIoU in percent
(points), 1 − Gini as a fraction. A dash in the paper (not run) is simply absent here.

Dataset keys are albench's dataset names where a built-in exists (``cityscapes``, ``pascal-voc``,
``endovis2018``); MONARCH is private (``monarch``; map a ``folder`` dataset to it with ``--paper-dataset``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BACKBONES", "DATASETS", "PUBLISHED", "Published", "paper_dataset", "published"]

SUPPLEMENTARY = "OREAL supplementary"

# paper dataset key -> name as the paper prints it
DATASETS: dict[str, str] = {
    "cityscapes": "Cityscapes",
    "pascal-voc": "Pascal VOC",
    "monarch": "MONARCH",
    "endovis2018": "EndoVis",
}
# other spellings of those datasets' names
_ALIASES = {
    "voc": "pascal-voc",
    "pascal_voc": "pascal-voc",
    "pascalvoc": "pascal-voc",
    "voc2012": "pascal-voc",
    "endovis": "endovis2018",
    "endovis-2018": "endovis2018",
    "endovis_2018": "endovis2018",
}
# albench backbone -> the paper's abbreviation
BACKBONES: dict[str, str] = {"deeplabv3-resnet50": "RN50", "deeplabv3-resnet101": "RN101", "deeplabv3-vit": "ViT"}
# the paper's row names -> albench strategy names
STRATEGIES: dict[str, str] = {
    "Random": "random",
    "BvSB": "bvsb",
    "Revisiting SP": "revisiting-sp",
    "PixelBal": "pixelbal",
    "CBAL": "cbal",
    "OREAL": "oreal",
}


@dataclass(frozen=True)
class Published:
    """One published number: where it is printed, what it measures and under which setting."""

    source: str
    metric: str
    row: str
    strategy: str
    dataset: str
    value: float
    backbone: str = "deeplabv3-resnet50"
    labeling: str = "dominant"
    aggregation: str | None = None
    stage: int | None = None
    note: str = ""


def _grid(
    source: str, metric: str, datasets: tuple[str, ...], rows: Mapping[str, tuple[float | None, ...]], **setting: object
) -> list[Published]:
    """Expand a printed table (row name → values in ``datasets`` order; None for the paper's dashes)."""
    values = []
    for row, numbers in rows.items():
        strategy = STRATEGIES.get(row.split(" ")[0] if row.startswith("OREAL") else row, row.lower())
        for dataset, value in zip(datasets, numbers, strict=True):
            if value is not None:
                values.append(Published(source, metric, row, strategy, dataset, value, **setting))  # type: ignore[arg-type]
    return values


def _table1() -> list[Published]:
    source = f"{SUPPLEMENTARY}, Table 1"
    datasets = ("cityscapes", "pascal-voc", "monarch", "endovis2018", "average", "average-without-cityscapes")
    rows: dict[str, tuple[float | None, ...]] = {
        "OREAL": (68.0, 77.2, 69.7, 76.2, 72.8, 74.4),
        "OREAL Mean": (67.9, 73.6, 66.2, 74.8, 70.6, 71.5),
        "OREAL Prob×Ent": (66.5, 75.2, 62.1, 75.8, 70.0, 71.0),
        # EndoVis printed as "0.760" in the table: a fraction among percentages, transcribed as 76.0.
        "OREAL δ": (None, 76.2, 65.6, 76.0, None, 72.6),
        "OREAL 95%": (68.5, 76.6, None, None, None, None),
    }
    # OREAL aggregates with max; the Mean ablation with the mean, 95% with the 95th percentile; Prob×Ent (another
    # pixel score) and δ (no background oversampling) keep max.
    aggregations = {"OREAL": "max", "OREAL Mean": "mean", "OREAL Prob×Ent": "max", "OREAL δ": "max", "OREAL 95%": "p95"}
    return [
        value
        for row, numbers in rows.items()
        for value in _grid(source, "aualc", datasets, {row: numbers}, aggregation=aggregations[row])
    ]


_TABLE2_DATASETS = ("monarch", "pascal-voc", "endovis2018", "cityscapes", "average")


def _table2() -> list[Published]:
    source = f"{SUPPLEMENTARY}, Table 2"
    by_backbone: dict[str, dict[str, tuple[float | None, ...]]] = {
        "deeplabv3-resnet50": {
            "BvSB": (1.47, 1.36, 0.29, -0.19, 0.73),
            "Revisiting SP": (1.67, 0.32, -0.18, 0.41, 0.56),
            "PixelBal": (-1.31, 1.54, 0.39, -0.41, 0.05),
            "CBAL": (-0.31, -0.10, -0.14, 0.07, -0.12),
            "OREAL": (1.25, 2.18, 0.65, 0.18, 1.07),
        },
        "deeplabv3-resnet101": {
            "BvSB": (0.48, 1.93, 0.62, 0.35, 0.85),
            "Revisiting SP": (-0.70, 1.04, 0.05, 1.32, 0.43),
            "PixelBal": (-0.10, 1.93, 0.89, 1.64, 1.09),
            "CBAL": (-0.83, -0.81, -0.16, 0.34, -0.36),
            "OREAL": (-0.40, 1.82, 0.40, -0.06, 0.44),
        },
        "deeplabv3-vit": {
            "BvSB": (2.27, 3.32, 0.70, -0.30, 1.50),
            "Revisiting SP": (1.66, 3.20, 0.17, -0.10, 1.23),
            "PixelBal": (1.95, 3.24, 0.71, 0.03, 1.48),
            "CBAL": (-0.84, 0.75, 0.10, -0.46, -0.11),
            "OREAL": (-0.64, 2.47, 0.24, 0.66, 0.68),
        },
    }
    return [
        value
        for backbone, rows in by_backbone.items()
        for value in _grid(source, "mean-to-max-gain", _TABLE2_DATASETS, rows, backbone=backbone)
    ]


def _table3() -> list[Published]:
    source = f"{SUPPLEMENTARY}, Table 3"
    note = "backbone not stated in the table (the weak-label experiments use ResNet50)"
    stages: dict[int, dict[str, tuple[float | None, ...]]] = {
        1: {"BvSB": (-0.13, 0.40), "Revisiting SP": (0.41, 0.98), "PixelBal": (-0.15, 0.24), "OREAL": (-0.17, 0.26)},
        2: {"BvSB": (-0.11, 0.42), "Revisiting SP": (-0.14, 1.33), "PixelBal": (-0.34, 0.42), "OREAL": (0.07, 0.16)},
    }
    return [
        value
        for stage, rows in stages.items()
        for value in _grid(
            source, "mean-to-max-gain", ("pascal-voc", "cityscapes"), rows, labeling="weak", stage=stage, note=note
        )
    ]


def _table4() -> list[Published]:
    source = f"{SUPPLEMENTARY}, Table 4"
    datasets = ("monarch", "pascal-voc", "cityscapes", "endovis2018")
    random = {"Random": (0.42, 0.67, 0.25, 0.41)}
    mean = {
        "BvSB": (0.35, 0.61, 0.35, 0.45),
        "Revisiting SP": (0.40, 0.63, 0.42, 0.49),
        "PixelBal": (0.42, 0.60, 0.39, 0.50),
        "CBAL": (0.56, 0.65, 0.48, 0.55),
        "OREAL": (0.56, 0.83, 0.54, 0.57),
    }
    best = {
        "BvSB": (0.40, 0.63, 0.35, 0.46),
        "Revisiting SP": (0.47, 0.66, 0.56, 0.52),
        "PixelBal": (0.53, 0.72, 0.38, 0.52),
        "CBAL": (0.59, 0.66, 0.47, 0.55),
        "OREAL": (0.59, 0.86, 0.51, 0.56),
    }
    return (
        _grid(source, "gini", datasets, random)
        + _grid(source, "gini", datasets, mean, aggregation="mean")
        + _grid(source, "gini", datasets, best, aggregation="max")
    )


def _label_quality() -> list[Published]:
    source = f"{SUPPLEMENTARY}, Fig. 7 caption"
    values = {"pascal-voc": 93.7, "endovis2018": 83.3, "cityscapes": 74.6, "monarch": 82.3}
    return [
        Published(source, "dominant-label-miou", "dominant labels", "", dataset, value)
        for dataset, value in values.items()
    ]


PUBLISHED: tuple[Published, ...] = tuple(_table1() + _table2() + _table3() + _table4() + _label_quality())


def published(metric: str, **setting: object) -> list[Published]:
    """The published values of ``metric`` whose fields equal ``setting`` (e.g. ``backbone=…, stage=2``)."""
    return [p for p in PUBLISHED if p.metric == metric and all(getattr(p, k) == v for k, v in setting.items())]


def paper_dataset(name: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """The paper's key for an albench dataset name (``aliases`` first, e.g. ``{"folder": "monarch"}``)."""
    if aliases and name in aliases:
        return aliases[name]
    key = name.lower()
    return key if key in DATASETS else _ALIASES.get(key)
