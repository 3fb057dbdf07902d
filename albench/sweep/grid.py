"""Grid files: a whole experiment (datasets × backbones × labeling schemes × strategies × seeds) in one TOML.

::

    title = "Table 1: OREAL's ablations beside the baselines"
    report = "ablation"                  # the `albench report` table that renders it (optional)
    datasets = ["cityscapes", "voc"]     # bundled protocols, protocol files (relative to this file), or tables:
                                         # { protocol = "...", data_root = "/data/voc" } / { name = "toy", ... }
    backbones = ["deeplabv3-resnet50"]   # optional axes; omitted: each protocol's own choice
    labeling = ["dominant", "weak"]
    strategies = ["random", "oreal", "oreal(aggregation=mean)"]   # labels, as the results write them
    seeds = [0, 1, 2]                    # or "0-2"; omitted: each protocol's seeds

    [set]                                # like --set, for every run
    "protocol.steps" = 50

    [executor]                           # the default executor and its parameters (the CLI overrides them)
    name = "local"
    workers = 2

The whole grid is expanded and checked before anything runs; every error names the file and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from albench.errors import AlbenchError, ProtocolError
from albench.host.registry import Registry
from albench.run.choices import SET_KINDS, parse_label, parse_seeds, parse_settings
from albench.run.protocol import DEFAULT_CONFIG, BenchmarkConfig, ComponentChoice, load_protocol_file
from albench.run.spec import ComponentSpec, RunSpec, resolve_component, resolve_dataset, strategy_params

__all__ = ["DatasetEntry", "Grid", "GridError", "expand_grid", "load_grid"]

KEYS = ("title", "report", "protocol", "datasets", "backbones", "labeling", "strategies", "seeds", "set", "executor")
_DATASET_KEYS = ("protocol", "data_root")

T = TypeVar("T")


class GridError(ProtocolError):
    """A grid file that cannot be expanded: the message names the file and the key."""


@dataclass(frozen=True)
class DatasetEntry:
    """One entry of ``datasets``: the protocol it runs under and where its data is."""

    where: str
    config: BenchmarkConfig
    data_root: Path | None = None


@dataclass(frozen=True)
class Grid:
    path: Path
    title: str
    report: str | None
    datasets: tuple[DatasetEntry, ...]
    backbones: tuple[str, ...]
    labeling: tuple[str, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...] | None
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    executor: Mapping[str, Any] = field(default_factory=dict)


def _fail(path: Path, key: str, message: str) -> GridError:
    return GridError(f"{path}: {key}: {message}")


def _strings(path: Path, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(path, key, f"expected a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(path, key, f"lists an entry twice: {value!r}")
    return tuple(value)


def _protocol_file(path: Path, key: str, name: Any) -> BenchmarkConfig:
    if not isinstance(name, str):
        raise _fail(path, key, f"expected a protocol file name, got {name!r}")
    bundled = "/" not in name and "." not in name  # `voc`: a bundled protocol; else a path next to the grid
    try:
        return load_protocol_file(name if bundled else (path.parent / name).resolve())
    except AlbenchError as error:
        raise _fail(path, key, str(error)) from None


def _dataset_entry(path: Path, index: int, entry: Any, base: BenchmarkConfig) -> DatasetEntry:
    key = f"datasets[{index}]"
    if isinstance(entry, str):
        return DatasetEntry(f"{key} ({entry})", _protocol_file(path, key, entry))
    if not isinstance(entry, dict):
        raise _fail(path, key, f"expected a protocol file name or a table, got {entry!r}")
    entry = dict(entry)
    config = _protocol_file(path, f"{key}.protocol", entry.pop("protocol")) if "protocol" in entry else base
    root = entry.pop("data_root", None)
    if root is not None and not isinstance(root, str):
        raise _fail(path, f"{key}.data_root", f"expected a path, got {root!r}")
    if entry:  # dataset name and parameters
        name = entry.pop("name", config.dataset.name)
        params = {**config.dataset.params, **entry} if name == config.dataset.name else entry
        config = dataclasses.replace(config, dataset=ComponentChoice(name, params))
    data_root = (path.parent / root).resolve() if root is not None else None
    return DatasetEntry(f"{key} ({config.dataset.name})", config, data_root)


def load_grid(path: Path) -> Grid:
    """Read a grid file and check its shape (the components are checked by :func:`expand_grid`)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise GridError(f"grid file {path} is not valid TOML: {error}") from None
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise _fail(path, key, f"unknown key.{hint} Keys: {', '.join(KEYS)}.")
    base = _protocol_file(path, "protocol", data["protocol"]) if "protocol" in data else DEFAULT_CONFIG
    raw_datasets = data.get("datasets")
    datasets: tuple[DatasetEntry, ...]
    if raw_datasets is None:
        datasets = (DatasetEntry(f"protocol ({base.dataset.name})", base),)
    elif isinstance(raw_datasets, list) and raw_datasets:
        datasets = tuple(_dataset_entry(path, i, entry, base) for i, entry in enumerate(raw_datasets))
    else:
        raise _fail(path, "datasets", f"expected a non-empty list, got {raw_datasets!r}")
    strategies = _strings(path, data, "strategies")
    if not strategies:
        raise _fail(path, "strategies", "the grid needs at least one strategy")
    seeds = _seeds(path, data.get("seeds"))
    settings = _settings(path, data.get("set", {}))
    executor = data.get("executor", {})
    if not isinstance(executor, dict) or not isinstance(executor.get("name", ""), str):
        raise _fail(path, "executor", 'expected a table with a name, e.g. [executor] name = "local"')
    title, report = data.get("title", path.stem), data.get("report")
    if not isinstance(title, str) or not (report is None or isinstance(report, str)):
        raise _fail(path, "title" if not isinstance(title, str) else "report", "expected a string")
    return Grid(
        path,
        title,
        report,
        datasets,
        _strings(path, data, "backbones"),
        _strings(path, data, "labeling"),
        strategies,
        seeds,
        settings,
        executor,
    )


