"""Two identical runs, bit for bit: round 0 of DeepLabV3-ResNet50 with each upsampling head, on any device.

    .venv/bin/python benchmarks/determinism_check.py --device cuda
    .venv/bin/python benchmarks/determinism_check.py --device cpu --size 48 --steps 2    # a quick look on a CPU

For each head (``nearest``, ``bilinear``) and precision, the runner executes round 0 of the same spec twice
(toy scenes at ``--size``, ``--steps`` training steps with the protocol's deterministic settings, then
evaluation), each time from scratch in a fresh results and cache directory, and the two result rows must be
equal value for value. Then round 0's training is repeated twice through ``train_round`` from the same initial
weights, and the two trained models must have bit-identical weights (a SHA-256 over every parameter and
buffer). Prints one line per check and exits non-zero when any differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from albench.determinism import configure_determinism
from albench.host.registry import load_registry
from albench.results.store import ENVIRONMENT_COLUMNS
from albench.run.execution import Execution
from albench.run.progress import NullProgress
from albench.run.protocol import BenchmarkConfig, ComponentChoice, Protocol
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run
from albench.run.superpixel_cache import SuperpixelStore
from albench.run.training import LabeledImages, StageModel, round_seed, train_round


def weights_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def config_for(args: argparse.Namespace, upsample: str, precision: str) -> BenchmarkConfig:
    protocol = Protocol(
        budget=40,
        rounds=1,
        steps=args.steps,
        batch_size=2,
        eval_batch_size=4,
        score_batch_size=4,
        threads=1,
        loss="focal",
        ema_decay=0.9,
        precision=precision,
    )  # type: ignore[arg-type]
    return BenchmarkConfig(
        protocol=protocol,
        dataset=ComponentChoice("toy", {"num_images": args.images, "image_size": args.size}),
        backbone=ComponentChoice("deeplabv3-resnet50", {"weights": "none", "upsample": upsample}),
        superpixels=ComponentChoice("slic", {"n_segments": 30, "compactness": 20.0}),
        source="determinism_check",
    )


def round_zero_rows(args: argparse.Namespace, config: BenchmarkConfig, root: Path) -> str:
    """Round 0's result row without timings and environment, as JSON (NaN IoUs compare equal there)."""
    registry = load_registry(entry_points=False)
    spec = resolve_run(registry, config, "random", 0)
    outcome = execute_run(spec, registry, RunOptions(root / "results", root / "cache", device=args.device))
    rows = [{k: v for k, v in row.items() if k not in ENVIRONMENT_COLUMNS} for row in outcome.table.to_pylist()]
    return json.dumps(rows, sort_keys=True, default=str)


def trained_weights(args: argparse.Namespace, config: BenchmarkConfig, root: Path) -> str:
    registry = load_registry(entry_points=False)
    spec = resolve_run(registry, config, "random", 0)
    device = torch.device(args.device)
    configure_determinism(spec.seed, spec.protocol.threads, device)
    dataset = registry.create("dataset", "toy", spec.dataset.params).instance
    method = registry.create("superpixels", "slic", spec.superpixels.params).instance
    store = SuperpixelStore(root / "cache", dataset, method, spec.dataset, spec.superpixels)
    pool = list(dataset.split(0).pool)
    items = []
    for image_id, entry in zip(pool, store.ensure(pool, workers=1)):
        items.append((image_id, np.arange(0, entry.num_regions, 3)))  # every third region labeled
    labeling = registry.create("labeling", "dominant", {}).instance
    data = LabeledImages(dataset, store, labeling.stages(dataset.num_classes)[0], items, augment=True)
    torch.manual_seed(1)
    model = Execution.of(spec.protocol, device).prepare(
        registry.create("backbone", spec.backbone.name, spec.backbone.params).instance.build(dataset.num_classes)
    )
    stage_model = StageModel(model, spec.protocol.ema_decay)
    train_round(
        stage_model,
        data,
        spec.protocol,
        seed=round_seed(0, 0, 0),
        device=device,
        progress=NullProgress(),
        description="train",
    )
    return weights_digest(stage_model.model) + "/" + weights_digest(stage_model.eval_model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=129)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"determinism check on {card}, torch {torch.__version__}, toy scenes at {args.size}², {args.steps} steps")
    failures = 0
    for upsample in ("nearest", "bilinear"):
        for precision in args.precision:
            config = config_for(args, upsample, precision)
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                first, second = round_zero_rows(args, config, Path(a)), round_zero_rows(args, config, Path(b))
            same_rows = first == second
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                weights = trained_weights(args, config, Path(a)), trained_weights(args, config, Path(b))
            same_weights = weights[0] == weights[1]
            failures += (not same_rows) + (not same_weights)
            miou = json.loads(first)[0]["miou"]
            print(
                f"{upsample:8s} {precision}: round-0 results {'identical' if same_rows else 'DIFFER'} "
                f"(mIoU {miou:.4f}); trained weights {'identical' if same_weights else 'DIFFER'} "
                f"(model/EMA sha256 {weights[0]}{'' if same_weights else ' vs ' + weights[1]})"
            )
    print("all bit-identical" if not failures else f"{failures} check(s) differ")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
