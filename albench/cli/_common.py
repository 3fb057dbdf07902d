"""What the commands share: consoles (data to stdout, messages to stderr), option types, error handling."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from albench.errors import AlbenchError, os_error_message
from albench.run.progress import Advance

__all__ = ["ResultsDirOption", "RichProgress", "err", "handle_errors", "out", "print_error"]

# No markup and no highlighting: what is printed holds user data (paths, TOML sections, labels with brackets),
# which rich would otherwise read as markup tags, dropping the text or failing on it. Styles go in Text.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr, the message printed as it is (no markup)."""
    err.print(Text("error: ", style="bold red") + Text(" ".join(message.split())))


class OutputFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


ResultsDirOption = Annotated[
    Path, typer.Option("--results-dir", "-r", help="Directory of the per-run Parquet files.", show_default=True)
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


def default_cache_dir() -> Path:
    """``$ALBENCH_CACHE_DIR``, else ``~/.cache/albench``."""
    return Path(os.environ.get("ALBENCH_CACHE_DIR", Path.home() / ".cache" / "albench"))


@contextmanager
def handle_errors() -> Iterator[None]:
    """Print an :class:`AlbenchError`, or an :class:`OSError` (a path albench could not read or write), as
    one line on stderr and exit 1, without a traceback."""
    try:
        yield
    except AlbenchError as error:
        print_error(str(error))
        raise typer.Exit(1) from None
    except OSError as error:
        print_error(os_error_message(error))
        raise typer.Exit(1) from None


class RichProgress:
    """rich progress bars on stderr, implementing :class:`albench.run.progress.Progress`."""

    def __init__(self, console: Console = err) -> None:
        self._bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def task(self, description: str, total: int | None) -> AbstractContextManager[Advance]:
        return self._task(description, total)

    @contextmanager
    def _task(self, description: str, total: int | None) -> Iterator[Advance]:
        task_id = self._bars.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            self._bars.advance(task_id, n)

        try:
            yield advance
        finally:
            self._bars.remove_task(task_id)

    def log(self, message: str) -> None:
        self._bars.console.print(message, highlight=False, markup=False)
