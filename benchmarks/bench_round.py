"""One round of a paper protocol, timed beside bare PyTorch loops on the same model and data in the same run.

    .venv/bin/python benchmarks/bench_round.py --device cuda                  # VOC at 513², DeepLabV3-ResNet50
    .venv/bin/python benchmarks/bench_round.py --size 129 --threads 1         # reduced size, for a small CPU
    .venv/bin/python benchmarks/bench_round.py --protocol default             # the embedded default (toy)
    .venv/bin/python benchmarks/bench_round.py --precision fp32 bf16 --channels-last
    .venv/bin/python benchmarks/bench_round.py --memory --device cuda         # Cityscapes-size pool, peak memory

The protocol (batch sizes, loss, EMA, augmentation, loader workers, model, superpixels) comes from the bundled
protocol file; the data are synthetic scenes of the protocol's working size and class count
(``benchmarks/_synthetic.py``: rendered once to disk, read back as a decoded-image cache would serve them),
with the protocol's zoom/crop/flip augmentation; the backbone starts from random weights (``weights=none``).
``--protocol default`` runs the embedded default on its own toy dataset.

Per precision, each albench pass is timed beside a bare loop on the same model and images, alternately,
and the fastest of ``--repeats`` passes counts (the machine may be shared):

  train:      ``train_round`` (seeded sampler, targets from the superpixels, augmentation, the protocol's
              loss and EMA) vs a loop over in-memory batches with the same loss and EMA;
  score pool: ``score_pool`` with OREAL's statistic (loading, softmax, per-superpixel reduction) vs a loop
              that only computes the softmax;
  evaluate:   ``confusion_matrix`` vs a loop that only computes the argmax;
  superpixels: the cache's entry (segmentation, histogram, adjacency, compressed write) vs the segmentation
              alone, on one core.

With ``--threads 1`` and no loader workers the clock is the thread's CPU time (other processes do not
inflate it); otherwise wall time. ``--project`` turns the measured rates into hours per seed for each paper
protocol (scaled by pixels per image), beside the paper's 24/8/5/6 GPU-hours.

``--memory`` scores a Cityscapes-size pool (``--memory-images``, default 2,975, at 769², 19 classes, a
300-region grid as superpixels) in a fresh process, and a 100-image pool in another: peak host memory
(VmHWM) and, on a GPU, peak device memory.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _synthetic import SyntheticScenes
from albench_plugins.datasets._transforms import zoom_crop_flip
from torch import nn

from albench.components import Dataset, Sample, Split, SuperpixelMethod
from albench.engine.scoring import ScoreAccumulator
from albench.host.registry import Registry, load_registry
from albench.losses import dense_loss
from albench.run.evaluation import confusion_matrix
from albench.run.execution import Execution
from albench.run.pool_scoring import score_pool
from albench.run.progress import NullProgress
from albench.run.protocol import BenchmarkConfig, Protocol, load_protocol_file
from albench.run.spec import ComponentSpec
from albench.run.superpixel_cache import SuperpixelStore, default_workers
from albench.run.training import LabeledImages, StageModel, train_round

#: Classes, and images in the training set (pool + validation fold) and in the test set, per paper protocol.
#: MONARCH is private; its sizes here are an assumption of the same order as EndoVis's (marked in the table).
DATASETS = {
    "cityscapes": {"classes": 19, "train": 2975, "test": 500, "paper_hours": 24},
    "voc": {"classes": 21, "train": 1464, "test": 1449, "paper_hours": 8},
    "monarch": {"classes": 8, "train": 2000, "test": 0, "paper_hours": 5, "assumed": True},
    "endovis": {"classes": 12, "train": 2235, "test": 997, "paper_hours": 6},
}


class ZoomedScenes(SyntheticScenes):
    """Synthetic scenes with the Cityscapes/VOC augmentation (zoom by ℓ ≤ ``zoom_max``, centre-crop, flip)."""

    zoom_max = 0

    def augment(
        self, image: torch.Tensor, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return zoom_crop_flip(
            image,
            target,
            generator,
            max_extra=self.zoom_max,
            mode="resize",
            flip_probability=0.5,
            ignore_index=self.ignore_index,
        )


@dataclass
class Setup:
    """Everything one benchmark needs: protocol, data, superpixels (cached), model builder."""

    name: str
    protocol: Protocol
    dataset: Dataset
    store: SuperpixelStore
    method: SuperpixelMethod
    build: Callable[[], nn.Module]
    registry: Registry
    config: BenchmarkConfig
    specs: tuple[ComponentSpec, ComponentSpec]  # the dataset's and the superpixels'


def make_setup(args: argparse.Namespace, root: Path) -> Setup:
    registry = load_registry(entry_points=False)
    config = load_protocol_file(args.protocol)
    protocol = config.protocol.replace(threads=args.threads, patience=None)
    if args.workers is not None:
        protocol = protocol.replace(num_workers=args.workers)
    if args.protocol == "default":
        dataset = registry.create("dataset", "toy", {**config.dataset.params}).instance
        dataset_spec = ComponentSpec("dataset", "toy", dict(config.dataset.params), "1", "toy")
        size = dataset.params.image_size
    else:
        size = args.size or int(config.dataset.params["image_size"])
        classes = DATASETS[args.protocol]["classes"]
        dataset = ZoomedScenes(args.data / f"{size}px-{classes}c", size, classes, args.images)
        dataset.zoom_max = int(
            config.dataset.params.get("zoom_max", 0) * size / int(config.dataset.params["image_size"])
        )
        dataset_spec = ComponentSpec(
            "dataset", dataset.name, {"size": size, "classes": classes, "count": args.images}, "1", dataset.name
        )
    method = registry.create("superpixels", config.superpixels.name, config.superpixels.params).instance
    method_spec = ComponentSpec(
        "superpixels", config.superpixels.name, dict(config.superpixels.params), method.version, config.superpixels.name
    )
    store = SuperpixelStore(root / "cache", dataset, method, dataset_spec, method_spec)
    backbone_params = {k: v for k, v in config.backbone.params.items() if k != "weights"}
    if "weights" in config.backbone.params:
        backbone_params["weights"] = "none"  # random weights: nothing to download, same speed
    backbone = registry.create("backbone", config.backbone.name, backbone_params).instance
    name = f"{args.protocol} at {size}², {config.backbone.name}, {dataset.num_classes} classes"
    return Setup(
        name,
        protocol,
        dataset,
        store,
        method,
        lambda: backbone.build(dataset.num_classes),
        registry,
        config,
        (dataset_spec, method_spec),
    )


def clock(args: argparse.Namespace, protocol: Protocol) -> Callable[[], float]:
    cpu = args.threads == 1 and protocol.num_workers == 0 and args.device == "cpu"
    return time.thread_time if cpu else time.perf_counter


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], object], tick: Callable[[], float], device: torch.device) -> float:
    synchronize(device)
    started = tick()
    function()
    synchronize(device)
    return tick() - started


# --- bare loops: the same model and images, in memory, nothing else --------------------------------------------


def in_memory(dataset: Dataset, ids: list[str]) -> torch.Tensor:
    """The images as one ``(N, H, W, 3) uint8`` tensor."""
    return torch.from_numpy(np.stack([dataset.load(i).image for i in ids]))


def bare_train(
    model: nn.Module,
    ema: nn.Module | None,
    images: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    protocol: Protocol,
    execution: Execution,
    ignore_index: int,
) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=protocol.lr)
    gamma = protocol.focal_gamma if protocol.loss == "focal" else None
    batch = protocol.batch_size
    model_floats = [v for v in model.state_dict().values() if v.dtype.is_floating_point]
    ema_floats = [v for v in ema.state_dict().values() if v.dtype.is_floating_point] if ema is not None else []

    def run() -> None:
        model.train()
        for step in range(steps):
            start = (step * batch) % len(images)
            x = execution.images(images[start : start + batch])
            y = execution.to_device(targets[start : start + batch])
            with execution.autocast():
                logits = model(x)
            loss = dense_loss(logits.float(), y, ignore_index, focal_gamma=gamma)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if ema is not None and protocol.ema_decay is not None:
                with torch.no_grad():
                    torch._foreach_mul_(ema_floats, protocol.ema_decay)
                    torch._foreach_add_(ema_floats, model_floats, alpha=1 - protocol.ema_decay)

    return run


def bare_infer(
    model: nn.Module, images: torch.Tensor, batch: int, execution: Execution, argmax: bool
) -> Callable[[], None]:
    @torch.inference_mode()
    def run() -> None:
        model.eval()
        for start in range(0, len(images), batch):
            with execution.autocast():
                logits = model(execution.images(images[start : start + batch]))
            out = logits.argmax(dim=1) if argmax else torch.softmax(logits.float(), dim=1)
            del out

    return run


# --- the benchmark ------------------------------------------------------------------------------------------------


def labeled_items(setup: Setup, ids: list[str], fraction: float, seed: int) -> list[tuple[str, np.ndarray]]:
    """Each image with a random ``fraction`` of its regions labeled (a mid-run labeled set)."""
    rng = np.random.default_rng(seed)
    items = []
    for image_id in ids:
        regions = setup.store.get(image_id).num_regions
        items.append((image_id, np.flatnonzero(rng.random(regions) < fraction)))
    return items


Pass = tuple[str, Callable[[], object], Callable[[], object], int]  # name, albench, bare, images per call


def variant_passes(setup: Setup, args: argparse.Namespace, precision: str, channels_last: bool) -> list[Pass]:
    """The timed passes of one variant (precision and memory order), albench beside bare."""
    device = torch.device(args.device)
    protocol = setup.protocol.replace(precision=precision, channels_last=channels_last)
    execution = Execution.of(protocol, device)
    ids = list(setup.dataset.image_ids())[: args.images]
    list(setup.store.ensure(ids))  # superpixels cached before anything is timed
    torch.manual_seed(0)
    model = execution.prepare(setup.build())
    stage_model = StageModel(model, protocol.ema_decay)
    bare_model = copy.deepcopy(model)
    bare_ema = copy.deepcopy(model) if protocol.ema_decay is not None else None
    labeling = setup.registry.create("labeling", setup.config.labeling.name, setup.config.labeling.params).instance
    stage = labeling.stages(setup.dataset.num_classes)[0]
    items = labeled_items(setup, ids, 0.3, seed=1)
    data = LabeledImages(setup.dataset, setup.store, stage, items, protocol.augment)
    steps = args.steps
    train_protocol = protocol.replace(steps=steps)
    images = in_memory(setup.dataset, ids)
    targets = torch.stack(
        [torch.from_numpy(np.asarray(data.target(i, labeled), dtype=np.int64)) for i, labeled in items]
    )
    statistics = setup.registry.create("strategy", "oreal", {}).instance.statistics(setup.dataset.num_classes)

    def albench_train() -> None:
        train_round(
            stage_model,
            data,
            train_protocol,
            seed=7,
            device=device,
            progress=NullProgress(),
            description="train",
        )

    def albench_score() -> None:
        score_pool(
            stage_model.eval_model,
            setup.dataset,
            setup.store,
            ids,
            statistics,
            batch_size=protocol.score_batch_size,
            device=device,
            progress=NullProgress(),
            execution=execution,
            workers=protocol.num_workers,
        )

    def albench_eval() -> None:
        confusion_matrix(
            stage_model.eval_model,
            setup.dataset,
            ids,
            batch_size=protocol.eval_batch_size,
            device=device,
            progress=NullProgress(),
            execution=execution,
            workers=protocol.num_workers,
        )

    passes: list[Pass] = [
        (
            "train",
            albench_train,
            bare_train(bare_model, bare_ema, images, targets, steps, protocol, execution, setup.dataset.ignore_index),
            steps * protocol.batch_size,
        ),
        (
            "score pool",
            albench_score,
            bare_infer(bare_model, images, protocol.score_batch_size, execution, False),
            len(ids),
        ),
        ("evaluate", albench_eval, bare_infer(bare_model, images, protocol.eval_batch_size, execution, True), len(ids)),
    ]
    return passes


def measure(setup: Setup, args: argparse.Namespace) -> dict[str, list[tuple[str, float, float]]]:
    """Per variant, (pass, albench images/s, bare images/s): every pass of every variant timed in turn, each
    repeat going through all of them, so a busy spell of a shared machine hits them alike."""
    device = torch.device(args.device)
    tick = clock(args, setup.protocol)
    variants = {variant_name(p, cl): (p, cl) for cl in layouts(args) for p in args.precision}
    passes = {name: variant_passes(setup, args, p, cl) for name, (p, cl) in variants.items()}
    first = next(iter(passes))
    ids = list(setup.dataset.image_ids())[: args.images]
    sample = setup.dataset.load(ids[0])
    entry_store = SuperpixelStore(Path(tempfile.mkdtemp()), setup.dataset, setup.method, *setup.specs)
    passes[first].append(
        (
            "superpixels (1 core)",
            lambda: entry_store.compute(ids[0], "f"),
            lambda: setup.method.segment(sample.image),
            1,
        )
    )
    best = {(v, name): [math.inf, math.inf] for v, rows in passes.items() for name, *_ in rows}
    for rows in passes.values():  # warm-up: allocator, kernels, numba
        for _name, ours, bare, _ in rows:
            ours()
            bare()
    for _ in range(args.repeats):
        for v, rows in passes.items():
            for name, ours, bare, _ in rows:
                if name.startswith("superpixels"):
                    best[v, name][0] = min(best[v, name][0], _thread_timed(ours))
                    best[v, name][1] = min(best[v, name][1], _thread_timed(bare))
                    continue
                best[v, name][0] = min(best[v, name][0], timed(ours, tick, device))
                best[v, name][1] = min(best[v, name][1], timed(bare, tick, device))
    share = scoring_share(passes[first])
    print(
        f"per-superpixel scoring (ScoreAccumulator.add): {100 * share:.1f}% of the {first} score-pool pass's "
        f"thread CPU time; scoring a batch's images in {default_workers()} threads could save at most "
        f"{100 * share * (1 - 1 / default_workers()):.1f}% of that pass"
    )
    return {
        v: [(name, count / best[v, name][0], count / best[v, name][1]) for name, _, _, count in rows]
        for v, rows in passes.items()
    }


def layouts(args: argparse.Namespace) -> list[bool]:
    return [False, True] if args.channels_last else [False]


def variant_name(precision: str, channels_last: bool) -> str:
    return f"{precision}{' channels-last' if channels_last else ''}"


class ScoringClock:
    """Thread CPU time spent in ``ScoreAccumulator.add`` (the per-superpixel reduction) while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = ScoreAccumulator.add

    def __enter__(self) -> ScoringClock:
        original, clock = self._original, self

        def add(accumulator: ScoreAccumulator, *args: Any) -> None:
            started = time.thread_time()
            original(accumulator, *args)
            clock.seconds += time.thread_time() - started

        ScoreAccumulator.add = add  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ScoreAccumulator.add = self._original  # type: ignore[method-assign]


