"""``albench plugins``: every component by kind, who provides it, and the plugins that failed to load."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from albench.cli._common import FormatOption, OutputFormat, err, handle_errors, out
from albench.cli._tables import print_table
from albench.registry import load_registry


def plugins(format: FormatOption = OutputFormat.table) -> None:
    """List components by kind with their plugin, distribution and version; show broken plugins."""
    with handle_errors():
        registry = load_registry()
        components = [
            {
                "kind": r.kind,
                "name": r.name,
                "version": r.version,
                "plugin": r.plugin,
                "distribution": r.distribution,
                "distribution_version": r.distribution_version,
            }
            for r in registry.registrations()
        ]
        broken = [{"plugin": b.name, "distribution": b.distribution, "error": b.error} for b in registry.broken]
        duplicates = [
            {
                "kind": regs[0].kind,
                "name": regs[0].name,
                "plugins": " and ".join(f"{r.plugin} ({r.distribution})" for r in regs),
            }
            for regs in registry.duplicates()
        ]
        if format is OutputFormat.json:
            typer.echo(json.dumps({"components": components, "broken": broken, "duplicates": duplicates}, indent=2))
            return
        if format is not OutputFormat.table:
            raise typer.BadParameter("plugins supports --format table or json", param_hint="--format")
        table = Table(title="albench components", title_justify="left")
        for column in ("kind", "name", "version", "plugin", "distribution"):
            table.add_column(column)
        for c in components:
            dist = f"{c['distribution']} {c['distribution_version']}".strip()
            table.add_row(c["kind"], c["name"], c["version"], c["plugin"], dist)
        print_table(out, table)
        if duplicates:
            dup_table = Table(
                title="[red]duplicate names (unusable until one plugin is removed)[/]", title_justify="left"
            )
            for column in ("kind", "name", "registered by"):
                dup_table.add_column(column)
            for d in duplicates:
                dup_table.add_row(d["kind"], d["name"], d["plugins"])
            print_table(out, dup_table)
        if broken:
            broken_table = Table(title="[red]plugins that failed to load[/]", title_justify="left")
            for column in ("plugin", "distribution"):
                broken_table.add_column(column)
            broken_table.add_column("error", overflow="fold", max_width=80)
            for b in broken:
                broken_table.add_row(b["plugin"], b["distribution"], b["error"])
            print_table(out, broken_table)
            err.print(f"{len(broken)} plugin(s) failed to load; commands that do not need them still work.")
