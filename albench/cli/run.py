"""``albench run``: resolve every run of the grid (strategies × seeds), check it all, then run each."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from albench.cli._common import ResultsDirOption, RichProgress, default_cache_dir, err, handle_errors, out
from albench.components import RUN_KINDS
from albench.errors import AlbenchError, ParameterError
from albench.host.registry import Registry, load_registry
from albench.run.protocol import DEFAULT_CONFIG, BenchmarkConfig, ComponentChoice, load_protocol_file
from albench.run.runner import RunOptions, RunOutcome, execute_run, resolve_device
from albench.run.spec import RunSpec, resolve_grid

SET_KINDS = ("protocol", *RUN_KINDS)


def parse_seeds(values: list[str]) -> tuple[int, ...]:
    """``["0", "2-4", "7,9"]`` → ``(0, 2, 3, 4, 7, 9)``."""
    seeds: list[int] = []
    for value in values:
        for part in value.split(","):
            match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
            if not match:
                raise ParameterError(f"--seed {value!r}: expected an integer, a range like 0-2, or a list like 0,1,2")
            start, stop = int(match[1]), int(match[2] if match[2] is not None else match[1])
            if stop < start:
                raise ParameterError(f"--seed {value!r}: the range ends before it starts")
            seeds.extend(range(start, stop + 1))
    return tuple(dict.fromkeys(seeds))


def parse_settings(values: list[str]) -> dict[str, dict[str, str]]:
    """``["strategy.aggregation=mean"]`` → ``{"strategy": {"aggregation": "mean"}}``."""
    settings: dict[str, dict[str, str]] = defaultdict(dict)
    for value in values:
        match = re.fullmatch(r"([a-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)", value)
        if not match:
            raise ParameterError(f"--set {value!r}: expected KIND.PARAMETER=VALUE, e.g. strategy.aggregation=mean")
        kind, key, raw = match.groups()
        if kind not in SET_KINDS:
            raise ParameterError(f"--set {value!r}: unknown kind {kind!r}; use one of {', '.join(SET_KINDS)}")
        settings[kind][key] = raw
    return dict(settings)


def _with_component(config: BenchmarkConfig, kind: str, name: str | None) -> BenchmarkConfig:
    """Replace a component choice; its parameters from the protocol file only apply to the same name."""
    if name is None or name == getattr(config, kind).name:
        return config
    return dataclasses.replace(config, **{kind: ComponentChoice(name)})  # type: ignore[arg-type]


def build_specs(
    registry: Registry, strategies: list[str], *, protocol_file: Path | None, dataset: str | None, backbone: str | None,
    superpixels: str | None, labeling: str | None, seeds: list[str], rounds: int | None, budget: int | None,
    settings: list[str], data_root: Path | None = None,
) -> list[RunSpec]:
    """Every run of the grid, fully resolved and type-checked before any of them starts."""
    if not strategies:
        raise ParameterError("pass at least one --strategy (see `albench plugins` for the available ones)")
    config = load_protocol_file(protocol_file) if protocol_file else DEFAULT_CONFIG
    for kind, name in (("dataset", dataset), ("backbone", backbone), ("superpixels", superpixels), ("labeling", labeling)):
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
    return resolve_grid(registry, config, strategies, run_seeds, overrides, data_root=data_root)


def summary_table(outcome: RunOutcome) -> Table:
    """The per-round summary printed after a run."""
    spec = outcome.spec
    table = Table(title=f"{spec.strategy.label} · {spec.dataset.label} · seed {spec.seed} · run {spec.run_id}",
                  title_justify="left")
    for column in ("round", "labeled", "clicks", "mIoU", "converged", "query s", "train s", "eval s"):
        table.add_column(column, justify="right")
    for row in sorted(outcome.table.to_pylist(), key=lambda r: r["round"]):
        table.add_row(
            str(row["round"]), str(row["labeled_regions"]), str(row["clicks_spent"]), f"{100 * row['miou']:.1f}",
            converged_cell(row), f"{row['time_query_s']:.1f}", f"{row['time_train_s']:.1f}", f"{row['time_eval_s']:.1f}",
        )
    return table


def converged_cell(row: dict[str, Any]) -> str:
    """yes (early stopping ended every stage), NO (a step cap did), or ? (no validation, or an older file)."""
    converged = row.get("converged")
    if converged is None:
        return "?"
    return "yes" if converged else "[bold red]NO[/]"


def run(
    strategy: Annotated[list[str], typer.Option("--strategy", "-s", help="Query strategy; repeat for several.")] = [],  # noqa: B006
    protocol: Annotated[Path | None, typer.Option("--protocol", "-p", help="Protocol file (TOML); default: the embedded toy benchmark.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset plugin (default: the protocol's).")] = None,
    backbone: Annotated[str | None, typer.Option(help="Backbone plugin.")] = None,
    superpixels: Annotated[str | None, typer.Option(help="Superpixel method plugin.")] = None,
    labeling: Annotated[str | None, typer.Option(help="Labeling scheme plugin.")] = None,
    seed: Annotated[list[str], typer.Option("--seed", help="Seed, range (0-2) or list (0,1,2); repeatable.")] = [],  # noqa: B006
    rounds: Annotated[int | None, typer.Option(help="Active-learning rounds (overrides the protocol).")] = None,
    budget: Annotated[int | None, typer.Option(help="Clicks per round, Q (overrides the protocol).")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="KIND.PARAM=VALUE, e.g. strategy.aggregation=mean or protocol.steps=50; repeatable.")] = [],  # noqa: B006
    results_dir: ResultsDirOption = Path("results"),
    cache_dir: Annotated[Path | None, typer.Option(help="Superpixel cache [default: $ALBENCH_CACHE_DIR or ~/.cache/albench].")] = None,
    data_root: Annotated[Path | None, typer.Option(help="Root directory of an on-disk dataset.")] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:N, mps.")] = "cpu",
    force: Annotated[bool, typer.Option("--force", help="Rerun runs whose results already exist.")] = False,
) -> None:
    """Run strategies on a protocol (the embedded toy benchmark by default) and write Parquet results."""
    with handle_errors():
        registry = load_registry()
        specs = build_specs(registry, strategy, protocol_file=protocol, dataset=dataset, backbone=backbone,
                            superpixels=superpixels, labeling=labeling, seeds=seed, rounds=rounds,
                            budget=budget, settings=set_, data_root=data_root)
        resolve_device(device)
        options = RunOptions(results_dir=results_dir, cache_dir=cache_dir or default_cache_dir(), device=device,
                             data_root=data_root, force=force)
        failures = 0
        for index, spec in enumerate(specs, start=1):
            err.print(f"[bold]run {index}/{len(specs)}[/]: {spec.strategy.label} on {spec.dataset.label}, "
                      f"seed {spec.seed} (run id {spec.run_id})")
            try:
                with RichProgress() as progress:
                    outcome = execute_run(spec, registry, options, progress)
            except AlbenchError as error:
                if len(specs) == 1:
                    raise
                failures += 1
                err.print(f"[bold red]error:[/] {error}")
                continue
            if outcome.status == "skipped":
                err.print(f"skipped: results exist at {outcome.path} (use --force to rerun)")
            out.print(summary_table(outcome))
            err.print(f"results: {outcome.path}")
        if failures:
            raise AlbenchError(f"{failures} of {len(specs)} runs failed (see above)")