def scoring_share(passes: list[Pass]) -> float:
    """The share of the albench score-pool pass's thread CPU time spent reducing per superpixel."""
    ours = next(p[1] for p in passes if p[0] == "score pool")
    with ScoringClock() as clock:
        started = time.thread_time()
        ours()
        total = time.thread_time() - started
    return clock.seconds / total


def _thread_timed(function: Callable[[], object]) -> float:
    started = time.thread_time()
    function()
    return time.thread_time() - started


def report(setup: Setup, args: argparse.Namespace, results: dict[str, list[tuple[str, float, float]]]) -> None:
    tick = "thread CPU time" if clock(args, setup.protocol) is time.thread_time else "wall time"
    print(
        f"\n{setup.name}; batch {setup.protocol.batch_size} (train), {setup.protocol.score_batch_size} (score), "
        f"{setup.protocol.eval_batch_size} (evaluate); loss {setup.protocol.loss}, EMA {setup.protocol.ema_decay}, "
        f"{setup.protocol.num_workers} loader workers; {args.images} images, {args.steps} training steps per pass; "
        f"{tick}, fastest of {args.repeats} interleaved passes\n"
    )
    print("| pass | variant | albench images/s | bare images/s | albench ÷ bare |")
    print("|---|---|---:|---:|---:|")
    for variant, rows in results.items():
        for name, ours, bare in rows:
            print(f"| {name} | {variant} | {ours:.2f} | {bare:.2f} | {ours / bare:.2f} |")
    rate = {(v, name): ours for v, rows in results.items() for name, ours, _ in rows}
    if "fp32" in results:
        worst = min(ours / bare for name, ours, bare in results["fp32"] if not name.startswith("superpixels"))
        verdict = "met" if worst >= 0.9 else "NOT met"
        print(f"\nfp32: albench at ≥ {worst:.2f}× the bare loops' throughput (goal ≥ 0.90×): {verdict}")
    for layout in ("", " channels-last"):
        if f"fp32{layout}" in results and f"bf16{layout}" in results:
            print(
                f"bf16{layout} ÷ fp32{layout}, albench: train {rate[f'bf16{layout}', 'train'] / rate[f'fp32{layout}', 'train']:.2f}×, "
                f"score pool {rate[f'bf16{layout}', 'score pool'] / rate[f'fp32{layout}', 'score pool']:.2f}×, "
                f"evaluate {rate[f'bf16{layout}', 'evaluate'] / rate[f'fp32{layout}', 'evaluate']:.2f}× "
                "(goal on a GPU: train ≥ 1.8×)"
            )
    for precision in args.precision:
        if f"{precision} channels-last" in results:
            cl, plain = f"{precision} channels-last", precision
            print(
                f"channels-last ÷ contiguous, {precision}, albench: train {rate[cl, 'train'] / rate[plain, 'train']:.2f}×, "
                f"score pool {rate[cl, 'score pool'] / rate[plain, 'score pool']:.2f}×, "
                f"evaluate {rate[cl, 'evaluate'] / rate[plain, 'evaluate']:.2f}×"
            )


