"""``albench run``: resolve every run of the grid (strategies × seeds), check it all, then run each."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table
from rich.text import Text

from albench.cli._common import ResultsDirOption, RichProgress, default_cache_dir, err, handle_errors, out, print_error
from albench.cli._sweep import (
    make_executor,
    prepare_directories,
    print_result,
    print_summary,
    results_store,
    typed_command,
)
from albench.cli._tables import print_table
from albench.errors import ComponentError, ParameterError
from albench.host.registry import Registry, load_registry
from albench.results.remote import RemoteResults
from albench.results.store import result_path
from albench.run.choices import SET_KINDS, parse_seeds, parse_settings
from albench.run.protocol import DEFAULT_CONFIG, BenchmarkConfig, ComponentChoice, load_protocol_file
from albench.run.runner import RunOptions, resolve_device
from albench.run.spec import RunSpec, resolve_grid
from albench.sweep.driver import run_tasks
from albench.sweep.task import RunResult, RunTask, share_registry, use_progress

__all__ = ["SET_KINDS", "build_specs", "parse_seeds", "parse_settings", "run", "summary_table"]


def _with_component(config: BenchmarkConfig, kind: str, name: str | None) -> BenchmarkConfig:
    """Replace a component choice; its parameters from the protocol file only apply to the same name."""
    if name is None or name == getattr(config, kind).name:
        return config
    return dataclasses.replace(config, **{kind: ComponentChoice(name)})  # type: ignore[arg-type]


def build_specs(
    registry: Registry,
    strategies: list[str],
    *,
    protocol_file: Path | None,
    dataset: str | None,
    backbone: str | None,
    superpixels: str | None,
    labeling: str | None,
    seeds: list[str],
    rounds: int | None,
    budget: int | None,
    settings: list[str],
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    device: str = "cpu",
) -> list[RunSpec]:
    """Every run of the grid, fully resolved and type-checked before any of them starts."""
    if not strategies:
        raise ParameterError("pass at least one --strategy (see `albench plugins` for the available ones)")
    config = load_protocol_file(protocol_file) if protocol_file else DEFAULT_CONFIG
    for kind, name in (
        ("dataset", dataset),
        ("backbone", backbone),
        ("superpixels", superpixels),
        ("labeling", labeling),
    ):
        config = _with_component(config, kind, name)
    overrides: dict[str, Any] = parse_settings(settings)
    protocol_changes: dict[str, Any] = dict(overrides.pop("protocol", {}))
    if rounds is not None:
        protocol_changes["rounds"] = rounds
    if budget is not None:
        protocol_changes["budget"] = budget
    if protocol_changes:
        config = dataclasses.replace(config, protocol=config.protocol.replace(**protocol_changes))
    run_seeds = parse_seeds(seeds) if seeds else config.seeds
    return resolve_grid(
        registry,
        config,
        strategies,
        run_seeds,
        overrides,
        data_root=data_root,
        cache_dir=cache_dir,
        device=resolve_device(device).type,
    )


def check_plugins(registry: Registry, *, strict: bool) -> None:
    """Name every plugin that failed to load: a warning, or with ``strict`` an error before anything runs."""
    if not registry.broken:
        return
    lines = [b.describe() for b in registry.broken]
    if strict:
        raise ComponentError(f"--strict: {len(lines)} plugin(s) failed to load: {'; '.join(lines)}")
    for line in lines:
        err.print(Text("warning: ", style="yellow") + Text(f"{line} (--strict makes this an error)"))


def summary_table(spec: RunSpec, rows: pa.Table) -> Table:
    """The per-round summary printed after a run."""
    table = Table(
        title=f"{spec.strategy.label} · {spec.dataset.label} · seed {spec.seed} · run {spec.run_id}",
        title_justify="left",
    )
    for column in ("round", "labeled", "clicks", "mIoU", "converged", "query s", "train s", "eval s"):
        table.add_column(column, justify="right")
    for row in sorted(rows.to_pylist(), key=lambda r: r["round"]):
        table.add_row(
            str(row["round"]),
            str(row["labeled_regions"]),
            str(row["clicks_spent"]),
            f"{100 * row['miou']:.1f}",
            converged_cell(row),
            f"{row['time_query_s']:.1f}",
            f"{row['time_train_s']:.1f}",
            f"{row['time_eval_s']:.1f}",
        )
    return table


def converged_cell(row: dict[str, Any]) -> str:
    """yes (early stopping ended every stage), NO (a step cap did), or ? (no validation, or an older file)."""
    converged = row.get("converged")
    if converged is None:
        return "?"
    return "yes" if converged else "[bold red]NO[/]"


def run(
    ctx: typer.Context,
    strategy: Annotated[list[str], typer.Option("--strategy", "-s", help="Query strategy; repeat for several.")] = [],  # noqa: B006
    protocol: Annotated[
        Path | None,
        typer.Option(
            "--protocol",
            "-p",
            help="Protocol: a bundled name (default, voc, cityscapes, endovis, monarch) or a TOML file; default: the embedded toy benchmark.",
        ),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset plugin (default: the protocol's).")] = None,
    backbone: Annotated[str | None, typer.Option(help="Backbone plugin.")] = None,
    superpixels: Annotated[str | None, typer.Option(help="Superpixel method plugin.")] = None,
    labeling: Annotated[str | None, typer.Option(help="Labeling scheme plugin.")] = None,
    seed: Annotated[list[str], typer.Option("--seed", help="Seed, range (0-2) or list (0,1,2); repeatable.")] = [],  # noqa: B006
    rounds: Annotated[int | None, typer.Option(help="Active-learning rounds (overrides the protocol).")] = None,
    budget: Annotated[int | None, typer.Option(help="Clicks per round, Q (overrides the protocol).")] = None,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set", help="KIND.PARAM=VALUE, e.g. strategy.aggregation=mean or protocol.steps=50; repeatable."
        ),
    ] = [],  # noqa: B006
    results_dir: ResultsDirOption = Path("results"),
    cache_dir: Annotated[
        Path | None, typer.Option(help="Superpixel cache [default: $ALBENCH_CACHE_DIR or ~/.cache/albench].")
    ] = None,
    data_root: Annotated[Path | None, typer.Option(help="Root directory of an on-disk dataset.")] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:N, mps.")] = "cpu",
    force: Annotated[bool, typer.Option("--force", help="Rerun runs whose results already exist.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when any plugin failed to load, used or not.")] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Only these run ids (comma-separated), e.g. to rerun failed runs.")
    ] = None,
    image_cache: Annotated[
        bool,
        typer.Option(
            "--image-cache/--no-image-cache", help="Keep on-disk datasets' images decoded in the cache directory."
        ),
    ] = True,
) -> None:
    """Run strategies on a protocol (the embedded toy benchmark by default) and write Parquet results.

    Strategies are names or labels: ``-s oreal -s "oreal(aggregation=mean)"``. Each run fails alone: the
    others go on, and the end lists failed runs with the command rerunning only them.
    """
    with handle_errors():
        registry = load_registry()
        check_plugins(registry, strict=strict)
        cache_dir = cache_dir or default_cache_dir()
        specs = build_specs(
            registry,
            strategy,
            protocol_file=protocol,
            dataset=dataset,
            backbone=backbone,
            superpixels=superpixels,
            labeling=labeling,
            seeds=seed,
            rounds=rounds,
            budget=budget,
            settings=set_,
            data_root=data_root,
            cache_dir=cache_dir,
            device=device,
        )
        if only:
            specs = select_runs(specs, only)
        work_dir, remote = results_store(results_dir, cache_dir)
        options = RunOptions(
            results_dir=work_dir,
            cache_dir=cache_dir,
            device=device,
            data_root=data_root,
            force=force,
            image_cache=image_cache,
        )
        prepare_directories(work_dir, cache_dir)
        share_registry(registry)
        by_id = {spec.run_id: spec for spec in specs}

        def report(result: RunResult, done: int, total: int) -> None:
            print_result(result, done, total)
            if result.status == "skipped":
                err.print(f"skipped: results exist at {result.path} (use --force to rerun)")
            if result.status in ("completed", "resumed", "skipped"):
                if remote is not None and result.status == "skipped":  # finished elsewhere: no local copy
                    rows = _remote_table(remote, result.run_id)
                else:
                    rows = pq.read_table(result_path(work_dir, result.run_id))
                print_table(out, summary_table(by_id[result.run_id], rows))
                err.print(f"results: {result.path}")

        tasks = [RunTask(spec, options, remote.uri if remote else None) for spec in by_id.values()]
        with RichProgress() as progress, use_progress(progress):
            summary = run_tasks(tasks, make_executor(registry, "inline", {}), report)
        if len(tasks) == 1 and summary.failed:
            # One run: its error is the command's error, one plain line (the traceback is on record).
            (failed,) = summary.failed
            print_error(failed.message)
            if failed.path:
                err.print(f"(traceback: {failed.path})")
            raise typer.Exit(1)
        print_summary(summary, typed_command(ctx), work_dir)


def _remote_table(remote: RemoteResults, run_id: str) -> pa.Table:
    return pq.read_table(remote.key(f"{run_id}.parquet"), filesystem=remote.fs)


def select_runs(specs: list[RunSpec], only: str) -> list[RunSpec]:
    """The runs named by ``--only ID,ID,...`` (run ids, or unique prefixes of them)."""
    chosen = []
    for wanted in (part.strip() for part in only.split(",") if part.strip()):
        matches = [spec for spec in specs if spec.run_id.startswith(wanted)]
        if len({spec.run_id for spec in matches}) != 1:
            what = "matches no run" if not matches else "matches several runs"
            raise ParameterError(
                f"--only {wanted!r} {what} of this command; run ids are listed by --dry-run "
                "(sweep) or printed with each run"
            )
        chosen.append(matches[0])
    return chosen
