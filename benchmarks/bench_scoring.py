"""Time the superpixel scoring engine against a naive per-region loop and a floor; measure its memory.

    .venv/bin/python benchmarks/bench_scoring.py                      # VOC and Cityscapes scale, 1 thread
    .venv/bin/python benchmarks/bench_scoring.py --isa avx2           # the same, compiled for AVX2 (see below)
    .venv/bin/python benchmarks/bench_scoring.py --isa both           # host ISA, then AVX2: one table of both
    .venv/bin/python benchmarks/bench_scoring.py --images 8 --repeats 5 --threads 2
    .venv/bin/python benchmarks/bench_scoring.py --skip-memory --scales voc

A synthetic pool per scale: Pascal VOC (513×513, 21 classes, ~1,000 superpixels) and Cityscapes (769×769,
19 classes, ~2,048 superpixels, the SEEDS setting of the baselines' papers). Superpixels are a Voronoi
diagram of random seeds under a smooth random warp: irregular, compact regions of uneven size, some split
in two. Softmax maps come from random logits at output stride 8, upsampled bilinearly, as DeepLabV3's;
``--noise iid`` draws every pixel independently instead. Per image, excluding the model forward:

  (a) naive: OVR entropy of the whole map, then one boolean mask per superpixel (published research code);
  (b) engine: ``ScoreAccumulator.add`` with OREAL's statistic (OvrEntropy, max) on the whole batch of
      images, as ``score_pool`` calls it, on pixel-major (channels-last) probabilities;
  (b-cm) the same on channel-major probabilities, the layout torch's CPU softmax writes;
  (b') scatter: OVR entropy of every pixel, then one ``scatter_reduce`` (the engine's path on other devices);
  (c) floor: one read of the probability tensor (``probs.sum()``).

Mean and p95 aggregation are timed too. Both engine layouts are checked against the per-pixel maxima first:
the number of differing values is printed (it must be 0). Each figure is the fastest of ``--repeats``
passes over the images (ms per image): the machine may be shared, and the fastest pass is the least
disturbed one. With one thread the clock is the thread's CPU time by default (``--clock``), which other
processes do not inflate.

``--isa avx2`` runs the whole benchmark in a fresh process whose numba kernels are compiled for Haswell
(AVX2, no AVX-512: ``NUMBA_CPU_NAME=haswell``) and whose torch kernels use AVX2 (``ATEN_CPU_CAPABILITY``):
the AVX2 figures on an AVX-512 machine. The header says which instruction sets were used. ``--isa both``
runs the host's and then the AVX2 benchmark, each in its own process, and prints one table of both, scales
side by side (the README's).

Memory: a pool of ``--memory-images`` small synthetic images (default 1,000 of 96×96, 21 classes, ~40
superpixels, generated batch by batch and dropped) is scored in a fresh process and compared with a
10-image pool: peak resident set size (VmHWM, or ``ru_maxrss``) and the peak of Python-heap allocations
(``tracemalloc``, which sees NumPy results but not torch's pixel buffers).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from albench.engine.scoring import ScoreAccumulator, aggregate_by_superpixel
from albench.statistics import Aggregation, RegionStatistic
from albench.uncertainty import OvrEntropy, ovr_entropy


@dataclass(frozen=True)
class Scale:
    name: str
    size: int
    classes: int
    superpixels: int


SCALES = {"voc": Scale("Pascal VOC", 513, 21, 1000), "cityscapes": Scale("Cityscapes", 769, 19, 2048)}


def superpixel_map(size: int, regions: int, generator: np.random.Generator) -> np.ndarray:
    """``(size, size) int32`` ids 0..K-1: Voronoi cells of random seeds under a smooth random warp."""
    cell = size / math.sqrt(regions)
    warp = torch.nn.functional.interpolate(
        torch.from_numpy(generator.standard_normal((1, 2, 9, 9))),
        size=(size, size),
        mode="bicubic",
        align_corners=True,
    )[0].numpy() * (0.6 * cell)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    points = np.stack([(yy + warp[0]).ravel(), (xx + warp[1]).ravel()], axis=1)
    seeds = generator.uniform(0, size, size=(regions, 2))
    _, nearest = cKDTree(seeds).query(points, workers=1)
    _, labels = np.unique(nearest, return_inverse=True)
    return labels.reshape(size, size).astype(np.int32)


def softmax_map(size: int, classes: int, noise: str, generator: torch.Generator) -> torch.Tensor:
    """``(1, C, size, size)`` float32 probabilities."""
    if noise == "iid":
        logits = torch.randn(1, classes, size, size, generator=generator) * 3
    else:
        low = torch.randn(1, classes, size // 8 + 1, size // 8 + 1, generator=generator) * 4
        logits = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return torch.softmax(logits, dim=1).contiguous()


def naive(probs: torch.Tensor, labels: torch.Tensor, how: str) -> torch.Tensor:
    """Per-region loop with boolean masks, as the OREAL authors' (and most published) code does it."""
    entropy = ovr_entropy(probs[0])
    rows = []
    for region in torch.unique(labels):
        values = entropy[:, labels == region]
        if how == "max":
            rows.append(values.amax(dim=1))
        elif how == "mean":
            rows.append(values.mean(dim=1))
        else:
            rows.append(torch.quantile(values, 0.95, dim=1))
    return torch.stack(rows)


