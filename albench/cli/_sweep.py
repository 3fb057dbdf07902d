"""What ``albench run`` and ``albench sweep`` share: the executor from the options, one line per finished
run, and the closing summary that lists failed runs with the command rerunning only them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from albench.cli._common import default_cache_dir, err
from albench.components import Executor
from albench.errors import ParameterError
from albench.host.registry import Registry
from albench.results import files
from albench.results.remote import RemoteResults, is_remote, location, mirror
from albench.results.store import tidy
from albench.sweep.driver import SweepSummary, rerun_command
from albench.sweep.task import RunResult

__all__ = ["make_executor", "print_result", "print_summary", "typed_command"]

_STYLE = {"completed": "green", "resumed": "green", "skipped": "dim", "locked": "yellow", "failed": "bold red"}


def make_executor(registry: Registry, name: str, params: Mapping[str, Any]) -> Executor:
    """The executor plugin ``name`` with its parameters checked (errors name the executor and parameter)."""
    executor: Executor = registry.create("executor", name, params).instance
    return executor


def print_result(result: RunResult, done: int, total: int) -> None:
    word = {"locked": "skipped"}.get(result.status, result.status)
    style = _STYLE[result.status]
    line = Text(f"[{done}/{total}] ") + Text(word, style=style) + Text(f" {result.what} (run {result.run_id})")
    if result.status in ("completed", "resumed"):
        line += f" in {result.seconds:.1f} s"
    if result.message and result.status != "skipped":
        line += f": {result.message}"
    err.print(line)


def print_summary(summary: SweepSummary, command: list[str], results_dir: Path) -> None:
    """The closing lines; exits 1 when a run failed (after listing each with its record and error)."""
    err.print(Text(summary.line(), style="bold"))
    for result in summary.locked:
        err.print(
            f"  running elsewhere, not waited for: {result.what} (run {result.run_id}); {result.message}",
        )
    failed = summary.failed
    if not failed:
        return
    err.print(Text(f"{len(failed)} failed", style="bold red") + Text(f" (tracebacks in {results_dir / '.failed'}):"))
    for result in failed:
        err.print(f"  {result.what} (run {result.run_id}): {result.message}")
    err.print("rerun only these with:")
    err.print(f"  {rerun_command(command, [r.run_id for r in failed])}")
    raise typer.Exit(1)


def typed_command(ctx: typer.Context) -> list[str]:
    """The command line as typed (``albench sweep grid.toml --workers 2``), rebuilt from the parsed options so
    it is the same under the console script and in tests. Options left at their defaults are left out."""
    words = ["albench", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.param_type_name == "argument":
            words += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]
            continue
        if param.param_type_name != "option" or value == param.default or value in (None, [], ()):
            continue
        option = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            if value:
                words.append(option)
            elif param.secondary_opts:
                words.append(max(param.secondary_opts, key=len))
            continue
        for item in value if param.multiple else [value]:
            words += [option, str(item.value if isinstance(item, enum.Enum) else item)]
    return words


def parse_gpus(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ParameterError(f"--gpus {value!r}: expected GPU ids like 0,1,2") from None


def results_store(results_dir: Path, cache_dir: Path | None) -> tuple[Path, RemoteResults | None]:
    """Where runs write: ``results_dir`` itself, or for a remote location (``s3://…``) its local mirror and
    the remote store the tasks sync to."""
    where = location(results_dir)
    if not is_remote(where):
        return results_dir, None
    remote = RemoteResults(where)
    return remote.local_mirror(cache_dir or default_cache_dir()), remote


def readable_results(results_dir: Path) -> Path:
    """A results directory to read reports from: a remote location is mirrored locally first."""
    where = location(results_dir)
    return mirror(where, default_cache_dir()) if is_remote(where) else results_dir


def prepare_directories(results_dir: Path, cache_dir: Path) -> None:
    """Before anything trains: both directories writable (one line naming the path and the fix otherwise), and
    what killed runs left in the results directory (temporary files, stale checkpoints) removed."""
    files.ensure_writable(results_dir)
    files.ensure_writable(cache_dir, "--cache-dir (or set ALBENCH_CACHE_DIR)", "write the superpixel cache to")
    removed = tidy(results_dir)
    if removed:
        err.print(f"removed {len(removed)} file(s) that killed runs left: {', '.join(str(p) for p in removed)}")
