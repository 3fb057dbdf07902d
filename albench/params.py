'''Typed component parameters: declared as a frozen dataclass, checked before any training starts.

A component declares ``Params``, a frozen dataclass whose fields carry type hints and defaults. Raw values
come from the command line (strings) or a protocol file (TOML values); :func:`resolve_params` turns them into
a ``Params`` instance or raises :class:`~albench.errors.ParameterError` naming the component and the field.

Each parameter is documented in the ``Attributes:`` section of the dataclass's docstring, one
``name: what it does`` line per field (continuation lines indented further), as Google-style docstrings
do; ``albench plugins`` and the README's parameter tables show those lines (:func:`describe_params`)::

    @dataclass(frozen=True)
    class EntropyParams:
        """Parameters of ``entropy``.

        Attributes:
            aggregation: how H(x) is reduced over a region: mean, max or p95.
        """

        aggregation: RegionAggregation = "mean"
'''

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from albench.errors import ParameterError

__all__ = [
    "NoParams",
    "ParamInfo",
    "added",
    "check_params_class",
    "coerce_value",
    "describe_params",
    "describe_type",
    "identity_params",
    "params_to_dict",
    "resolve_params",
]


@dataclasses.dataclass(frozen=True)
class NoParams:
    """The parameters of a component that takes none."""


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def describe_type(tp: Any) -> str:
    """A parameter's type as users write values of it: ``'max' | 'mean'``, ``int | None``, ``tuple[float, ...]``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(describe_type(a) for a in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        return f"tuple[{describe_type(args[0])}, ...]" if args else "tuple"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def coerce_value(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp``; strings (from the command line) are parsed. Raises ValueError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() == "none" and type(None) in args):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce_value(value, arg)
            except ValueError:
                continue
        raise ValueError
    if origin is Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ValueError
    if origin is tuple:
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ValueError
        (item_type, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(coerce_value(v, item_type) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError
    if tp is int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value)
        raise ValueError
    if tp is float:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value)
        raise ValueError
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError
    if tp is Any:
        return value
    raise ValueError


def resolve_params(params_cls: type, raw: Mapping[str, Any], *, owner: str) -> Any:
    """Build ``params_cls`` from ``raw``; ``owner`` (e.g. "strategy 'oreal'") names the component in errors."""
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    hints = typing.get_type_hints(params_cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(fields) if fields else "(none)"
            raise ParameterError(f"{owner} has no parameter {key!r}.{hint} Its parameters: {known}.")
        tp = hints[key]
        try:
            values[key] = coerce_value(value, tp)
        except (ValueError, json.JSONDecodeError):
            raise ParameterError(f"{owner}: parameter {key!r} must be {describe_type(tp)}, got {value!r}.") from None
    try:
        return params_cls(**values)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{owner}: {error}") from None


def check_params_class(params_cls: Any, *, owner: str) -> None:
    """Refuse a ``Params`` that cannot work: not a dataclass, a field without a default, or a type hint that
    cannot be resolved. Run when a component registers, so a broken plugin is named before anything runs."""
    if not (isinstance(params_cls, type) and dataclasses.is_dataclass(params_cls)):
        raise TypeError(f"{owner}: `Params` must be a dataclass")
    try:
        typing.get_type_hints(params_cls)
    except Exception as error:
        raise TypeError(f"{owner}: the type hints of `Params` cannot be resolved ({error})") from None
    try:
        params_cls()
    except TypeError as error:
        raise TypeError(f"{owner}: every `Params` field needs a default ({error})") from None


def params_to_dict(params: Any) -> dict[str, Any]:
    """The parameters as a JSON-ready dict (tuples become lists), for hashing and the results."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """One parameter as ``albench plugins`` shows it: name, type, default (JSON-ready) and documentation."""

    name: str
    type: str
    default: Any
    doc: str


_SECTION = re.compile(r"^(Attributes|Parameters|Args):\s*$")
_ENTRY = re.compile(r"^(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name → text`` from the ``Attributes:`` section of ``cls``'s own docstring."""
    docs: dict[str, str] = {}
    lines = (cls.__dict__.get("__doc__") or "").expandtabs().splitlines()
    header = next((i for i, line in enumerate(lines) if _SECTION.match(line.strip())), None)
    if header is None:
        return docs
    base = len(lines[header]) - len(lines[header].lstrip())
    entry_indent, current = None, None
    for line in lines[header + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= base:
            break  # the section ended
        if entry_indent is None:
            entry_indent = indent
        match = _ENTRY.match(line.strip())
        if indent == entry_indent and match:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current is not None and indent > entry_indent:
            docs[current] = f"{docs[current]} {line.strip()}".strip()
    return docs


def describe_params(params_cls: type) -> list[ParamInfo]:
    """Every field of a ``Params`` dataclass with its type, default and documentation (see the module
    docstring for the convention; a field a subclass inherits keeps its base class's line)."""
    docs: dict[str, str] = {}
    for cls in reversed(params_cls.__mro__):
        docs.update(_attribute_docs(cls))
    hints = typing.get_type_hints(params_cls)
    defaults = params_to_dict(params_cls())
    return [
        ParamInfo(f.name, describe_type(hints[f.name]), defaults[f.name], docs.get(f.name, ""))
        for f in dataclasses.fields(params_cls)
    ]


def added(default: Any, since: str) -> Any:
    """Declare a parameter added after runs were recorded without it: ``x: int = added(0, since="0.2")``.

    While it keeps ``default`` (which must leave the numbers as they were), it is left out of run ids and
    protocol hashes, so results from before the parameter existed keep their ids and group with new ones.
    """
    return dataclasses.field(default=default, metadata={"added": since})


def identity_params(params: Any) -> dict[str, Any]:
    """:func:`params_to_dict` without the :func:`added` parameters that hold their default: what is hashed."""
    values = params_to_dict(params)
    for field in dataclasses.fields(params):
        if "added" in field.metadata and getattr(params, field.name) == field.default:
            del values[field.name]
    return values