def project(setup: Setup, args: argparse.Namespace, rows: list[tuple[str, float, float]], variant: str) -> None:
    """Hours per seed for each paper protocol from the measured rates, scaled by pixels per image."""
    rates = {name: ours for name, ours, _ in rows}
    measured_pixels = setup.dataset.load(setup.dataset.image_ids()[0]).image.shape[0] ** 2
    cores = default_workers()
    print(
        f"\nProjection from these rates ({args.device}, {variant}), scaled by pixels per image; training "
        "steps at each protocol's cap (early stopping usually ends a round sooner), a validation pass every "
        "eval_every steps, the pool scored before rounds 1-5, the test set evaluated every round, superpixels "
        f"once on {cores} cores:\n"
    )
    print("| protocol | size | steps × batch per round | hours per seed (projected) | paper (RTX 3090 Ti) |")
    print("|---|---:|---:|---:|---:|")
    for name, info in DATASETS.items():
        protocol = load_protocol_file(name).protocol
        size = int(load_protocol_file(name).dataset.params["image_size"])
        scale = size * size / measured_pixels
        train, val = info["train"], math.ceil(info["train"] / 6)
        pool = train - val
        test = info["test"] or val
        per_round = (
            protocol.steps * protocol.batch_size / rates["train"]
            + protocol.steps / protocol.eval_every * val / rates["evaluate"]
            + test / rates["evaluate"]
        ) * scale
        scoring = (protocol.rounds - 1) * pool / rates["score pool"] * scale
        superpixels = train / (rates["superpixels (1 core)"] * cores) * scale
        hours = (protocol.rounds * per_round + scoring + superpixels) / 3600
        mark = " (sizes assumed: private data)" if info.get("assumed") else ""
        print(
            f"| {name}{mark} | {size}² | {protocol.steps:,} × {protocol.batch_size} | {hours:,.1f} | {info['paper_hours']} |"
        )


