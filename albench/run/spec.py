"""The run spec: every choice that determines a run's numbers, resolved, checked and hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albench.components import RUN_KINDS, Dataset
from albench.errors import ParameterError, ProtocolError, UnknownComponentError
from albench.host.registry import Registry
from albench.params import params_to_dict
from albench.run.dataset_digest import content_digest
from albench.run.protocol import BenchmarkConfig, Protocol

__all__ = [
    "SEED_RANGE", "ComponentSpec", "RunSpec", "canonical_hash", "check_seed", "check_strategy_sections", "resolve_component", "resolve_dataset",
    "open_component", "resolve_grid", "resolve_run", "version_drift",
]



def canonical_hash(payload: Any, length: int = 16) -> str:
    """A short sha256 of ``payload`` serialised as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class ComponentSpec:
    """A component's name, complete resolved parameters and implementation version.

    ``identity`` (datasets only) digests what the dataset holds (:meth:`albench.Dataset.identity`), so two
    folders read by the same dataset plugin with the same parameters are never taken for the same data.
    ``content`` (on-disk datasets only) digests the bytes of its files (:mod:`albench.run.dataset_digest`), so
    editing a mask in place gives new run ids. Each is left out of :meth:`canonical` when empty, so a dataset
    generated in code (``toy``) keeps the run ids it had before they existed.
    """

    kind: str
    name: str
    params: Mapping[str, Any]
    version: str
    label: str
    identity: str = ""
    content: str = ""

    def canonical(self) -> dict[str, Any]:
        canonical = {"name": self.name, "params": dict(self.params), "version": self.version}
        if self.identity:
            canonical["identity"] = self.identity
        if self.content:
            canonical["content"] = self.content
        return canonical

    @classmethod
    def from_canonical(cls, kind: str, entry: Mapping[str, Any]) -> ComponentSpec:
        """The spec of one component as a results file or checkpoint stored it."""
        return cls(kind, entry["name"], entry["params"], entry["version"], entry["name"], entry.get("identity", ""),
                   entry.get("content", ""))


@dataclass(frozen=True)
class RunSpec:
    """dataset × backbone × superpixels × labeling × strategy × seed × protocol."""

    dataset: ComponentSpec
    backbone: ComponentSpec
    superpixels: ComponentSpec
    labeling: ComponentSpec
    strategy: ComponentSpec
    seed: int
    protocol: Protocol

    def component(self, kind: str) -> ComponentSpec:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready spec whose hash is the run id."""
        return {
            **{kind: self.component(kind).canonical() for kind in RUN_KINDS},
            "seed": self.seed,
            "protocol": dataclasses.asdict(self.protocol),
        }

    @property
    def run_id(self) -> str:
        return canonical_hash(self.canonical())

    @property
    def protocol_hash(self) -> str:
        """What must match for two runs to be compared: data, superpixels and protocol (not model or strategy)."""
        return canonical_hash(
            {
                "dataset": self.dataset.canonical(),
                "superpixels": self.superpixels.canonical(),
                "protocol": dataclasses.asdict(self.protocol),
            }
        )


def _label(name: str, params: Any) -> str:
    """``name`` plus the parameters that differ from the defaults, e.g. ``oreal(aggregation=mean)``."""
    defaults = params_to_dict(type(params)())  # every field has a default: checked at registration
    changed = {k: v for k, v in params_to_dict(params).items() if defaults.get(k, object()) != v}
    if not changed:
        return name
    return f"{name}({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})"


def resolve_component(registry: Registry, kind: str, name: str, params: Mapping[str, Any]) -> ComponentSpec:
    """Check ``params`` against the component's declared ``Params`` and complete them with the defaults."""
    registration, resolved = registry.resolve(kind, name, params)
    return ComponentSpec(kind, name, params_to_dict(resolved), registration.version, _label(name, resolved))


def open_component(registry: Registry, component: ComponentSpec, *, data_root: Path | None = None) -> Any:
    """An instance of the component a spec names, with the spec's parameters (a dataset reads ``data_root``).

    The one way components are opened from a spec: a new run, a resumed one, and a finished run's stored spec.
    """
    extra = {"root": data_root} if component.kind == "dataset" else {}
    return registry.create(component.kind, component.name, dict(component.params), **extra).instance


