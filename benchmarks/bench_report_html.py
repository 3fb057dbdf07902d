"""Size and speed of `albench report html` on a synthetic paper-scale grid of results.

    python benchmarks/bench_report_html.py                  # 4 datasets × 3 backbones × 2 labelings × 11 × 3 seeds
    python benchmarks/bench_report_html.py --seeds 1 --keep /tmp/grid

Writes seeded synthetic results files (curves, confusion matrices and class counts drawn at random; a few
runs cut short, as if in progress) into a temporary directory, renders the page through the CLI, and, when
Debian's Chromium is installed, opens it headless and times the load (Navigation Timing: navigation start to
the end of the load event) and one click that sorts a table. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from albench.cli import app
from albench.results.store import write_results
from albench.run.spec import canonical_hash

DATASETS = {"cityscapes": 19, "pascal-voc": 21, "endovis2018": 8, "monarch": 12}
BACKBONES = ("deeplabv3-resnet50", "deeplabv3-resnet101", "deeplabv3-vit")
LABELINGS = ("dominant", "weak")
# label -> (strategy, parameters, aggregation)
STRATEGIES = {
    "random": ("random", {}, None),
    "oreal": ("oreal", {}, "max"),
    "oreal(aggregation=mean)": ("oreal", {"aggregation": "mean"}, "mean"),
    "bvsb": ("bvsb", {}, "mean"),
    "bvsb(aggregation=max)": ("bvsb", {"aggregation": "max"}, "max"),
    "revisiting-sp": ("revisiting-sp", {}, "mean"),
    "revisiting-sp(aggregation=max)": ("revisiting-sp", {"aggregation": "max"}, "max"),
    "pixelbal": ("pixelbal", {}, "mean"),
    "pixelbal(aggregation=max)": ("pixelbal", {"aggregation": "max"}, "max"),
    "cbal": ("cbal", {}, "mean"),
    "cbal(aggregation=max)": ("cbal", {"aggregation": "max"}, "max"),
}
ROUNDS, BUDGET = 10, 100


def _confusion(rng: np.random.Generator, classes: int, miou: float) -> np.ndarray:
    """A confusion matrix whose diagonal share grows with ``miou`` (the numbers only need to look real)."""
    confusion = rng.integers(0, 200, size=(classes, classes))
    confusion[np.diag_indices(classes)] = (rng.integers(2000, 6000, size=classes) * miou / (1 - miou + 1e-3)).astype(
        int
    )
    return confusion


def write_grid(directory: Path, seeds: int) -> int:
    """Write the synthetic grid; returns the number of runs."""
    count = 0
    for dataset, classes in DATASETS.items():
        protocol = {"budget": BUDGET, "rounds": ROUNDS, "dataset": dataset}
        protocol_hash = canonical_hash(protocol)
        names = [f"class {c}" for c in range(classes)]
        for backbone in BACKBONES:
            for labeling in LABELINGS:
                for label, (strategy, params, aggregation) in STRATEGIES.items():
                    for seed in range(seeds):
                        rng = np.random.default_rng([seed, len(label), classes, len(backbone), len(labeling)])
                        start = 0.30 + 0.02 * seed
                        curve = start + np.cumsum(np.r_[0, rng.uniform(0.005, 0.04, ROUNDS - 1)])
                        done = ROUNDS - 3 if (count % 97 == 5) else ROUNDS  # a few runs still going
                        run_id = canonical_hash([dataset, backbone, labeling, label, seed])
                        rows = []
                        for r in range(done):
                            counts = rng.multinomial(
                                BUDGET * (r + 1), np.r_[0.5, np.full(classes - 1, 0.5 / (classes - 1))]
                            )
                            rows.append(
                                {
                                    "run_id": run_id,
                                    "protocol_hash": protocol_hash,
                                    "dataset": dataset,
                                    "dataset_params": "{}",
                                    "dataset_version": "1",
                                    "backbone": backbone,
                                    "backbone_params": "{}",
                                    "backbone_version": "1",
                                    "superpixels": "slic",
                                    "superpixels_params": "{}",
                                    "superpixels_version": "1",
                                    "labeling": labeling,
                                    "labeling_params": "{}",
                                    "labeling_version": "1",
                                    "strategy": strategy,
                                    "strategy_params": json.dumps(params),
                                    "strategy_version": "1",
                                    "strategy_label": label,
                                    "aggregation": aggregation,
                                    "seed": seed,
                                    "round": r,
                                    "rounds": ROUNDS,
                                    "budget": BUDGET,
                                    "protocol": json.dumps(protocol),
                                    "num_classes": classes,
                                    "class_names": names,
                                    "background_class": 0,
                                    "pool_images": 1000,
                                    "pool_regions": 100_000,
                                    "added_image": [],
                                    "added_superpixel": [],
                                    "clicks_round": BUDGET,
                                    "clicks_spent": BUDGET * (r + 1),
                                    "labeled_regions": BUDGET * (r + 1),
                                    "labeled_per_class": counts.tolist(),
                                    "metric": "standard",
                                    "miou": float(curve[r]),
                                    "label_quality": 0.9,
                                    "stage_miou": [float(curve[r])] * (2 if labeling == "weak" else 1),
                                    "iou_per_class": [float(curve[r])] * classes,
                                    "confusion": _confusion(rng, classes, float(curve[r])).ravel().tolist(),
                                    "time_query_s": 1.0,
                                    "time_train_s": 10.0,
                                    "time_eval_s": 1.0,
                                    "albench_version": "0.1.0",
                                    "torch_version": "2.14.1",
                                    "python_version": "3.11",
                                    "device": "cuda",
                                    "git_sha": "synthetic",
                                }
                            )
                        write_results(
                            directory / f"{run_id}.parquet",
                            rows,
                            {"spec": {"synthetic": True}, "split": {"pool": [], "evaluation": []}},
                        )
                        count += 1
    return count


def browser_timings(page: Path, loads: int = 3) -> tuple[list[float], float, int] | None:
    """(seconds to load and paint, for each of ``loads`` fresh navigations; seconds of one click that sorts the
    runs table; console errors), or None without Chromium."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import shutil

    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return None
    from browser import chromium  # tests/browser.py: Chromium over the DevTools pipe

    with chromium() as browser:
        seconds = [browser.open(page) for _ in range(loads)]
        header = "#runs thead th:nth-child(9)"
        browser.click(header)  # scrolls the table into view (and renders it) first
        sort = browser.evaluate(
            f"(() => {{ const t = performance.now(); document.querySelector('{header}').click();"
            " document.body.offsetHeight; return (performance.now() - t) / 1000 })()"
        )
        return seconds, sort, len(browser.console_errors())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--keep", type=Path, help="write the results and the page here instead of a temporary directory"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = arguments.keep or Path(temporary)
        results = root / "results"
        results.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        runs = write_grid(results, arguments.seeds)
        written = time.perf_counter() - started
        page = root / "report.html"
        started = time.perf_counter()
        outcome = CliRunner().invoke(app, ["report", "html", str(page), "-r", str(results)])
        rendered = time.perf_counter() - started
        if outcome.exit_code != 0:
            raise SystemExit(outcome.output)
        timings = browser_timings(page)
        print(f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
        print(
            "| runs | rounds | results written (s) | `albench report html` (s) | page size (MB) "
            "| load and paint in Chromium (s): median (min–max) of 3 | sort the runs table (s) | console errors |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        loads, sort, errors = timings if timings else ([float("nan")], float("nan"), -1)
        load = f"{statistics.median(loads):.2f} ({min(loads):.2f}–{max(loads):.2f})"
        print(
            f"| {runs} | {ROUNDS} | {written:.1f} | {rendered:.1f} | {page.stat().st_size / 1e6:.2f} | {load} "
            f"| {sort:.3f} | {errors if timings else 'no Chromium'} |"
        )


if __name__ == "__main__":
    main()