# --- which layers autocast keeps in float32 -------------------------------------------------------------------------


def autocast_report(setup: Setup, args: argparse.Namespace) -> None:
    """Run one training step under bf16 autocast and list, per layer type, the dtype of its outputs: the layers
    autocast keeps in float32 (its float32 list, or ops without a bf16 kernel) show as float32."""
    device = torch.device(args.device)
    execution = Execution(device, "bf16", args.channels_last)
    model = execution.prepare(setup.build()).train()
    seen: dict[str, set[str]] = {}

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.is_floating_point():
            seen.setdefault(type(module).__name__, set()).add(str(output.dtype).removeprefix("torch."))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    image = torch.from_numpy(setup.dataset.load(setup.dataset.image_ids()[0]).image)[None].repeat(2, 1, 1, 1)
    with execution.autocast():
        logits = model(execution.images(image))
    target = torch.zeros(logits.shape[0], *logits.shape[2:], dtype=torch.int64, device=device)
    dense_loss(logits.float(), target, setup.dataset.ignore_index, focal_gamma=2.0).backward()  # type: ignore[no-untyped-call]
    for handle in handles:
        handle.remove()
    print(
        f"\nbf16 autocast on {args.device}, {setup.name}: output dtype per layer type (forward of one training "
        "step, deterministic algorithms on; the backward ran without a nondeterminism error)\n"
    )
    print("| layer | output dtype |")
    print("|---|---|")
    for name in sorted(seen):
        print(f"| {name} | {', '.join(sorted(seen[name]))} |")
    print(f"| (logits) | {str(logits.dtype).removeprefix('torch.')} |")


