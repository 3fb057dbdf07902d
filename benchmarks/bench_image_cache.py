"""What the decoded-image cache saves: loading a sample by decoding its files against reading it back decoded.

    .venv/bin/python benchmarks/bench_image_cache.py
    .venv/bin/python benchmarks/bench_image_cache.py --images 8 --repeats 5

Real file sizes and formats, synthetic content: a Pascal VOC layout (500×375 JPEG, palette PNG mask, working
size 513²) and a Cityscapes layout (2048×1024 PNG, labelIds PNG, working size 769²), written to a temporary
folder. Per image, the fastest of ``--repeats`` loads in thread CPU milliseconds: the dataset's ``load`` without
a cache (decode, check, resize, every round) and with its cache warm (``Dataset.use_cache``), and the size
of a cache entry beside the source files.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from albench_plugins.datasets.cityscapes import Cityscapes, CityscapesParams
from albench_plugins.datasets.pascal_voc import PascalVoc, PascalVocParams
from albench_plugins.datasets.toy import render_scene
from PIL import Image

from albench.components import Dataset


def scene(index: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A toy scene stretched to ``width``×``height``: image and its 0..6 labels."""
    sample = render_scene(index, 256, scene_seed=0)
    image = Image.fromarray(sample.image).resize((width, height), Image.Resampling.BILINEAR)
    labels = Image.fromarray(sample.mask.astype(np.uint8)).resize((width, height), Image.Resampling.NEAREST)
    return np.asarray(image), np.asarray(labels)


def write_voc(root: Path, count: int) -> PascalVoc:
    voc = root / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / folder).mkdir(parents=True, exist_ok=True)
    ids = [f"2007_{i:06d}" for i in range(count)]  # the last one is the validation image
    for index, image_id in enumerate(ids):
        image, labels = scene(index, 500, 375)
        Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=90)
        mask = Image.fromarray(labels)
        mask.putpalette([v for i in range(256) for v in (i, i, i)])
        mask.save(voc / "SegmentationClass" / f"{image_id}.png")
    (voc / "ImageSets/Segmentation/train.txt").write_text("".join(f"{i}\n" for i in ids[:-1]))
    (voc / "ImageSets/Segmentation/val.txt").write_text(f"{ids[-1]}\n")
    return PascalVoc(PascalVocParams(image_size=513), root)


def write_cityscapes(root: Path, count: int) -> Cityscapes:
    label_ids = np.array([7, 8, 11, 26, 24, 21, 33], dtype=np.uint8)  # road, sidewalk, building, car, person, ...
    for split in ("train", "val"):
        (root / "leftImg8bit" / split / "city").mkdir(parents=True, exist_ok=True)
        (root / "gtFine" / split / "city").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        split = "val" if index == 0 else "train"
        stem = f"city_000000_{index:06d}"
        image, labels = scene(index, 2048, 1024)
        Image.fromarray(image).save(root / "leftImg8bit" / split / "city" / f"{stem}_leftImg8bit.png")
        Image.fromarray(label_ids[labels]).save(root / "gtFine" / split / "city" / f"{stem}_gtFine_labelIds.png")
    return Cityscapes(CityscapesParams(image_size=769), root)


def fastest_ms(function, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        function()
        best = min(best, time.thread_time() - started)
    return 1000 * best


def bench(name: str, dataset: Dataset, source: Path, cache: Path, repeats: int) -> None:
    ids = list(dataset.image_ids())
    decode = [fastest_ms(lambda i=i: dataset.load(i), repeats) for i in ids]
    dataset.use_cache(cache)
    for image_id in ids:
        dataset.load(image_id)  # fills the cache
    cached = [fastest_ms(lambda i=i: dataset.load(i), repeats) for i in ids]
    source_kib = sum(p.stat().st_size for p in source.rglob("*") if p.suffix in (".jpg", ".png")) / len(ids) / 1024
    cache_kib = sum(p.stat().st_size for p in cache.glob("*.npz")) / len(ids) / 1024
    d, c = float(np.median(decode)), float(np.median(cached))
    print(f"| {name} | {d:.1f} | {c:.2f} | {d / c:.0f}× | {source_kib:,.0f} | {cache_kib:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}; ms per image, thread CPU time, median of {args.images} images\n"
    )
    print("| layout | decode + check + resize (ms) | cached (ms) | speed-up | files (KiB) | cache entry (KiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        bench(
            "Pascal VOC 500×375 JPEG → 513²",
            write_voc(root / "voc", args.images),
            root / "voc",
            root / "c-voc",
            args.repeats,
        )
        bench(
            "Cityscapes 2048×1024 PNG → 769²",
            write_cityscapes(root / "cs", args.images),
            root / "cs",
            root / "c-cs",
            args.repeats,
        )


if __name__ == "__main__":
    main()
