"""The run spec: every choice that determines a run's numbers, resolved, checked and hashed."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albench.components import RUN_KINDS, Dataset
from albench.errors import ParameterError, ProtocolError, UnknownComponentError
from albench.host.registry import Registry
from albench.params import identity_params, params_to_dict
from albench.run.choices import SEED_RANGE, check_seed, parse_label
from albench.run.dataset_digest import content_digest
from albench.run.protocol import BenchmarkConfig, Protocol

__all__ = [
    "SEED_RANGE",
    "ComponentSpec",
    "RunSpec",
    "canonical_hash",
    "check_seed",
    "check_strategy_sections",
    "open_component",
    "protocol_identity",
    "resolve_component",
    "resolve_dataset",
    "resolve_grid",
    "resolve_run",
    "strategy_params",
    "version_drift",
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
    neutral: tuple[str, ...] = ()  # parameters added later that hold their default (albench.params.added)

    def canonical(self) -> dict[str, Any]:
        """What identifies the component in run ids: parameters added later at their default left out."""
        params = {key: value for key, value in self.params.items() if key not in self.neutral}
        canonical = {"name": self.name, "params": params, "version": self.version}
        if self.identity:
            canonical["identity"] = self.identity
        if self.content:
            canonical["content"] = self.content
        return canonical

    @classmethod
    def from_canonical(cls, kind: str, entry: Mapping[str, Any]) -> ComponentSpec:
        """The spec of one component as a results file or checkpoint stored it."""
        return cls(
            kind,
            entry["name"],
            entry["params"],
            entry["version"],
            entry["name"],
            entry.get("identity", ""),
            entry.get("content", ""),
        )


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
    device: str = "cpu"  # the device type (cpu, cuda, mps): numbers differ between them

    def component(self, kind: str) -> ComponentSpec:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def canonical(self) -> dict[str, Any]:
        """The JSON-ready spec whose hash is the run id (the hash policy: :func:`protocol_identity`)."""
        canonical: dict[str, Any] = {
            **{kind: self.component(kind).canonical() for kind in RUN_KINDS},
            "seed": self.seed,
            "protocol": protocol_identity(self.protocol, self.device),
        }
        if self.device != "cpu":
            canonical["device"] = self.device
        return canonical

    @functools.cached_property
    def run_id(self) -> str:
        return canonical_hash(self.canonical())

    @functools.cached_property
    def protocol_hash(self) -> str:
        """What must match for two runs to be compared: data, superpixels and protocol (not model or strategy)."""
        payload: dict[str, Any] = {
            "dataset": self.dataset.canonical(),
            "superpixels": self.superpixels.canonical(),
            "protocol": protocol_identity(self.protocol, self.device),
        }
        if self.device != "cpu":
            payload["device"] = self.device
        return canonical_hash(payload)


def protocol_identity(protocol: Protocol, device: str = "cpu") -> dict[str, Any]:
    """The protocol as run ids and protocol hashes see it (README: "What a run id hashes").

    Every field recorded since the first results is hashed, except two kinds of settings, so that they
    never split results that are the same: a field declared with :func:`albench.params.added` while it
    holds its default (runs from before it existed keep their ids), and a field that only changes the
    numbers on one device type (``threads``: CPU only) on a run on another.
    """
    values = dataclasses.asdict(protocol)
    for field in dataclasses.fields(protocol):
        hashed_on = field.metadata.get("hashed_on")
        if ("added" in field.metadata and getattr(protocol, field.name) == field.default) or (
            hashed_on is not None and hashed_on != device
        ):
            del values[field.name]
    return values


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
    neutral = tuple(key for key in params_to_dict(resolved) if key not in identity_params(resolved))
    return ComponentSpec(
        kind, name, params_to_dict(resolved), registration.version, _label(name, resolved), neutral=neutral
    )


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


def resolve_dataset(
    registry: Registry, name: str, params: Mapping[str, Any], data_root: Path | None
) -> tuple[ComponentSpec, Dataset]:
    """The dataset's spec, with its identity, and the dataset itself (reading ``data_root`` fails early)."""
    spec = resolve_component(registry, "dataset", name, params)
    dataset: Dataset = open_component(registry, spec, data_root=data_root)
    return dataclasses.replace(spec, identity=dataset.identity()), dataset


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


def strategy_params(
    registry: Registry, config: BenchmarkConfig, labels: Sequence[str], settings: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Each strategy label as (name, raw parameters): the protocol file's ``[strategies.NAME]``, then the
    ``settings`` (``--set strategy.X``) that the strategy declares, then the label's own parameters.

    A setting applies to the strategies that declare it; one that no chosen strategy declares is an error.
    """
    chosen = [parse_label(label) for label in labels]
    declared = {
        name: {f.name for f in dataclasses.fields(registry.get("strategy", name).cls.Params)} for name, _ in chosen
    }
    for key in settings:
        if not any(key in fields for fields in declared.values()):
            known = sorted(set().union(*declared.values()))
            close = difflib.get_close_matches(key, known, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ParameterError(
                f"--set strategy.{key}: no chosen strategy ({', '.join(dict.fromkeys(n for n, _ in chosen))}) "
                f"has a parameter {key!r}.{hint} Their parameters: {', '.join(known) or '(none)'}."
            )
    return [
        (
            name,
            {
                **config.strategy_params.get(name, {}),
                **{k: v for k, v in settings.items() if k in declared[name]},
                **params,
            },
        )
        for name, params in chosen
    ]


def resolve_grid(
    registry: Registry,
    config: BenchmarkConfig,
    strategies: Sequence[str],
    seeds: Sequence[int],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    device: str = "cpu",
) -> list[RunSpec]:
    """Every run of strategies × seeds, each component resolved and type-checked before anything trains.

    ``strategies`` are labels (``oreal``, ``oreal(aggregation=mean)``). ``overrides`` maps a kind to
    parameters that replace the config's (e.g. from ``--set``). The dataset is opened once, to check
    ``data_root`` and to record the dataset's identity and content digest in every spec (``cache_dir`` keeps
    the per-file digests, so a later call reads only the files that changed). ``device`` is the device type
    the runs execute on (``cpu``, ``cuda``, ``mps``).
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
    for name, params in strategy_params(registry, config, strategies, overrides.get("strategy", {})):
        strategy_spec = resolve_component(registry, "strategy", name, params)
        specs += [
            RunSpec(
                dataset=dataset, strategy=strategy_spec, seed=seed, protocol=config.protocol, device=device, **shared
            )
            for seed in seeds
        ]
    return specs


def resolve_run(
    registry: Registry,
    config: BenchmarkConfig,
    strategy: str,
    seed: int,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
) -> RunSpec:
    """One run of :func:`resolve_grid`."""
    (spec,) = resolve_grid(registry, config, [strategy], [seed], overrides, data_root=data_root, cache_dir=cache_dir)
    return spec
