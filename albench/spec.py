"""The run spec: every choice that determines a run's numbers, resolved, checked and hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from albench.params import params_to_dict
from albench.protocol import BenchmarkConfig, Protocol
from albench.registry import Registry

__all__ = ["KIND_ORDER", "ComponentSpec", "RunSpec", "canonical_hash", "resolve_run"]

KIND_ORDER = ("dataset", "backbone", "superpixels", "labeling", "strategy")


def canonical_hash(payload: Any, length: int = 16) -> str:
    """A short sha256 of ``payload`` serialised as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class ComponentSpec:
    """A component's name, complete resolved parameters and implementation version."""

    kind: str
    name: str
    params: Mapping[str, Any]
    version: str
    label: str

    def canonical(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "version": self.version}


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
            **{kind: self.component(kind).canonical() for kind in KIND_ORDER},
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
    try:
        defaults = params_to_dict(type(params)())
    except TypeError:  # a Params without defaults for every field
        defaults = {}
    changed = {k: v for k, v in params_to_dict(params).items() if defaults.get(k, object()) != v}
    if not changed:
        return name
    return f"{name}({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})"


def resolve_run(
    registry: Registry, config: BenchmarkConfig, strategy: str, seed: int,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunSpec:
    """Resolve and type-check every component's parameters, before anything is built or trained.

    ``overrides`` maps a kind to parameters that replace the config's (e.g. from ``--set``).
    """
    overrides = overrides or {}
    choices = {
        "dataset": (config.dataset.name, config.dataset.params),
        "backbone": (config.backbone.name, config.backbone.params),
        "superpixels": (config.superpixels.name, config.superpixels.params),
        "labeling": (config.labeling.name, config.labeling.params),
        "strategy": (strategy, config.strategy_params.get(strategy, {})),
    }
    specs: dict[str, ComponentSpec] = {}
    for kind in KIND_ORDER:
        name, params = choices[kind]
        registration, resolved = registry.resolve(kind, name, {**params, **overrides.get(kind, {})})
        specs[kind] = ComponentSpec(kind, name, params_to_dict(resolved), registration.version, _label(name, resolved))
    return RunSpec(seed=seed, protocol=config.protocol, **specs)
