"""Superpixel precomputation: speed per core, speed-up over all cores, cache size and load time per image.

    .venv/bin/python benchmarks/bench_superpixels.py                    # VOC and Cityscapes scale, slic and seeds
    .venv/bin/python benchmarks/bench_superpixels.py --scales voc --methods slic --images 8

Synthetic images of the real working size (the toy dataset's scenes rendered at 513² and 769², with masks of
VOC's 21 and Cityscapes' 19 classes' worth of ids). Per scale and method:

  segment: the method alone, ms per image on one core (thread CPU time, the fastest of ``--repeats``);
  entry: segmentation plus what the cache adds (relabelling, class histogram, adjacency, compressed write);
  N cores: wall time of ``SuperpixelStore.ensure`` on ``--pool`` images with every core (worker processes)
           against one, in fresh cache directories;
  cache: size and load time (``SuperpixelStore.read``, the fastest of ``--repeats``) of one entry in today's
         compact format against the previous format (``int32`` region map, uncompressed ``.npz``).

``seeds`` needs ``pip install 'albench[seeds]'``; it is left out (with a note) where OpenCV's contrib
modules are missing.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _synthetic import SyntheticScenes

from albench.components import Sample, SuperpixelMethod
from albench.host.registry import load_registry
from albench.run.spec import ComponentSpec
from albench.run.superpixel_cache import (
    SuperpixelStore,
    class_histogram,
    default_workers,
    region_adjacency,
    relabel_contiguous,
)


@dataclass(frozen=True)
class Scale:
    name: str
    size: int
    classes: int
    params: dict[str, dict[str, Any]]  # superpixel parameters per method


SCALES = {
    # benchmarks/voc.toml and cityscapes.toml's SLIC; SEEDS as the baselines' papers (~150-200 on VOC, 2,048 on
    # Cityscapes, which OpenCV rounds down to the grid that fits).
    "voc": Scale(
        "Pascal VOC", 513, 21, {"slic": {"n_segments": 150, "compactness": 10.0}, "seeds": {"num_superpixels": 200}}
    ),
    "cityscapes": Scale(
        "Cityscapes", 769, 19, {"slic": {"n_segments": 300, "compactness": 10.0}, "seeds": {"num_superpixels": 2048}}
    ),
}


def thread_time_ms(function: Any, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in thread CPU milliseconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        function()
        best = min(best, time.thread_time() - started)
    return 1000 * best


def previous_format_entry(
    path: Path, labels: np.ndarray, histogram: np.ndarray, adjacency: np.ndarray, key: str, image_id: str
) -> None:
    """An entry as the cache wrote it before the compact format (int32 labels, int64 histogram, no compression)."""
    with path.open("wb") as handle:
        np.savez(
            handle,
            labels=labels.astype(np.int32),
            histogram=histogram.astype(np.int64),
            adjacency=adjacency,
            key=np.array(key),
            image_id=np.array(image_id),
            fingerprint=np.array("f" * 40),
        )


def store_for(
    method: SuperpixelMethod, spec: ComponentSpec, dataset: SyntheticScenes, directory: Path
) -> SuperpixelStore:
    dataset_spec = ComponentSpec(
        "dataset", dataset.name, {"size": dataset.size, "count": dataset.count}, "1", dataset.name
    )
    return SuperpixelStore(directory, dataset, method, dataset_spec, spec)


def bench(scale: Scale, method_name: str, args: argparse.Namespace, registry: Any) -> None:
    created = registry.create("superpixels", method_name, scale.params[method_name])
    method = created.instance
    spec = ComponentSpec("superpixels", method_name, dict(scale.params[method_name]), method.version, method_name)
    dataset = SyntheticScenes(args.data / scale.name, scale.size, scale.classes, max(args.pool, args.images))
    samples = [dataset.load(i) for i in dataset.image_ids()[: args.images]]

    segment = [thread_time_ms(lambda s=s: method.segment(s.image), args.repeats) for s in samples]

    def entry_work(sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        labels = relabel_contiguous(np.asarray(method.segment(sample.image)))
        k = int(labels.max()) + 1
        return labels, class_histogram(labels, sample.mask, k, scale.classes), region_adjacency(labels)

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        store = store_for(method, spec, dataset, root / "compact")
        ids = dataset.image_ids()[: args.images]
        entry = [thread_time_ms(lambda i=i: store.compute(i, "f" * 40), args.repeats) for i in ids]
        regions = [store.read(i).num_regions for i in ids]  # type: ignore[union-attr]
        compact_kib = [store.path(i).stat().st_size / 1024 for i in ids]
        compact_load = [thread_time_ms(lambda i=i: store.read(i), args.repeats * 4) for i in ids]
        old_paths = []
        for image_id, sample in zip(ids, samples):
            labels, histogram, adjacency = entry_work(sample)
            path = root / f"previous-{image_id}.npz"
            previous_format_entry(path, labels, histogram, adjacency, store.key_json, image_id)
            old_paths.append(path)
        old_kib = [p.stat().st_size / 1024 for p in old_paths]
        old_store = store_for(method, spec, dataset, root / "old")
        old_load = []
        for image_id, path in zip(ids, old_paths):
            target = old_store.path(image_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            old_load.append(thread_time_ms(lambda i=image_id: old_store.read(i), args.repeats * 4))

        pool_ids = dataset.image_ids()[: args.pool]
        wall = {}
        for workers in sorted({1, args.workers}):
            fresh = store_for(method, spec, dataset, root / f"pool-{workers}")
            started = time.perf_counter()
            for _ in fresh.ensure(pool_ids, workers=workers):
                pass
            wall[workers] = time.perf_counter() - started

    seg, ent = float(np.median(segment)), float(np.median(entry))
    print(
        f"\n{scale.name} {scale.size}², {method_name} {scale.params[method_name]}: "
        f"{np.mean(regions):.0f} regions per image (median of {len(ids)} images)\n"
    )
    print("| measurement | per image | images/s per core |")
    print("|---|---:|---:|")
    print(f"| segment (one core) | {seg:.1f} ms | {1000 / seg:.2f} |")
    print(f"| cache entry (segment + histogram + adjacency + write) | {ent:.1f} ms | {1000 / ent:.2f} |")
    for workers, seconds in wall.items():
        per_core = len(pool_ids) / seconds / workers
        print(
            f"| ensure() {len(pool_ids)} images, {workers} process(es): {seconds:.1f} s wall "
            f"| {1000 * seconds / len(pool_ids):.1f} ms | {per_core:.2f} |"
        )
    if len(wall) == 2:
        print(f"\nspeed-up with {args.workers} processes: {wall[1] / wall[args.workers]:.2f}×")
    print("\n| cache format | KiB per image | load ms per image |")
    print("|---|---:|---:|")
    print(f"| previous (int32, uncompressed .npz) | {np.median(old_kib):.1f} | {np.median(old_load):.3f} |")
    print(f"| compact (uint16, deflate .npz) | {np.median(compact_kib):.1f} | {np.median(compact_load):.3f} |")
    print(
        f"\nsize ÷ {np.median(old_kib) / np.median(compact_kib):.1f}, "
        f"load time × {np.median(compact_load) / np.median(old_load):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", choices=sorted(SCALES), default=["voc", "cityscapes"])
    parser.add_argument("--methods", nargs="+", choices=["slic", "seeds"], default=["slic", "seeds"])
    parser.add_argument("--images", type=int, default=4, help="images timed one by one")
    parser.add_argument("--repeats", type=int, default=3, help="the fastest of this many passes counts")
    parser.add_argument("--pool", type=int, default=32, help="images computed by ensure() for the speed-up")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes for the speed-up")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(tempfile.gettempdir()) / "albench-bench-scenes",
        help="where the rendered scenes are kept between runs",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    registry = load_registry(entry_points=False)
    try:
        import cv2

        has_seeds = hasattr(cv2, "ximgproc")
    except ImportError:
        has_seeds = False
    print(f"{platform.processor() or platform.machine()}, {default_workers()} cores, torch {torch.__version__}")
    for scale_name in args.scales:
        for method_name in args.methods:
            if method_name == "seeds" and not has_seeds:
                print("\nseeds: skipped (pip install 'albench[seeds]')")
                continue
            bench(SCALES[scale_name], method_name, args, registry)


if __name__ == "__main__":
    main()
