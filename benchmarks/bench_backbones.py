"""Time one training step (forward + backward) of each backbone, as the runner does it.

    python benchmarks/bench_backbones.py                       # every backbone at 64² and 513², batch 1
    python benchmarks/bench_backbones.py --sizes 224 --device cuda --batch 4

Deterministic algorithms on and a fixed thread count (the runner's settings); one warm-up step per model,
then the median and minimum of ``--repeats`` steps (on a shared machine the minimum is the steadier figure). ``deeplabv3-vit`` is built for each size (``img_size``).
Prints a markdown table; nothing is downloaded (random initialisation).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from albench.host.registry import load_registry

BACKBONES = ("tiny-deeplab", "deeplabv3-resnet50", "deeplabv3-resnet101", "deeplabv3-vit")
NUM_CLASSES = 21


def step_seconds(model: torch.nn.Module, images: torch.Tensor, repeats: int) -> tuple[float, float, float]:
    """Seconds of forward + backward: the first (warm-up) step, then the median and minimum of ``repeats``."""
    model.train()
    times = []
    for _ in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        model(images).float().mean().backward()
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times[0], statistics.median(times[1:]), min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 513])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    registry = load_registry(entry_points=False)
    print(
        f"{platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
        f"device {device}, batch {args.batch}, {args.repeats} steps after one warm-up, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print()
    print("| backbone | input | build s | warm-up step s | step s (median) | step s (min) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.backbones:
        for size in args.sizes:
            params = {"img_size": size} if name == "deeplabv3-vit" else {}
            torch.manual_seed(0)
            started = time.perf_counter()
            model = registry.create("backbone", name, params).instance.build(NUM_CLASSES).to(device)
            built = time.perf_counter() - started
            images = torch.rand(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
            warmup, median, fastest = step_seconds(model, images, args.repeats)
            print(f"| {name} | {size}×{size} | {built:.2f} | {warmup:.2f} | {median:.3f} | {fastest:.3f} |", flush=True)
            del model


if __name__ == "__main__":
    main()
