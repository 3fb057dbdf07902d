"""Sweep bookkeeping: how fast a big grid is expanded and skip-checked, and what albench's own bookkeeping
costs a run of the default benchmark.

    python benchmarks/bench_sweep.py            # both measurements, printed as a table
    python benchmarks/bench_sweep.py --runs 2000 --skip-default-run

1. A 10,000-run grid (the embedded default benchmark's toy dataset; 10 strategy labels × 1,000 seeds) is
   expanded into run specs with their run ids, and checked against a results directory holding the 10,000
   result files (the plan of ``--dry-run``, and the sweep's own skip path: every run found finished).
   Target: under 5 s.
2. One run of the default benchmark (``albench run -s oreal``, superpixels already cached) through the sweep's
   task path: its wall time against the time spent training, scoring the pool and evaluating (the ``time_*``
   columns). The rest is albench's bookkeeping (specs, locks, checkpoints, results, the pool's bookkeeping).
   Target: under 5% of the run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from albench.host.registry import load_registry
from albench.run.runner import RunOptions
from albench.sweep.driver import run_tasks
from albench.sweep.grid import expand_grid, load_grid
from albench.sweep.plan import make_plan, unfinished
from albench.sweep.task import RunTask, share_registry

STRATEGIES = [
    "random",
    "entropy",
    "bvsb",
    "revisiting-sp",
    "pixelbal",
    "cbal",
    "oreal",
    "oreal(aggregation=mean)",
    "oreal(aggregation=p95)",
    "oreal(score=prob-entropy)",
]


def big_grid(folder: Path, runs: int) -> Path:
    seeds = max(1, runs // len(STRATEGIES))
    path = folder / "grid.toml"
    path.write_text(f'strategies = {STRATEGIES!r}\nseeds = "0-{seeds - 1}"\n'.replace("'", '"'))
    return path


def measure_grid(runs: int) -> list[tuple[str, float, str]]:
    registry = load_registry(entry_points=False)
    share_registry(registry)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        grid_path = big_grid(folder, runs)
        started = time.perf_counter()
        specs = expand_grid(registry, load_grid(grid_path))
        assert len({spec.run_id for spec in specs}) == len(specs)
        expanded = time.perf_counter() - started
        results = folder / "results"
        results.mkdir()
        for spec in specs:
            (results / f"{spec.run_id}.parquet").touch()
        started = time.perf_counter()
        plan = make_plan(specs, results, slots=1)
        planned = time.perf_counter() - started
        assert plan.total["finished"] == len(specs), plan.total
        started = time.perf_counter()
        todo, finished = unfinished(specs, results)
        skipped = time.perf_counter() - started
        assert not todo and len(finished) == len(specs)
    n = f"{len(specs):,}"
    return [
        (f"expand a {n}-run grid into run specs and ids", expanded, ""),
        (f"plan it against {n} result files (--dry-run)", planned, ""),
        ("sweep it: every run found finished and skipped", skipped, ""),
        (
            "expand + skip-check, total (target < 5 s)",
            expanded + planned + skipped,
            "yes" if expanded + planned + skipped < 5 else "NO",
        ),
    ]


def measure_default_run(steps: int | None) -> list[tuple[str, float, str]]:
    registry = load_registry(entry_points=False)
    share_registry(registry)
    cache = Path(os.environ.get("ALBENCH_CACHE_DIR", Path.home() / ".cache" / "albench"))
    grid_text = 'strategies = ["oreal"]\nseeds = [0]\n'
    measured_text = grid_text + (f'[set]\n"protocol.steps" = {steps}\n' if steps is not None else "")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "grid.toml").write_text(measured_text)
        (spec,) = expand_grid(registry, load_grid(folder / "grid.toml"))
        # A one-step run fills the superpixel cache (superpixels are not bookkeeping); the default run is measured.
        (folder / "warm.toml").write_text(grid_text + '[set]\n"protocol.rounds" = 1\n"protocol.steps" = 1\n')
        (warm_spec,) = expand_grid(registry, load_grid(folder / "warm.toml"))
        warm = RunOptions(results_dir=folder / "warm", cache_dir=cache)
        run_tasks([RunTask(warm_spec, warm)], registry.create("executor", "inline", {}).instance)
        options = RunOptions(results_dir=folder / "results", cache_dir=cache)
        started = time.perf_counter()
        (result,) = run_tasks([RunTask(spec, options)], registry.create("executor", "inline", {}).instance).results
        wall = time.perf_counter() - started
        assert result.status == "completed", result
        table = pq.read_table(result.path)
        work = {
            column: float(sum(table[column].to_pylist())) for column in ("time_train_s", "time_query_s", "time_eval_s")
        }
    bookkeeping = wall - sum(work.values())
    steps_text = f", {steps} steps a round" if steps is not None else ""
    rows.append((f"default run{steps_text}: wall time (superpixels cached)", wall, ""))
    rows.append(("  training (time_train_s)", work["time_train_s"], ""))
    rows.append(("  scoring the pool and selecting (time_query_s)", work["time_query_s"], ""))
    rows.append(("  evaluation (time_eval_s)", work["time_eval_s"], ""))
    share = bookkeeping / wall
    rows.append(
        (
            f"  albench bookkeeping: {100 * share:.2f}% of the run (target < 5%)",
            bookkeeping,
            "yes" if share < 0.05 else "NO",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="grid size (default 10,000)")
    parser.add_argument("--skip-default-run", action="store_true", help="only the grid measurement")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps a round (default: the protocol's cap, with its early stopping). Bookkeeping does "
        "not depend on it, so fewer steps give an upper bound of its share, quicker",
    )
    args = parser.parse_args()
    rows = measure_grid(args.runs)
    if not args.skip_default_run:
        rows += measure_default_run(args.steps)
    table = Table(title=f"sweep bookkeeping ({os.cpu_count()} CPUs)", title_justify="left")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("within target", justify="center")
    for what, seconds, ok in rows:
        table.add_row(what, f"{seconds:.2f}", ok)
    Console().print(table)


if __name__ == "__main__":
    main()
