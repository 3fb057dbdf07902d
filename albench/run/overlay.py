"""Which superpixels a finished run selected on one image, rebuilt from the run's own spec (Fig. 6 style).

A results file records, per round, the regions added as (pool image index, superpixel id), and its footer
holds the canonical spec and the split. The image and its superpixels are rebuilt from those through the
registry and the superpixel cache, so the overlay shows exactly the regions the run labeled, provided the
dataset and superpixel method are the versions the run used (a mismatch is reported in ``notes``).

No uncertainty map: finished runs keep no model weights, so the scores behind a selection cannot be
recomputed after the fact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from albench.components.labeling import dominant_classes
from albench.errors import AlbenchError
from albench.host.registry import Registry
from albench.results.selection_view import SelectionView
from albench.results.store import file_metadata
from albench.run.spec import ComponentSpec, open_component, version_drift
from albench.run.superpixel_cache import SuperpixelStore

__all__ = ["find_run_file", "load_selection_view"]


def find_run_file(results_dir: Path, run: str) -> Path:
    """The results file of run id ``run`` (or of the one run whose id starts with it)."""
    if not results_dir.is_dir():
        raise AlbenchError(f"results directory {results_dir} does not exist; pass --results-dir")
    matches = sorted(results_dir.glob(f"{run}*.parquet"))
    if len(matches) != 1:
        found = "no results file" if not matches else f"{len(matches)} results files"
        raise AlbenchError(
            f"run {run!r}: {found} in {results_dir} matches; pass a (longer) run id from "
            "`albench report runs` (runs still in progress cannot be shown)"
        )
    return matches[0]


def _component(spec: dict[str, Any], kind: str) -> ComponentSpec:
    return ComponentSpec.from_canonical(kind, spec[kind])


def _choose_image(pool: list[str], added_images: np.ndarray, image: str | None) -> int:
    """Pool index of ``image`` (an id in the pool, or an index); default: the image with most additions."""
    if image is None:
        counts = np.bincount(added_images, minlength=len(pool))
        return int(counts.argmax())
    if image in pool:
        return pool.index(image)
    if image.isdigit() and int(image) < len(pool):
        return int(image)
    raise AlbenchError(f"--image {image!r} is neither an image id of the run's pool nor an index below {len(pool)}")


def load_selection_view(
    results_dir: Path,
    run: str,
    round_index: int,
    registry: Registry,
    cache_dir: Path,
    data_root: Path | None = None,
    image: str | None = None,
) -> SelectionView:
    """Rebuild the selection of ``run`` at ``round_index`` on one pool image (see the module docstring)."""
    path = find_run_file(results_dir, run)
    metadata = file_metadata(path)
    spec, split = metadata.get("spec"), metadata.get("split")
    if not isinstance(spec, dict) or not isinstance(split, dict) or "dataset" not in spec:
        raise AlbenchError(f"results file {path} has no run spec in its footer; it was not written by `albench run`")
    rows = sorted(pq.read_table(path).to_pylist(), key=lambda r: r["round"])
    if not 0 <= round_index < len(rows):
        raise AlbenchError(f"--round {round_index}: run {path.stem} has rounds 0…{len(rows) - 1}")
    pool = list(split["pool"])
    row = rows[round_index]
    index = _choose_image(pool, np.asarray(row["added_image"], dtype=np.int64), image)
    notes = []
    parts: dict[str, Any] = {}
    for kind in ("dataset", "superpixels"):
        component = _component(spec, kind)
        drift = version_drift(registry, component)
        if drift:
            notes.append(f"{drift}: the superpixels shown may differ from the run's")
        parts[kind] = open_component(registry, component, data_root=data_root)
    store = SuperpixelStore(
        cache_dir, parts["dataset"], parts["superpixels"], _component(spec, "dataset"), _component(spec, "superpixels")
    )
    image_id = pool[index]
    entry = store.get(image_id)
    sample = parts["dataset"].load(image_id)

    def regions(rounds: list[dict[str, Any]]) -> np.ndarray:
        mask = np.zeros(entry.num_regions, dtype=bool)
        for r in rounds:
            images, local = np.asarray(r["added_image"]), np.asarray(r["added_superpixel"])
            chosen = local[images == index]
            if chosen.size and chosen.max() >= entry.num_regions:
                raise AlbenchError(
                    f"run {path.stem} selected superpixel {chosen.max()} of image {image_id!r}, which "
                    f"has {entry.num_regions}: the superpixels changed since the run; use its versions"
                )
            mask[chosen] = True
        return mask

    selected, earlier = regions([row]), regions(rows[:round_index])
    title = f"{row['strategy_label']} · seed {row['seed']} · round {round_index}: {int(selected.sum())} selected here"
    return SelectionView(
        title,
        image_id,
        sample.image,
        entry.labels,
        selected,
        earlier,
        dominant_classes(entry.histogram, parts["dataset"].ignore_index),
        tuple(row["class_names"] or ()),
        notes,
    )