# --- peak memory of a Cityscapes-size pool -----------------------------------------------------------------------


class NoiseImages(Dataset):
    """``count`` random images of ``size``², generated on load (no disk), masks of ``classes`` ids."""

    name = "noise-images"

    def __init__(self, size: int, classes: int, count: int) -> None:
        super().__init__(None)
        self.size, self.count = size, count
        self.classes = tuple(f"class-{i}" for i in range(classes))

    def image_ids(self) -> list[str]:
        return [f"image-{i:05d}" for i in range(self.count)]

    def load(self, image_id: str) -> Sample:
        rng = np.random.default_rng(int(image_id.split("-")[1]))
        image = rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)
        mask = np.repeat(np.arange(self.size) * self.num_classes // self.size, self.size).reshape(self.size, self.size)
        return Sample(image, mask.T.astype(np.int64))

    def fingerprint(self, image_id: str) -> str:
        return image_id

    def split(self, seed: int) -> Split:
        ids = tuple(self.image_ids())
        return Split(pool=ids, val=ids[:1])


class Grid(SuperpixelMethod):
    """Square cells, about ``regions`` per image: superpixels that cost nothing to compute."""

    name = "grid"

    def __init__(self, regions: int) -> None:
        super().__init__(None)
        self.regions = regions

    def segment(self, image: np.ndarray) -> np.ndarray:
        side = max(1, round(image.shape[0] / math.sqrt(self.regions)))
        rows = np.arange(image.shape[0]) // side
        columns = np.arange(image.shape[1]) // side
        return rows[:, None] * (columns.max() + 1) + columns[None, :]


def memory_worker(
    images: int, size: int, regions: int, device_name: str, model_name: str, batch: int, precision: str
) -> dict[str, Any]:
    """Score a pool in this (fresh) process; report peak host and device memory."""
    torch.set_num_threads(default_workers())
    device = torch.device(device_name)
    dataset = NoiseImages(size, 19, images)
    with tempfile.TemporaryDirectory() as cache:
        store = SuperpixelStore(
            Path(cache),
            dataset,
            Grid(regions),
            ComponentSpec("dataset", dataset.name, {"n": images, "size": size}, "1", dataset.name),
            ComponentSpec("superpixels", "grid", {"regions": regions}, "1", "grid"),
        )
        registry = load_registry(entry_points=False)
        if model_name == "conv":
            model: nn.Module = nn.Conv2d(3, 19, 1)
        else:
            model = registry.create("backbone", model_name, {"weights": "none"}).instance.build(19)
        model = model.to(device).eval()
        statistics = registry.create("strategy", "oreal", {}).instance.statistics(19)
        execution = Execution(device, precision)  # type: ignore[arg-type]
        from albench.run.pool import Pool

        pool = Pool.build(store, tuple(dataset.image_ids()))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        region_stats, _ = score_pool(
            model,
            dataset,
            store,
            dataset.image_ids(),
            statistics,
            batch_size=batch,
            device=device,
            progress=NullProgress(),
            execution=execution,
        )
        seconds = time.perf_counter() - started
        results_mib = sum(v.nbytes for v in region_stats.values()) / 2**20
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    hwm = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM")), math.nan)
    device_mib = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else math.nan
    return {
        "images": images,
        "regions": pool.num_regions,
        "peak_host_mib": hwm,
        "peak_device_mib": device_mib,
        "results_mib": results_mib,
        "seconds": seconds,
    }


def measure_memory(args: argparse.Namespace) -> None:
    model = args.memory_model or ("deeplabv3-resnet50" if args.device == "cuda" else "conv")
    runs = []
    for images in (100, args.memory_images):
        command = [
            sys.executable,
            __file__,
            "--memory-worker",
            str(images),
            "--device",
            args.device,
            "--memory-model",
            model,
            "--precision",
            args.precision[0],
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    print(
        f"\nPeak memory scoring a pool of 769² images, 19 classes, ~300 grid superpixels, OREAL's statistic, "
        f"model {model}, batch 8, {args.precision[0]}, {args.device} (each pool in a fresh process):\n"
    )
    print("| pool | regions | peak host RSS (MiB) | of which region results (MiB) | peak device (MiB) | s |")
    print("|---|---:|---:|---:|---:|---:|")
    for run in runs:
        device = "n/a" if math.isnan(run["peak_device_mib"]) else f"{run['peak_device_mib']:.0f}"
        print(
            f"| {run['images']:,} images | {run['regions']:,} | {run['peak_host_mib']:.0f} | {run['results_mib']:.1f} | "
            f"{device} | {run['seconds']:.0f} |"
        )
    small, large = runs
    print(
        f"\npeak host RSS {large['images']:,} ÷ {small['images']} images: "
        f"{large['peak_host_mib'] / small['peak_host_mib']:.2f}× for {large['images'] / small['images']:.0f}× the "
        f"pixels (the growth is the per-region results: {large['results_mib'] - small['results_mib']:.1f} MiB)"
    )


# --- main -----------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="voc", choices=["voc", "cityscapes", "endovis", "monarch", "default"])
    parser.add_argument("--size", type=int, default=None, help="working size (reduced mode); default: the protocol's")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--channels-last", action="store_true", help="also time each precision in channels-last order")
    parser.add_argument("--threads", type=int, default=default_workers(), help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=None, help="loader workers (default: the protocol's)")
    parser.add_argument("--images", type=int, default=32, help="pool images scored and evaluated (and trained on)")
    parser.add_argument("--steps", type=int, default=8, help="training steps per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", action="store_true", help="hours per seed for each paper protocol")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "albench-bench-scenes")
    parser.add_argument("--memory", action="store_true", help="peak memory of a Cityscapes-size pool")
    parser.add_argument("--autocast-report", action="store_true", help="which layers bf16 autocast keeps in float32")
    parser.add_argument("--memory-images", type=int, default=2975)
    parser.add_argument("--memory-model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker is not None:
        print(
            json.dumps(
                memory_worker(args.memory_worker, 769, 300, args.device, args.memory_model, 8, args.precision[0])
            )
        )
        return
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"{card}; {default_workers()} CPU cores, {args.threads} torch thread(s); torch {torch.__version__}")
    if args.memory:
        measure_memory(args)
        return
    with scratch() as root:
        setup = make_setup(args, root)
        if args.autocast_report:
            autocast_report(setup, args)
            return
        results = measure(setup, args)
        report(setup, args, results)
        if args.project and args.protocol != "default":
            for variant, rows in results.items():
                project(setup, args, rows + results[next(iter(results))][-1:], variant)


if __name__ == "__main__":
    main()
