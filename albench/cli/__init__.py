"""The ``albench`` command line: each command lives in its own module and only renders."""

from __future__ import annotations

import typer

from albench.cli import leaderboard, loop, plot, plugins, report, run, superpixels, sweep

__all__ = ["app", "main"]

app = typer.Typer(
    name="albench",
    help="Benchmark active-learning query strategies for semantic segmentation, deterministically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("run")(run.run)
app.command("sweep")(sweep.sweep)
app.command("leaderboard")(leaderboard.leaderboard)
app.command("plugins")(plugins.plugins)
app.add_typer(superpixels.app, name="superpixels")
app.add_typer(report.app, name="report")
app.add_typer(plot.app, name="plot")
app.add_typer(loop.app, name="loop")


def main() -> None:
    app()
