"""The protocol (budget, rounds, training schedule) and protocol files that pick the components.

A protocol file is TOML::

    [protocol]            # fields of Protocol; omitted ones keep their defaults
    budget = 100
    rounds = 6

    [dataset]             # one section per component kind: `name` plus that component's parameters
    name = "toy"

    [strategies.pixelbal] # per-strategy parameters, used when that strategy runs
    nu = 12
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from albench.components import RUN_KINDS
from albench.errors import ParameterError, ProtocolError, os_error_message
from albench.params import added, resolve_params

__all__ = [
    "BUNDLED_PROTOCOLS",
    "DEFAULT_CONFIG",
    "BenchmarkConfig",
    "ComponentChoice",
    "Protocol",
    "find_protocol_file",
    "load_protocol_file",
]


@dataclass(frozen=True)
class Protocol:
    """How a run proceeds (docs/protocol.md). Every field is recorded with the results.

    ``budget`` is Q, the clicks spent per round; the initial labeled set holds Q random regions.
    ``steps`` optimizer steps train each round, warm-started from the previous round's model when
    ``warm_start`` (the OREAL authors' protocol), else from the same initial weights.
    ``overshoot`` spends clicks as the OREAL authors' multi-class loop does: regions are added while the clicks
    spent before them do not exceed the budget, so the region that crosses it is kept (with one click per
    region it changes nothing).
    ``patience`` turns ``steps`` into a maximum: every ``eval_every`` steps the model is scored on the
    validation split, and a round's training stops after ``patience`` checks without a better validation
    mIoU, keeping the best weights (the OREAL authors: patience 10). ``None`` trains every step.
    ``class_weights`` weighs each labeled pixel's loss by its class (``inverse-sqrt``: ∝ f_c^(−1/2) of the
    labeled pixels' class frequencies f_c, recomputed every round; ``inverse``: ∝ 1/f_c; mean weight 1), so
    long-tailed classes are not left unlearned; it applies to stages with dense targets.
    ``metric`` picks the mIoU convention of the ``miou`` column: ``standard`` leaves out classes absent
    from both ground truth and prediction; ``paper`` is the OREAL code's (absent from ground truth → IoU
    1, background left out). The confusion matrix is recorded either way.
    ``precision`` ``bf16`` runs the model's forward passes (training, evaluation, scoring) under bfloat16
    autocast, on the GPU and on the CPU alike; ``channels_last`` keeps the model and its input batches in
    channels-last memory order. Both change the numbers (other kernels, other rounding), so both are part
    of the protocol; the defaults are fp32 and the contiguous order (README §Throughput).
    """

    budget: int = 300
    rounds: int = 6
    warm_start: bool = True
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.0
    optimizer: Literal["adam", "sgd"] = "adam"
    loss: Literal["ce", "focal"] = "ce"
    focal_gamma: float = 2.0
    # Fields added after results were recorded: left out of run ids while they hold their default.
    class_weights: Literal["none", "inverse-sqrt", "inverse"] = added("none", since="0.1.0")
    ema_decay: float | None = 0.99
    augment: bool = True
    eval_batch_size: int = 32
    score_batch_size: int = 32
    # CPU threads: they change a CPU run's numbers (reduction order) but not a GPU run's, so only CPU runs hash them.
    threads: int = field(default=2, metadata={"hashed_on": "cpu"})
    num_workers: int = 0
    overshoot: bool = False
    metric: Literal["standard", "paper"] = "standard"
    patience: int | None = 3
    eval_every: int = 50
    precision: Literal["fp32", "bf16"] = added("fp32", since="0.1.0")
    channels_last: bool = added(False, since="0.1.0")

    def __post_init__(self) -> None:
        positive = ("budget", "rounds", "batch_size", "eval_batch_size", "score_batch_size", "threads", "eval_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("steps", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 or none, got {self.patience}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or none, got {self.ema_decay}")

    def replace(self, **changes: Any) -> Protocol:
        """A copy with ``changes`` applied and checked."""
        return resolve_params(Protocol, {**dataclasses.asdict(self), **changes}, owner="protocol")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ComponentChoice:
    """A component by name with raw parameter values (checked when the run is resolved)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchmarkConfig:
    """A protocol plus the components it runs on; a strategy and a seed make it a run."""

    protocol: Protocol = field(default_factory=Protocol)
    dataset: ComponentChoice = field(default_factory=lambda: ComponentChoice("toy"))
    backbone: ComponentChoice = field(default_factory=lambda: ComponentChoice("tiny-deeplab"))
    # compactness 20: ~57 regions per 64×64 scene whose dominant labels reach 71.7 mIoU (`albench superpixels
    # stats`), near the paper's Cityscapes ceiling (74.6); scikit-image's default 10 gives 48 and 60.2.
    superpixels: ComponentChoice = field(default_factory=lambda: ComponentChoice("slic", {"compactness": 20.0}))
    labeling: ComponentChoice = field(default_factory=lambda: ComponentChoice("dominant"))
    strategy_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    source: str = "the embedded default"


