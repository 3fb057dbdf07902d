"""What users type to choose runs: strategy labels, seed lists and ``--set`` settings, parsed.

A strategy label is the name the results already use for a configured strategy: ``oreal`` or
``oreal(aggregation=mean, score=prob-entropy)``. The same text chooses the strategy on the command line
(``-s``) and in grid files, so a label copied from a leaderboard reruns exactly that strategy.
"""

from __future__ import annotations

import re
from collections import defaultdict

from albench.components import RUN_KINDS
from albench.errors import ParameterError

__all__ = ["MAX_SEEDS", "SEED_RANGE", "SET_KINDS", "check_seed", "parse_label", "parse_seeds", "parse_settings"]

SET_KINDS = ("protocol", *RUN_KINDS)

#: The most seeds one range may expand to (a typo like 0-100000000 would otherwise hang building the grid).
MAX_SEEDS = 10_000

#: Seeds are stored as int64.
SEED_RANGE = (-(2**63), 2**63 - 1)


def check_seed(seed: int, where: str) -> None:
    """Raise :class:`ParameterError` for a seed the results files cannot store."""
    low, high = SEED_RANGE
    if not low <= seed <= high:
        raise ParameterError(f"{where}: seed {seed} is out of range; seeds are 64-bit integers, {low} to {high}")


_LABEL = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:\((.*)\))?\s*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, so ``classes=(1, 2)`` stays one parameter."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def parse_label(label: str, what: str = "strategy") -> tuple[str, dict[str, str]]:
    """``"oreal(aggregation=mean)"`` → ``("oreal", {"aggregation": "mean"})``; values stay text, to be
    checked against the component's declared parameters like ``--set`` values."""
    match = _LABEL.fullmatch(label)
    if not match:
        raise ParameterError(f"{what} {label!r}: expected NAME or NAME(PARAM=VALUE, ...), e.g. oreal(aggregation=mean)")
    name, inner = match[1], match[2]
    params: dict[str, str] = {}
    for part in _split_top_level(inner or ""):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            raise ParameterError(f"{what} {label!r}: {part!r} is not PARAM=VALUE")
        if key in params:
            raise ParameterError(f"{what} {label!r}: parameter {key!r} given twice")
        params[key] = value.strip().strip("\"'")
    return name, params


def parse_seeds(values: list[str]) -> tuple[int, ...]:
    """``["0", "2-4", "7,9"]`` → ``(0, 2, 3, 4, 7, 9)``."""
    seeds: list[int] = []
    for value in values:
        for part in value.split(","):
            match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
            if not match:
                raise ParameterError(f"--seed {value!r}: expected an integer, a range like 0-2, or a list like 0,1,2")
            start, stop = int(match[1]), int(match[2] if match[2] is not None else match[1])
            check_seed(start, f"--seed {value!r}")
            check_seed(stop, f"--seed {value!r}")
            if stop < start:
                raise ParameterError(f"--seed {value!r}: the range ends before it starts")
            if stop - start >= MAX_SEEDS:
                raise ParameterError(f"--seed {value!r}: {stop - start + 1} seeds; at most {MAX_SEEDS} in one command")
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
