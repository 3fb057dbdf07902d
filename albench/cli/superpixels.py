"""``albench superpixels stats``: superpixel counts and sizes over a training pool, and the dominant-label
ceiling (the mIoU of the dominant-label map against the ground truth), beside the paper's value.

Superpixels come from the same cache as runs (same dataset and method parameters → same entries), so this
command and ``albench run`` share the work.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from albench.cli._common import RichProgress, default_cache_dir, err, handle_errors, out
from albench.cli._tables import print_table
from albench.cli.run import parse_settings
from albench.errors import DatasetError, ParameterError
from albench.host.registry import load_registry
from albench.run.label_quality import PAPER_CEILINGS, LabelQuality, PaperCeiling, label_quality
from albench.run.protocol import DEFAULT_CONFIG, ComponentChoice, load_protocol_file
from albench.run.spec import ComponentSpec, open_component, resolve_component, resolve_dataset
from albench.run.superpixel_cache import SuperpixelStore

app = typer.Typer(name="superpixels", help="Superpixel tools.", no_args_is_help=True)

STATS_KINDS = ("dataset", "superpixels")


class StatsFormat(StrEnum):
    table = "table"
    json = "json"


def _choose(configured: ComponentChoice, name: str | None) -> ComponentChoice:
    """``--dataset``/``--superpixels`` replace the protocol's choice; its parameters only apply to the same name."""
    return configured if name is None or name == configured.name else ComponentChoice(name)


def _reference(key: str | None, dataset: str) -> PaperCeiling | None:
    if key is None:
        return PAPER_CEILINGS.get(dataset)
    if key not in PAPER_CEILINGS:
        raise ParameterError(f"--reference {key!r}: the paper reports ceilings for {', '.join(PAPER_CEILINGS)}")
    return PAPER_CEILINGS[key]


def _summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"mean": math.nan, "median": math.nan, "min": math.nan, "max": math.nan}
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _pct(value: float) -> float | None:
    return None if math.isnan(value) else round(100 * value, 4)