DEFAULT_CONFIG = BenchmarkConfig()

# Every run kind but the strategy, which a run gets from the command line (its parameters: [strategies.NAME]).
_COMPONENT_SECTIONS = tuple(kind for kind in RUN_KINDS if kind != "strategy")
_SECTIONS = ("protocol", *_COMPONENT_SECTIONS, "strategies", "seeds")


#: The protocol files shipped with albench (package data): the paper's datasets and the embedded default.
BUNDLED_PROTOCOLS = Path(__file__).resolve().parent / "protocols"


def find_protocol_file(value: str | Path) -> Path:
    """A protocol file by path, or by the name of a bundled one (``voc`` → the shipped ``voc.toml``)."""
    path = Path(value)
    if path.exists() or path.suffix or len(path.parts) != 1:
        return path
    bundled = BUNDLED_PROTOCOLS / f"{path.name}.toml"
    if bundled.is_file():
        return bundled
    names = sorted(p.stem for p in BUNDLED_PROTOCOLS.glob("*.toml"))
    close = difflib.get_close_matches(path.name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ProtocolError(
        f"protocol {str(value)!r} is neither a file nor a bundled protocol.{hint} "
        f"Bundled: {', '.join(names)}; or pass the path of a TOML file"
    )


def load_protocol_file(value: str | Path) -> BenchmarkConfig:
    """Read and check a protocol file (a path, or a bundled protocol's name); errors name the file and field."""
    path = find_protocol_file(value)
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.toml"))[:5]
        hint = f", e.g. {path / inside[0]} (it holds {', '.join(inside)})" if inside else ""
        raise ProtocolError(f"protocol file {path} is a directory; pass the TOML file itself{hint}")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ProtocolError(f"protocol file {path} does not exist") from None
    except OSError as error:
        raise ProtocolError(os_error_message(error, action="read protocol file", path=path)) from None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ProtocolError(
            f"protocol file {path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line "
            f"{line}); save it as UTF-8, as TOML requires"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ProtocolError(f"protocol file {path} is not valid TOML: {error}") from None
    for key in data:
        if key not in _SECTIONS:
            close = difflib.get_close_matches(key, _SECTIONS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ProtocolError(f"{path}: unknown section {key!r}.{hint} Sections: {', '.join(_SECTIONS)}.")
    try:
        protocol = resolve_params(Protocol, _table(data, "protocol", path), owner=f"{path}: [protocol]")
    except ParameterError as error:
        raise ProtocolError(str(error)) from None
    choices: dict[str, ComponentChoice] = {}
    for section in _COMPONENT_SECTIONS:
        table = dict(_table(data, section, path))
        default: ComponentChoice = getattr(DEFAULT_CONFIG, section)
        name = table.pop("name", default.name)
        if not isinstance(name, str):
            raise ProtocolError(f"{path}: [{section}] name must be a string, got {name!r}")
        choices[section] = ComponentChoice(name, table if name != default.name else {**default.params, **table})
    strategies = _table(data, "strategies", path)
    for strategy, params in strategies.items():
        if not isinstance(params, dict):
            raise ProtocolError(f"{path}: [strategies.{strategy}] must be a table of parameters")
    seeds = data.get("seeds", list(DEFAULT_CONFIG.seeds))
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ProtocolError(f"{path}: seeds must be a non-empty list of integers, got {seeds!r}")
    return BenchmarkConfig(
        protocol=protocol, strategy_params=strategies, seeds=tuple(seeds), source=str(path), **choices
    )


def _table(data: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ProtocolError(f"{path}: [{key}] must be a table")
    return value