def _seeds(path: Path, value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        return tuple(dict.fromkeys(value))
    if isinstance(value, str):
        try:
            return parse_seeds([value])
        except AlbenchError as error:
            raise _fail(path, "seeds", str(error).removeprefix("--seed ")) from None
    raise _fail(path, "seeds", f'expected a non-empty list of integers or a range like "0-2", got {value!r}')


def _settings(path: Path, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise _fail(path, "set", 'expected a table of "KIND.PARAMETER" = value')
    settings: dict[str, dict[str, Any]] = {}
    for key, raw in value.items():
        try:
            ((kind, params),) = parse_settings([f"{key}=x"]).items()
        except AlbenchError:
            raise _fail(
                path, f"set.{key}", f"expected KIND.PARAMETER with KIND one of {', '.join(SET_KINDS)}"
            ) from None
        settings.setdefault(kind, {})[next(iter(params))] = raw
    return settings


def expand_grid(
    registry: Registry,
    grid: Grid,
    *,
    device: str = "cpu",
    data_root: Path | Mapping[str, Path] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RunSpec]:
    """Every run of the grid, resolved and checked, in a stable order (dataset, backbone, labeling, strategy,
    seed). ``data_root`` applies to datasets whose entry gives none: one path for all, or one per dataset
    name (key ``""``: the others). ``settings`` add to the file's ``[set]``."""
    roots = {"": data_root} if data_root is None or isinstance(data_root, Path) else dict(data_root)
    merged: dict[str, dict[str, Any]] = {kind: dict(values) for kind, values in grid.settings.items()}
    for kind, values in (settings or {}).items():
        merged.setdefault(kind, {}).update(values)
    cache: dict[str, ComponentSpec] = {}
    path = grid.path

    def checked(where: str, resolve: Callable[[], T]) -> T:
        try:
            return resolve()
        except AlbenchError as error:
            raise _fail(path, where, str(error)) from None

    def component(where: str, kind: str, name: str, params: Mapping[str, Any]) -> ComponentSpec:
        key = json.dumps([kind, name, params], sort_keys=True, default=str)
        if key not in cache:
            cache[key] = checked(where, partial(resolve_component, registry, kind, name, params))
        return cache[key]

    specs: list[RunSpec] = []
    for entry in grid.datasets:
        config = entry.config
        if "protocol" in merged:
            protocol = checked(f"{entry.where}: set.protocol", partial(config.protocol.replace, **merged["protocol"]))
            config = dataclasses.replace(config, protocol=protocol)
        dataset_params = {**config.dataset.params, **merged.get("dataset", {})}
        root = entry.data_root or roots.get(config.dataset.name, roots.get(""))
        dataset, _ = checked(entry.where, partial(resolve_dataset, registry, config.dataset.name, dataset_params, root))
        superpixels = component(
            f"{entry.where}: superpixels",
            "superpixels",
            config.superpixels.name,
            {**config.superpixels.params, **merged.get("superpixels", {})},
        )
        strategies = checked(
            "strategies", partial(strategy_params, registry, config, grid.strategies, merged.get("strategy", {}))
        )
        strategy_specs = [
            component(f"strategies[{i}] ({label})", "strategy", name, params)
            for i, (label, (name, params)) in enumerate(zip(grid.strategies, strategies))
        ]
        seeds = grid.seeds or config.seeds
        for b_where, backbone in _axis("backbones", grid.backbones, config.backbone):
            backbone_spec = component(b_where, "backbone", backbone[0], {**backbone[1], **merged.get("backbone", {})})
            for l_where, labeling in _axis("labeling", grid.labeling, config.labeling):
                labeling_spec = component(
                    l_where, "labeling", labeling[0], {**labeling[1], **merged.get("labeling", {})}
                )
                specs += [
                    RunSpec(dataset, backbone_spec, superpixels, labeling_spec, strategy, seed, config.protocol, device)
                    for strategy in strategy_specs
                    for seed in seeds
                ]
    return specs


def _axis(key: str, labels: Sequence[str], default: ComponentChoice) -> list[tuple[str, tuple[str, dict[str, Any]]]]:
    """An axis' entries as (where, (name, params)); a name equal to the protocol's keeps its parameters."""
    if not labels:
        return [(f"{key} (the protocol's {default.name})", (default.name, dict(default.params)))]
    entries = []
    for index, label in enumerate(labels):
        name, params = parse_label(label, key.rstrip("s"))
        base = dict(default.params) if name == default.name else {}
        entries.append((f"{key}[{index}] ({label})", (name, {**base, **params})))
    return entries