def version_drift(registry: Registry, component: ComponentSpec) -> str | None:
    """A note when the installed component's version differs from the one a stored spec recorded."""
    installed = registry.get(component.kind, component.name).version
    if installed == component.version:
        return None
    return f"{component.kind} {component.name!r} is version {installed}, the run used {component.version}"


def resolve_dataset(registry: Registry, name: str, params: Mapping[str, Any],
                    data_root: Path | None) -> tuple[ComponentSpec, Dataset]:
    """The dataset's spec, with its identity, and the dataset itself (reading ``data_root`` fails early)."""
    spec = resolve_component(registry, "dataset", name, params)
    dataset: Dataset = open_component(registry, spec, data_root=data_root)
    return dataclasses.replace(spec, identity=dataset.identity()), dataset


#: Seeds are stored as int64.
SEED_RANGE = (-(2**63), 2**63 - 1)


def check_seed(seed: int, where: str) -> None:
    """Raise :class:`ParameterError` for a seed the results files cannot store."""
    low, high = SEED_RANGE
    if not low <= seed <= high:
        raise ParameterError(f"{where}: seed {seed} is out of range; seeds are 64-bit integers, {low} to {high}")


def check_strategy_sections(registry: Registry, config: BenchmarkConfig) -> None:
    """Every ``[strategies.NAME]`` of a protocol file names a strategy and only its parameters (a misspelled
    section would otherwise be ignored, and the run would use the defaults)."""
    for name, params in config.strategy_params.items():
        try:
            registry.resolve("strategy", name, params)
        except UnknownComponentError as error:
            raise ProtocolError(f"{config.source}: [strategies.{name}]: {error}") from None
        except ParameterError as error:
            raise ProtocolError(f"{config.source}: [strategies.{name}]: {error}") from None


def resolve_grid(
    registry: Registry, config: BenchmarkConfig, strategies: Sequence[str], seeds: Sequence[int],
    overrides: Mapping[str, Mapping[str, Any]] | None = None, *, data_root: Path | None = None,
    cache_dir: Path | None = None,
) -> list[RunSpec]:
    """Every run of strategies × seeds, each component resolved and type-checked before anything trains.

    ``overrides`` maps a kind to parameters that replace the config's (e.g. from ``--set``). The dataset is
    opened once, to check ``data_root`` and to record the dataset's identity and content digest in every spec
    (``cache_dir`` keeps the per-file digests, so a later call reads only the files that changed).
    """
    overrides = overrides or {}
    check_strategy_sections(registry, config)
    for seed in seeds:
        check_seed(seed, f"seed of {config.source}")
    choices = {
        "backbone": config.backbone,
        "superpixels": config.superpixels,
        "labeling": config.labeling,
    }
    dataset, opened = resolve_dataset(
        registry, config.dataset.name, {**config.dataset.params, **overrides.get("dataset", {})}, data_root
    )
    dataset = dataclasses.replace(dataset, content=content_digest(opened.content_files(), opened.root, cache_dir))
    shared = {
        kind: resolve_component(registry, kind, choice.name, {**choice.params, **overrides.get(kind, {})})
        for kind, choice in choices.items()
    }
    specs = []
    for strategy in strategies:
        params = {**config.strategy_params.get(strategy, {}), **overrides.get("strategy", {})}
        strategy_spec = resolve_component(registry, "strategy", strategy, params)
        specs += [RunSpec(dataset=dataset, strategy=strategy_spec, seed=seed, protocol=config.protocol, **shared)
                  for seed in seeds]
    return specs


def resolve_run(
    registry: Registry, config: BenchmarkConfig, strategy: str, seed: int,
    overrides: Mapping[str, Mapping[str, Any]] | None = None, *, data_root: Path | None = None,
    cache_dir: Path | None = None,
) -> RunSpec:
    """One run of :func:`resolve_grid`."""
    (spec,) = resolve_grid(registry, config, [strategy], [seed], overrides, data_root=data_root, cache_dir=cache_dir)
    return spec
