"""Per-round mIoU and convergence of the fully labeled reference and a few strategies on real-image scenes.

The scenes come from benchmarks/texture_scenes.py (scikit-image's bundled photographs, no download), read
through the ``folder`` dataset with the embedded default protocol; mIoU is measured on the held-out test split.

    python benchmarks/convergence_scenes.py [--dir DIR] [--seeds 0] [--only full] [--set protocol.steps=250 ...]

prints one table per run: round, labeled regions, mIoU, whether training converged, its steps and validation
best. Extra ``--set`` values go to every run (e.g. ``protocol.patience=none protocol.steps=250`` for the old
fixed-step protocol).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import texture_scenes  # type: ignore[import-not-found]

from albench.cli.run import build_specs
from albench.host.registry import load_registry
from albench.run.runner import RunOptions, execute_run

RUNS = (("full", "precise"), ("random", "dominant"), ("oreal", "dominant"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "albench-texture-scenes")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--set", dest="settings", action="append", default=[])
    parser.add_argument("--only", action="append", default=[], help="run only these strategies (full, random, oreal)")
    args = parser.parse_args()
    data = args.dir / "data"
    if not (data / "classes.txt").exists():
        texture_scenes.write(data, train=240, test=80, size=args.size, seed=0)
    registry = load_registry(entry_points=False)
    options = RunOptions(args.dir / "results", args.dir / "cache", data_root=data)
    for strategy, labeling in RUNS:
        if args.only and strategy not in args.only:
            continue
        specs = build_specs(
            registry,
            [strategy],
            protocol_file=None,
            dataset="folder",
            backbone=None,
            superpixels=None,
            labeling=labeling,
            seeds=[args.seeds],
            rounds=None,
            budget=None,
            settings=[f"dataset.image_size={args.size}", *args.settings],
            data_root=data,
        )
        for spec in specs:
            table = execute_run(spec, registry, options).table.to_pylist()
            print(f"\n{strategy} ({labeling}), seed {spec.seed}, run {spec.run_id}")
            print("round  labeled   mIoU  converged  steps  val best")
            for row in sorted(table, key=lambda r: r["round"]):
                best = row["val_best"][-1] if row.get("val_best") and row["val_best"][-1] is not None else float("nan")
                steps = row["train_steps"][-1] if row.get("train_steps") else 0
                converged = {True: "yes", False: "NO", None: "?"}[row.get("converged")]
                print(
                    f"{row['round']:5d}  {row['labeled_regions']:7d}  {100 * row['miou']:5.1f}  {converged:>9}  "
                    f"{steps:5d}  {100 * best:8.1f}"
                )


if __name__ == "__main__":
    main()
