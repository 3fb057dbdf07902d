"""``albench sweep GRID.toml``: expand a grid file, check every run, then hand them to an executor.

Finished runs are skipped, partial ones resume, runs locked by another worker are skipped (and said so),
failed ones are listed at the end with the command that reruns only them. ``--dry-run`` prints the plan.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from albench._words import plural
from albench.cli._common import ResultsDirOption, RichProgress, default_cache_dir, err, handle_errors, out
from albench.cli._sweep import (
    make_executor,
    parse_gpus,
    prepare_directories,
    print_result,
    print_summary,
    results_store,
    typed_command,
)
from albench.cli._tables import print_table
from albench.cli.run import select_runs
from albench.errors import ParameterError
from albench.host.registry import load_registry
from albench.results.remote import location
from albench.run.choices import parse_settings
from albench.run.runner import RunOptions, resolve_device
from albench.sweep.driver import run_tasks
from albench.sweep.grid import Grid, expand_grid, load_grid
from albench.sweep.plan import STATES, Plan, clear_stale_locks, make_plan, unfinished
from albench.sweep.task import RunResult, RunTask, describe, share_registry, use_progress

__all__ = ["plan_table", "sweep"]


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def plan_table(plan: Plan, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("dataset", "backbone", *STATES, "time per run", "compute left"):
        table.add_column(column, justify="left" if column in ("dataset", "backbone") else "right")
    for group in plan.groups:
        per_run = (
            f"{_hours(group.seconds_per_run)} ({plural(group.measured_runs, 'run')})" if group.measured_runs else "?"
        )
        table.add_row(
            group.dataset,
            group.backbone,
            *(str(group.states[s]) for s in STATES),
            per_run,
            _hours(group.seconds_left) if group.left else "-",
        )
    total = plan.total
    table.add_row("total", "", *(str(total[s]) for s in STATES), "", _hours(plan.seconds_left), end_section=True)
    return table


def _executor_params(
    file_params: dict[str, Any],
    name: str,
    workers: int | None,
    gpus: str | None,
    address: str | None,
    options: list[str],
) -> dict[str, Any]:
    params = {k: v for k, v in file_params.items() if k != "name"} if file_params.get("name", "inline") == name else {}
    for key, value in (("workers", workers), ("gpus", parse_gpus(gpus)), ("address", address)):
        if value is not None:
            params[key] = value
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--option {option!r}: expected KEY=VALUE, e.g. --option partition=gpu")
        params[key.strip()] = value
    return params


def parse_data_roots(values: list[str]) -> dict[str, Path]:
    """``["/data/x"]`` → ``{"": /data/x}``; ``["voc=/data/voc"]`` → ``{"voc": /data/voc}``."""
    roots: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and "/" not in name:
            roots[name] = Path(path)
        else:
            roots[""] = Path(value)
    return roots


def _root(grid: Grid, dataset: str, roots: dict[str, Path]) -> Path | None:
    """Where a run of ``dataset`` reads its data: its grid entry's root, else --data-root's."""
    for entry in grid.datasets:
        if entry.config.dataset.name == dataset and entry.data_root is not None:
            return entry.data_root
    return roots.get(dataset, roots.get(""))


def sweep(
    ctx: typer.Context,
    grid: Annotated[
        Path, typer.Argument(help="Grid file (TOML): datasets × backbones × labeling × strategies × seeds.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (finished, running, to do, compute left) and stop.")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor", "-e", help="inline, local, slurm, ray or a plugin's [default: the grid file's, else inline]."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="local: runs at once on the CPU.")] = None,
    gpus: Annotated[str | None, typer.Option(help="local: GPU ids, one run per GPU at a time, e.g. 0,1.")] = None,
    address: Annotated[
        str | None, typer.Option(help="ray: the cluster's address (default: start a local Ray).")
    ] = None,
    option: Annotated[
        list[str],
        typer.Option(
            "--option", "-o", help="Executor parameter KEY=VALUE, e.g. -o partition=gpu -o time=1440; repeatable."
        ),
    ] = [],  # noqa: B006
    set_: Annotated[
        list[str], typer.Option("--set", help="KIND.PARAM=VALUE for every run, after the grid's [set]; repeatable.")
    ] = [],  # noqa: B006
    only: Annotated[
        str | None, typer.Option("--only", help="Only these run ids (comma-separated), e.g. to rerun failed runs.")
    ] = None,
    results_dir: ResultsDirOption = Path("results"),
    cache_dir: Annotated[
        Path | None, typer.Option(help="Superpixel cache [default: $ALBENCH_CACHE_DIR or ~/.cache/albench].")
    ] = None,
    data_root: Annotated[
        list[str],
        typer.Option(
            help="Data root of datasets whose grid entry gives none: PATH, or DATASET=PATH per dataset; repeatable."
        ),
    ] = [],  # noqa: B006
    device: Annotated[str, typer.Option(help="Torch device of every run: cpu, cuda, mps.")] = "cpu",
    force: Annotated[bool, typer.Option("--force", help="Rerun runs whose results already exist.")] = False,
) -> None:
    """Run a grid file's runs on an executor; kill it at any moment and rerun the same command to go on."""
    with handle_errors():
        registry = load_registry()
        grid_file = load_grid(grid)
        device_type = resolve_device(device).type if not dry_run else device.split(":")[0]
        roots = parse_data_roots(data_root)
        specs = expand_grid(registry, grid_file, device=device_type, data_root=roots, settings=parse_settings(set_))
        if only:
            specs = select_runs(specs, only)
        name = executor or str(grid_file.executor.get("name", "inline"))
        chosen = make_executor(
            registry, name, _executor_params(dict(grid_file.executor), name, workers, gpus, address, option)
        )
        if gpus is not None and device_type == "cpu":
            raise ParameterError("--gpus runs one run per GPU: pass --device cuda as well")
        unique = list({spec.run_id: spec for spec in specs}.values())
        work_dir, remote = results_store(results_dir, cache_dir)
        store = remote or results_dir
        if dry_run:
            plan = make_plan(unique, store, chosen.slots)
            print_table(
                out, plan_table(plan, f"{grid_file.title}: {plural(len(unique), 'run')} in {location(results_dir)}")
            )
            left = plan.seconds_left
            if left is not None and chosen.slots:
                out.print(
                    f"compute left: {_hours(left)}, about {_hours(left / chosen.slots)} per slot on "
                    f"{plural(chosen.slots, name + ' slot')}"
                )
            elif left is None:
                out.print("compute left: unknown until a run of each dataset and backbone has finished")
            else:
                out.print(f"compute left: {_hours(left)} (slots: as many as the cluster gives)")
            return
        options = RunOptions(
            results_dir=work_dir, cache_dir=cache_dir or default_cache_dir(), device=device, force=force
        )
        prepare_directories(options.results_dir, options.cache_dir)
        err.print(Text(grid_file.title, style="bold") + Text(f": {plural(len(unique), 'run')} on executor {name}"))
        share_registry(registry)
        todo, finished = (unique, []) if force else unfinished(unique, store)
        if finished:
            err.print(f"{len(finished)} of them finished earlier: skipped (--force reruns them)", highlight=False)
            clear_stale_locks(store, [spec.run_id for spec in finished])
        tasks = [
            RunTask(
                spec,
                dataclasses.replace(options, data_root=_root(grid_file, spec.dataset.name, roots)),
                remote.uri if remote else None,
            )
            for spec in todo
        ]
        if name == "inline":
            with RichProgress() as progress, use_progress(progress):
                summary = run_tasks(tasks, chosen, print_result)
        else:
            summary = run_tasks(tasks, chosen, print_result)
        summary.results[:0] = [
            RunResult(spec.run_id, "skipped", describe(spec), message="results exist") for spec in finished
        ]
        print_summary(summary, typed_command(ctx), work_dir)