def engine(probs: torch.Tensor, labels: list[np.ndarray], how: Aggregation) -> dict[str, np.ndarray]:
    """What ``score_pool`` does with one batch of images once the model has produced ``probs``."""
    accumulator = ScoreAccumulator([RegionStatistic("scores", OvrEntropy(), how)], probs.shape[1])
    accumulator.add(probs, torch.from_numpy(np.stack(labels)), [int(lab.max()) + 1 for lab in labels])
    return accumulator.region_results()


def scatter(probs: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """OVR entropy of every pixel, then one ``scatter_reduce`` to the regions (the path on other devices)."""
    pixels = probs[0].permute(1, 2, 0).reshape(-1, probs.shape[1])
    regions = torch.from_numpy(labels.reshape(-1).astype(np.int64))
    return aggregate_by_superpixel(ovr_entropy(pixels), regions, int(labels.max()) + 1, "max")


def differing(probs: torch.Tensor, labels: list[np.ndarray]) -> int:
    """How many of the engine's maxima differ from the per-pixel maxima of torch's float32 H_c."""
    result = engine(probs, labels, "max")["scores"]
    count = 0
    for image, lab in enumerate(labels):
        pixels = probs[image].permute(1, 2, 0).reshape(-1, probs.shape[1])
        values, flat = ovr_entropy(pixels).numpy(), lab.reshape(-1)
        order = np.argsort(flat, kind="stable")
        starts = np.searchsorted(flat[order], np.arange(int(lab.max()) + 1))
        reference = np.maximum.reduceat(values[order], starts, axis=0).astype(np.float64)
        offset = sum(int(other.max()) + 1 for other in labels[:image])
        count += int((result[offset : offset + len(starts)] != reference).sum())
    return count


def best_ms(run: Callable[[int], object], images: int, repeats: int, clock: Callable[[], float]) -> float:
    """Milliseconds per image of the fastest of ``repeats`` passes over the images (after a warm-up)."""
    return best_batch_ms(lambda: [run(index) for index in range(images)], images, repeats, clock)


def best_batch_ms(run: Callable[[], object], images: int, repeats: int, clock: Callable[[], float]) -> float:
    """Milliseconds per image of the fastest of ``repeats`` calls of ``run``, which handles all the images."""
    run()
    best = math.inf
    for _ in range(repeats):
        started = clock()
        run()
        best = min(best, (clock() - started) / images)
    return best * 1e3


FLOOR, PIXEL_MAJOR, CHANNEL_MAJOR, NAIVE = (
    "(c) floor: probs.sum()",
    "(b) engine, max",
    "(b-cm) engine, max",
    "(a) naive, max",
)


def time_scale(scale: Scale, args: argparse.Namespace, clock: Callable[[], float]) -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    labels = [superpixel_map(scale.size, scale.superpixels, rng) for _ in range(args.images)]
    probs = [softmax_map(scale.size, scale.classes, args.noise, generator) for _ in range(args.images)]
    batch = torch.cat(probs)  # score_pool hands the engine whole batches of same-sized images
    pixel_major = batch.contiguous(memory_format=torch.channels_last)
    wrong = differing(pixel_major, labels) + differing(batch, labels)
    print(
        f"\n{scale.name}: engine maxima differing from the per-pixel maxima of torch's H_c: {wrong} "
        f"(both layouts, {args.images} images)"
    )
    assert wrong == 0, "the engine's maxima are not the per-pixel maxima"
    tensors = [torch.from_numpy(lab) for lab in labels]
    n, few, repeats = args.images, min(args.images, args.naive_images), args.repeats
    return [
        (FLOOR, best_batch_ms(lambda: batch.sum(), n, repeats, clock)),
        (PIXEL_MAJOR, best_batch_ms(lambda: engine(pixel_major, labels, "max"), n, repeats, clock)),
        (CHANNEL_MAJOR, best_batch_ms(lambda: engine(batch, labels, "max"), n, repeats, clock)),
        ("(b') scatter, max", best_ms(lambda i: scatter(probs[i], labels[i]), n, repeats, clock)),
        (NAIVE, best_ms(lambda i: naive(probs[i], tensors[i], "max"), few, 1, clock)),
        ("(b) engine, mean", best_batch_ms(lambda: engine(batch, labels, "mean"), n, repeats, clock)),
        ("(a) naive, mean", best_ms(lambda i: naive(probs[i], tensors[i], "mean"), few, 1, clock)),
        ("(b) engine, p95", best_batch_ms(lambda: engine(batch, labels, "p95"), n, 1, clock)),
        ("(a) naive, p95", best_ms(lambda i: naive(probs[i], tensors[i], "p95"), few, 1, clock)),
    ]


def print_timings(scale: Scale, rows: list[tuple[str, float]]) -> None:
    times = dict(rows)
    floor = times[FLOOR]
    print(f"\n{scale.name}: {scale.size}×{scale.size}, {scale.classes} classes, ~{scale.superpixels} superpixels\n")
    print("| measurement | ms / image | ÷ floor (c) | naive (a) ÷ this |")
    print("|---|---:|---:|---:|")
    for name, ms in rows:
        how = name.rsplit(", ", 1)[-1] if ", " in name else None
        naive_ms = times.get(f"(a) naive, {how}") if how else None
        speedup = f"{naive_ms / ms:.1f}×" if naive_ms and not name.startswith("(a)") else ""
        print(f"| {name} | {ms:.2f} | {ms / floor:.1f}× | {speedup} |")
    a = times[NAIVE]
    for label, b in (("pixel-major", times[PIXEL_MAJOR]), ("channel-major", times[CHANNEL_MAJOR])):
        verdict = "met" if a / b >= 10 and b / floor <= 5 else "NOT met"
        print(
            f"\noreal-max, {label}: (a)/(b) = {a / b:.1f}× (target ≥ 10×), (b)/(c) = {b / floor:.1f}× "
            f"(target ≤ 5×): {verdict}"
        )


#: The ratios the issue sets targets for, (a)/(b) ≥ 10× and (b)/(c) ≤ 5×, on both layouts: (name, numerator,
#: denominator).
RATIOS = [
    ("**OREAL max: (a) / (b)**, pixel-major, target ≥ 10×", NAIVE, PIXEL_MAJOR),
    ("**OREAL max: (a) / (b-cm)**, channel-major, target ≥ 10×", NAIVE, CHANNEL_MAJOR),
    ("**OREAL max: (b) / (c)**, pixel-major, target ≤ 5×", PIXEL_MAJOR, FLOOR),
    ("**OREAL max: (b-cm) / (c)**, channel-major, target ≤ 5×", CHANNEL_MAJOR, FLOOR),
]


def print_combined(runs: list[dict]) -> None:
    """One table of every scale measured by every process (``--isa both``): milliseconds, then the ratios."""
    columns = [(run["isa"], key, dict(run["timings"][key])) for key in SCALES for run in runs if key in run["timings"]]
    print("\nBoth instruction sets, ms per image (each the fastest pass, as above)\n")
    print("| ms per image | " + " | ".join(f"{SCALES[key].name}, {isa}" for isa, key, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in columns[0][2]:
        print(f"| {name} | " + " | ".join(f"{times[name]:.2f}" for _, _, times in columns) + " |")
    for name, numerator, denominator in RATIOS:
        ratios = (times[numerator] / times[denominator] for _, _, times in columns)
        print(f"| {name} | " + " | ".join(f"**{ratio:.1f}×**" for ratio in ratios) + " |")


def isa_label() -> str:
    """AVX-512, AVX2 or SSE: the widest vectors numba compiles the kernels for in this process."""
    import llvmlite.binding as llvm
    from numba.core import config

    host = llvm.get_host_cpu_features()
    if config.CPU_NAME:
        return "AVX-512" if "+avx512f" in str(config.CPU_FEATURES or "") else "AVX2"
    return "AVX-512" if host.get("avx512f") else "AVX2" if host.get("avx2") else "SSE"


def instruction_sets() -> str:
    """The CPU, and the vector instruction sets numba compiles for and torch runs with."""
    import llvmlite.binding as llvm
    from numba.core import config

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    host = llvm.get_host_cpu_features()
    target = f"{config.CPU_NAME} (NUMBA_CPU_NAME)" if config.CPU_NAME else llvm.get_host_cpu_name()
    host_isa = "AVX-512" if host.get("avx512f") else "AVX2" if host.get("avx2") else "SSE"
    return (
        f"{model} (host: {host_isa}); numba kernels compiled for {target}: {isa_label()}; torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}"
    )


def memory_worker(images: int, size: int, batch: int) -> dict[str, float]:
    """Score a streamed pool of ``images`` small images in this process; peak memory in MiB."""
    rng = np.random.default_rng(1)
    maps = [superpixel_map(size, 40, rng) for _ in range(16)]  # cycled: label maps are cached data anyway
    generator = torch.Generator().manual_seed(1)
    statistics = [RegionStatistic("max", OvrEntropy(), "max"), RegionStatistic("mean", OvrEntropy(), "mean")]
    accumulator = ScoreAccumulator(statistics, 21)
    tracemalloc.start()
    for start in range(0, images, batch):
        count = min(batch, images - start)
        probs = torch.cat([softmax_map(size, 21, "smooth", generator) for _ in range(count)])
        chosen = [maps[(start + i) % len(maps)] for i in range(count)]
        accumulator.add(probs, torch.from_numpy(np.stack(chosen)), [int(m.max()) + 1 for m in chosen])
    results = accumulator.region_results()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    regions = next(iter(results.values())).shape[0]
    result_bytes = sum(array.nbytes for array in results.values())
    return {
        "images": images,
        "regions": regions,
        "peak_rss_mib": peak_rss_mib(),
        "traced_peak_mib": traced_peak / 2**20,
        "results_mib": result_bytes / 2**20,
    }


def peak_rss_mib() -> float:
    """This process's peak resident set size: VmHWM where Linux has it (``ru_maxrss`` survives ``exec``
    and would report the parent's peak), ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    unit = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def measure_memory(args: argparse.Namespace) -> None:
    runs = []
    for images in (10, args.memory_images):
        command = [
            sys.executable,
            __file__,
            "--memory-worker",
            str(images),
            "--memory-size",
            str(args.memory_size),
            "--threads",
            str(args.threads),
        ]
        runs.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    small, large = runs
    print(
        f"\nMemory: streamed pools of {args.memory_size}×{args.memory_size} images, 21 classes, ~40 superpixels "
        "(OREAL max and mean), each pool in a fresh process\n"
    )
    print("| pool | regions | peak RSS (MiB) | peak Python heap (MiB) | of which results (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run['images']:,} images | {run['regions']:,} | {run['peak_rss_mib']:.1f} | "
            f"{run['traced_peak_mib']:.2f} | {run['results_mib']:.2f} |"
        )
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    pixels_mib = args.memory_images * args.memory_size**2 * 21 * 4 / 2**20
    print(
        f"\npeak RSS ratio {large['images']:,} / {small['images']} images = {ratio:.2f}× (target ≤ 1.5×); "
        f"holding the pool's probabilities would take {pixels_mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", choices=sorted(SCALES), default=["voc", "cityscapes"])
    parser.add_argument("--images", type=int, default=4, help="synthetic images per scale")
    parser.add_argument("--naive-images", type=int, default=2, help="images timed for the (slow) naive loop")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the images; the fastest counts")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (fixed, as the protocol fixes them)")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="thread CPU time (default with one thread) or wall time (default otherwise)",
    )
    parser.add_argument("--noise", choices=["smooth", "iid"], default="smooth")
    parser.add_argument(
        "--isa",
        choices=["host", "avx2", "both"],
        default="host",
        help="avx2: rerun in a process compiled for AVX2 (numba: Haswell; torch: AVX2 kernels); both: host, "
        "then AVX2, and one table of both",
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-images", type=int, default=1000)
    parser.add_argument("--memory-size", type=int, default=96)
    parser.add_argument("--memory-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)  # where a child of --isa both reports
    args = parser.parse_args()

    if args.isa == "both":
        runs = []
        for isa in ("host", "avx2"):
            with tempfile.TemporaryDirectory() as folder:
                report = os.path.join(folder, "timings.json")
                child = [a for a in sys.argv[1:] if a not in ("both", "--isa", "--isa=both")]
                done = subprocess.run(
                    [sys.executable, __file__, *child, "--isa", isa, "--skip-memory", "--json", report]
                )
                if done.returncode:
                    sys.exit(done.returncode)
                with open(report) as file:
                    runs.append(json.load(file))
        print_combined(runs)
        if not args.skip_memory:
            torch.set_num_threads(args.threads)
            measure_memory(args)
        return

    if args.isa == "avx2" and os.environ.get("NUMBA_CPU_NAME") != "haswell":
        environment = {
            **os.environ,
            "NUMBA_CPU_NAME": "haswell",
            "NUMBA_CPU_FEATURES": "",
            "ATEN_CPU_CAPABILITY": "avx2",
        }
        sys.exit(subprocess.run([sys.executable, *sys.argv], env=environment).returncode)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    if args.memory_worker is not None:
        print(json.dumps(memory_worker(args.memory_worker, args.memory_size, 32)))
        return
    clock_name = args.clock or ("cpu" if args.threads == 1 else "wall")
    clock = time.thread_time if clock_name == "cpu" else time.perf_counter
    print(instruction_sets())
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), "
        f"{clock_name} clock, {args.images} images per scale, fastest of {args.repeats} passes, {args.noise} maps"
    )
    timings = {}
    for key in args.scales:
        timings[key] = time_scale(SCALES[key], args, clock)
        print_timings(SCALES[key], timings[key])
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"isa": isa_label(), "timings": timings}, file)
    if not args.skip_memory:
        measure_memory(args)


if __name__ == "__main__":
    main()
