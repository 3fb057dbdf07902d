"""What every contract check shares: the error, opening a component, global seeds, and input snapshots."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from albench.components import KINDS
from albench.errors import AlbenchError
from albench.params import check_params_class, resolve_params

__all__ = ["ContractError", "Contract", "global_seeds", "snapshot", "changed"]


class ContractError(AlbenchError, AssertionError):
    """A component broke a rule of its kind's contract. The message names the component and the rule.

    It is an ``AssertionError``, so pytest reports a broken contract as a test failure, not an error.
    """


class Contract:
    """One check's subject: the component's kind and class, and its parameters, resolved as a run would."""

    def __init__(self, kind: str, component: type, params: Mapping[str, Any] | object | None) -> None:
        self.kind = kind
        base = KINDS[kind].base
        name = getattr(component, "name", None)
        self.name = name if isinstance(name, str) and name else getattr(component, "__qualname__", repr(component))
        if not (isinstance(component, type) and issubclass(component, base)):
            self.fail("is a subclass of albench." + base.__name__, f"got {component!r}")
        if not isinstance(name, str) or not name:
            self.fail("has a `name`", f"{component.__qualname__} sets no non-empty string `name` class attribute")
        version = getattr(component, "version", None)
        if not isinstance(version, str) or not version:
            self.fail(
                "has a `version`",
                f"`version` must be a non-empty string (bump it when results change), got {version!r}",
            )
        self.cls = component
        params_cls: type = getattr(component, "Params", None)  # type: ignore[assignment]
        self.params_cls = params_cls
        try:
            check_params_class(params_cls, owner=f"{kind} {self.name!r}")
        except TypeError as error:
            self.fail("declares valid `Params`", str(error))
        if params is None or isinstance(params, Mapping):
            self.params = resolve_params(params_cls, params or {}, owner=f"{kind} {self.name!r}")
        elif isinstance(params, params_cls):
            self.params = params
        else:
            self.fail(
                "is checked with its own `Params`",
                f"params must be a mapping or a {params_cls.__name__}, got {type(params).__name__}",
            )

    def fail(self, rule: str, detail: str) -> None:
        """Raise the :class:`ContractError` of ``rule`` ("returns an array", ...) with what went wrong."""
        raise ContractError(f"{self.kind} {self.name!r} breaks the contract rule '{rule}': {detail}")

    def check(self, condition: bool, rule: str, detail: str) -> None:
        if not condition:
            self.fail(rule, detail)

    @contextlib.contextmanager
    def calling(self, rule: str, what: str) -> Iterator[None]:
        """Turn an exception raised by the component into a :class:`ContractError` naming ``rule``."""
        try:
            yield
        except ContractError:
            raise
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            self.fail(rule, f"{what} raised {type(error).__name__}: {first_line}")


@contextlib.contextmanager
def global_seeds(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators with ``seed``; restore their states afterwards.

    A component that draws from them gives different results under two seeds: that is how the checks see
    randomness that does not come from the generator albench hands it.
    """
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def snapshot(value: Any) -> Any:
    """A deep copy of the arrays and tensors in ``value`` (dicts, lists, tuples, dataclasses), for :func:`changed`."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, Mapping):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [snapshot(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: snapshot(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if hasattr(value, "__dict__") and not callable(value):
        return {key: snapshot(item) for key, item in vars(value).items() if not key.startswith("_")}
    return None


def changed(before: Any, value: Any, path: str = "") -> str | None:
    """The path of the first array in ``value`` that differs from its :func:`snapshot` ``before``, or None."""
    if isinstance(value, np.ndarray):
        same = before.shape == value.shape and np.array_equal(before, value, equal_nan=value.dtype.kind in "fc")
        return None if same else path or "the array"
    if isinstance(value, torch.Tensor):
        same = before.shape == value.shape and bool(
            torch.equal(before, value.detach())
            or (value.is_floating_point() and torch.allclose(before, value, rtol=0, atol=0, equal_nan=True))
        )
        return None if same else path or "the tensor"
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = changed(before.get(key), item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, (old, item) in enumerate(zip(before, value)):
            found = changed(old, item, f"{path}[{index}]")
            if found:
                return found
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            found = changed(before[field.name], getattr(value, field.name), f"{path}.{field.name}".lstrip("."))
            if found:
                return found
        return None
    if isinstance(before, dict) and hasattr(value, "__dict__"):
        for key, old in before.items():
            found = changed(old, getattr(value, key), f"{path}.{key}".lstrip("."))
            if found:
                return found
    return None
