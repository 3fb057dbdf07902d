"""``albench plugins``: every component by kind, who provides it, its parameters, and the plugins that failed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from albench.cli._common import FormatOption, OutputFormat, err, handle_errors, out
from albench.cli._tables import print_table
from albench.components import KINDS
from albench.errors import UnknownComponentError
from albench.host.registry import Registration, Registry, load_registry
from albench.params import describe_params

NamesArgument = Annotated[
    list[str] | None, typer.Argument(help="Only these components (names); default: all.", show_default=False)
]
KindOption = Annotated[str | None, typer.Option("--kind", "-k", help=f"Only one kind: {', '.join(KINDS)}.")]


def _parameters(registration: Registration) -> list[dict[str, Any]]:
    """Each parameter's name, type, default and doc (docstring ``code`` spans as markdown's `code`)."""
    return [{**vars(info), "doc": info.doc.replace("``", "`")} for info in describe_params(registration.cls.Params)]


def _shown(value: Any) -> str:
    """A default in the style of the types: strings quoted as the choices are, ``none`` for unset, JSON else."""
    if value is None:
        return "none"
    return repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _selected(registry: Registry, names: list[str] | None, kind: str | None) -> list[Registration]:
    if kind is not None and kind not in KINDS:
        raise UnknownComponentError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")
    chosen = [r for r in registry.registrations() if kind is None or r.kind == kind]
    if names:
        known = {r.name for r in chosen}
        for name in names:
            if name not in known:
                registry.get(kind or _kind_of(registry, name), name)  # raises with close matches
        chosen = [r for r in chosen if r.name in names]
    return chosen


def _kind_of(registry: Registry, name: str) -> str:
    """The kind to search for close matches of an unknown ``name``: the one with the closest name."""
    import difflib

    best = max(
        KINDS,
        key=lambda k: max((difflib.SequenceMatcher(None, name, n).ratio() for n in registry.names(k)), default=0.0),
    )
    return best


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def parameter_markdown(registrations: list[Registration], kind: str) -> str:
    """One markdown table of the parameters of ``registrations`` (all of ``kind``): what the README embeds."""
    lines = [f"| {kind} | parameter | type | default | meaning |", "|---|---|---|---|---|"]
    for registration in registrations:
        parameters = _parameters(registration)
        if not parameters:
            lines.append(f"| `{registration.name}` | – | | | takes no parameters |")
        for p in parameters:
            lines.append(
                f"| `{registration.name}` | `{p['name']}` | `{_escape(p['type'])}` | "
                f"`{_escape(_shown(p['default']))}` | {_escape(p['doc'])} |"
            )
    return "\n".join(lines)


def plugins(names: NamesArgument = None, kind: KindOption = None, format: FormatOption = OutputFormat.table) -> None:
    """List components by kind with their plugin, distribution, version and parameters; show broken plugins."""
    with handle_errors():
        registry = load_registry()
        chosen = _selected(registry, names, kind)
        components: list[dict[str, Any]] = [
            {
                "kind": r.kind,
                "name": r.name,
                "version": r.version,
                "plugin": r.plugin,
                "distribution": r.distribution,
                "distribution_version": r.distribution_version,
                "parameters": _parameters(r),
            }
            for r in chosen
        ]
        broken = [
            {
                "plugin": b.name,
                "distribution": b.distribution,
                "version": b.version,
                "error": b.error,
                "summary": b.describe(),
            }
            for b in registry.broken
        ]
        duplicates = [
            {
                "kind": regs[0].kind,
                "name": regs[0].name,
                "plugins": " and ".join(f"{r.plugin} ({r.distribution})" for r in regs),
            }
            for regs in registry.duplicates()
        ]
        if format is OutputFormat.json:
            typer.echo(
                json.dumps(
                    {"components": components, "broken": broken, "duplicates": duplicates}, indent=2, ensure_ascii=False
                )
            )
            return
        if format is OutputFormat.markdown:
            kinds = [k for k in KINDS if any(r.kind == k for r in chosen)]
            typer.echo("\n\n".join(parameter_markdown([r for r in chosen if r.kind == k], k) for k in kinds))
            return
        if format is not OutputFormat.table:
            raise typer.BadParameter("plugins supports --format table, json or markdown", param_hint="--format")
        table = Table(title="albench components", title_justify="left")
        for column in ("kind", "name", "version", "plugin", "distribution"):
            table.add_column(column)
        for c in components:
            dist = f"{c['distribution']} {c['distribution_version']}".strip()
            table.add_row(c["kind"], c["name"], c["version"], c["plugin"], dist)
        print_table(out, table)
        # One line per parameter, never wrapped, so `albench plugins | grep` finds a component's parameters.
        with_parameters = [c for c in components if c["parameters"]]
        if with_parameters:
            out.print("\nparameters (set with --set KIND.PARAMETER=VALUE):", highlight=False)
        for c in with_parameters:
            out.print(f"{c['kind']} {c['name']}:", highlight=False, markup=False)
            for p in c["parameters"]:
                doc = f"  {p['doc']}" if p["doc"] else ""
                out.print(f"  {p['name']}: {p['type']} = {_shown(p['default'])}{doc}", highlight=False, markup=False)
        if duplicates:
            dup_table = Table(
                title=Text("duplicate names (unusable until one plugin is removed)", style="red"), title_justify="left"
            )
            for column in ("kind", "name", "registered by"):
                dup_table.add_column(column)
            for d in duplicates:
                dup_table.add_row(d["kind"], d["name"], d["plugins"])
            print_table(out, dup_table)
        if broken:
            err.print(
                Text(f"{len(broken)} plugin(s) failed to load", style="red")
                + Text("; commands that do not need them still work:")
            )
            for b in broken:
                err.print(f"  {b['summary']}", highlight=False, markup=False)