def report(
    quality: LabelQuality,
    *,
    dataset: ComponentSpec,
    superpixels: ComponentSpec,
    seed: int,
    class_names: tuple[str, ...],
    reference: PaperCeiling | None,
    cache: Path,
) -> dict[str, Any]:
    """The JSON-ready report (mIoU and IoU in percent)."""
    gt_pixels = quality.confusion.sum(axis=1)
    return {
        "dataset": dataset.name,
        "dataset_params": dict(dataset.params),
        "superpixels": superpixels.name,
        "superpixels_params": dict(superpixels.params),
        "seed": seed,
        "split": "pool",
        "images": len(quality.image_ids),
        "regions": quality.num_regions,
        "regions_per_image": _summary(quality.regions_per_image),
        "region_size_px": _summary(quality.region_sizes),
        "dominant_miou_pct": {"standard": _pct(quality.miou("standard")), "paper": _pct(quality.miou("paper"))},
        "iou_pct": [
            {"class": name, "iou": _pct(float(iou)), "pixels": int(pixels)}
            for name, iou, pixels in zip(class_names, quality.iou("standard"), gt_pixels)
        ],
        "paper_ceiling": None if reference is None else {"dataset": reference.dataset, "miou_pct": reference.miou},
        "cache": str(cache),
        "per_image": [
            {"image_id": image_id, "regions": int(regions), "pixels": int(pixels)}
            for image_id, regions, pixels in zip(quality.image_ids, quality.regions_per_image, quality.pixels_per_image)
        ],
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def render_tables(data: dict[str, Any]) -> list[Table]:
    """Region statistics, the ceiling beside the paper's, and per-class IoU."""
    regions = Table(
        title=f"superpixels {data['superpixels']} on {data['dataset']} · seed {data['seed']} pool: "
        f"{data['images']} images, {data['regions']} regions",
        title_justify="left",
    )
    for column in ("", "mean", "median", "min", "max"):
        regions.add_column(column, justify="left" if not column else "right")
    for label, key in (("regions per image", "regions_per_image"), ("region size (px)", "region_size_px")):
        s = data[key]
        regions.add_row(label, _fmt(s["mean"]), _fmt(s["median"]), _fmt(s["min"], 0), _fmt(s["max"], 0))
    ceiling = Table(title="dominant-label mIoU over the pool (%)", title_justify="left")
    ceiling.add_column("")
    ceiling.add_column("mIoU", justify="right")
    ceiling.add_row("measured (standard)", _fmt(data["dominant_miou_pct"]["standard"]))
    ceiling.add_row("measured (paper convention: background out, absent = 1)", _fmt(data["dominant_miou_pct"]["paper"]))
    if data["paper_ceiling"] is not None:
        ceiling.add_row(
            f"paper, {data['paper_ceiling']['dataset']} (its superpixels)", _fmt(data["paper_ceiling"]["miou_pct"])
        )
    classes = Table(title="dominant-label IoU per class (%)", title_justify="left")
    for column in ("class", "IoU", "pixels"):
        classes.add_column(column, justify="left" if column == "class" else "right")
    for row in data["iou_pct"]:
        classes.add_row(row["class"], _fmt(row["iou"]), str(row["pixels"]))
    return [regions, ceiling, classes]


@app.command("stats")
def stats(
    dataset: Annotated[str | None, typer.Option(help="Dataset plugin (default: the protocol's).")] = None,
    superpixels: Annotated[str | None, typer.Option(help="Superpixel method plugin (default: the protocol's).")] = None,
    protocol: Annotated[
        Path | None,
        typer.Option(
            "--protocol", "-p", help="Protocol (bundled name or TOML file) to take the dataset and superpixels from."
        ),
    ] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="dataset.PARAM=VALUE or superpixels.PARAM=VALUE; repeatable.")
    ] = [],  # noqa: B006
    seed: Annotated[
        int | None, typer.Option(help="Split seed: the pool of this seed is measured [default: the protocol's first].")
    ] = None,
    data_root: Annotated[Path | None, typer.Option(help="Root directory of an on-disk dataset.")] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Superpixel cache [default: $ALBENCH_CACHE_DIR or ~/.cache/albench].")
    ] = None,
    max_images: Annotated[int, typer.Option(help="Measure only the first N pool images (0: all).", min=0)] = 0,
    reference: Annotated[
        str | None,
        typer.Option(
            help="Paper ceiling to compare with (pascal-voc, endovis2018, cityscapes, monarch) [default: by dataset name]."
        ),
    ] = None,
    format: Annotated[StatsFormat, typer.Option("--format", "-f", help="Output format.")] = StatsFormat.table,
) -> None:
    """Superpixel count and size per image over a training pool, and the dominant-label mIoU ceiling."""
    with handle_errors():
        settings = parse_settings(set_)
        for kind in settings:
            if kind not in STATS_KINDS:
                raise ParameterError(
                    f"--set {kind}.…: superpixels stats only takes dataset.* and superpixels.* settings"
                )
        registry = load_registry()
        config = load_protocol_file(protocol) if protocol else DEFAULT_CONFIG
        # Resolved exactly as a run resolves them, so the superpixel cache is the runs' cache.
        dataset_choice = _choose(config.dataset, dataset)
        dataset_spec, data = resolve_dataset(
            registry, dataset_choice.name, {**dataset_choice.params, **settings.get("dataset", {})}, data_root
        )
        method_choice = _choose(config.superpixels, superpixels)
        method_spec = resolve_component(
            registry, "superpixels", method_choice.name, {**method_choice.params, **settings.get("superpixels", {})}
        )
        ceiling = _reference(reference, dataset_spec.name)
        method = open_component(registry, method_spec)
        split_seed = config.seeds[0] if seed is None else seed
        pool = list(data.split(split_seed).pool)[: max_images or None]
        if not pool:
            raise DatasetError(f"dataset {dataset_spec.name!r} has an empty training pool for seed {split_seed}")
        store = SuperpixelStore(cache_dir or default_cache_dir(), data, method, dataset_spec, method_spec)
        with RichProgress() as progress:
            quality = label_quality(store, pool, progress)
        result = report(
            quality,
            dataset=dataset_spec,
            superpixels=method_spec,
            seed=split_seed,
            class_names=tuple(data.classes),
            reference=ceiling,
            cache=store.directory,
        )
        if format is StatsFormat.json:
            typer.echo(json.dumps(result, indent=2))
            return
        for table in render_tables(result):
            print_table(out, table)
        err.print(f"superpixel cache: {store.directory}")
