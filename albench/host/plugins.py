"""The plugin manager: built-in plugins and third-party entry points, loaded through one call.

Built-ins are the modules in :data:`DEFAULT_PLUGINS`; third-party plugins are found in the ``albench``
entry-point group. Both go through :func:`_register`. ``ALBENCH_LOAD_PLUGINS`` restricts which third-party
plugins load: unset loads all, a comma-separated list of entry-point or distribution names loads those,
an empty value loads none. A plugin that fails to import or to register is recorded, not raised, so the
commands that do not need it keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType, ModuleType
from typing import Any

import pluggy

from albench import hookspecs

__all__ = [
    "DEFAULT_PLUGINS",
    "ENV_LOAD_PLUGINS",
    "PLUGIN_FAILURES",
    "BrokenPlugin",
    "LoadedPlugin",
    "PluginHost",
    "UserInterrupts",
    "describe_failure",
    "load_plugins",
]

ENTRY_POINT_GROUP = "albench"
ENV_LOAD_PLUGINS = "ALBENCH_LOAD_PLUGINS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "albench_plugins.datasets.toy",
    "albench_plugins.datasets.pascal_voc",
    "albench_plugins.datasets.cityscapes",
    "albench_plugins.datasets.endovis",
    "albench_plugins.datasets.folder",
    "albench_plugins.datasets.images",
    "albench_plugins.backbones.tiny_deeplab",
    "albench_plugins.backbones.torchvision_deeplab",
    "albench_plugins.backbones.vit_deeplab",
    "albench_plugins.superpixels.slic",
    "albench_plugins.superpixels.seeds",
    "albench_plugins.labeling.dominant",
    "albench_plugins.labeling.precise",
    "albench_plugins.labeling.weak",
    "albench_plugins.strategies.random",
    "albench_plugins.strategies.oreal",
    "albench_plugins.strategies.entropy",
    "albench_plugins.strategies.bvsb",
    "albench_plugins.strategies.revisiting_sp",
    "albench_plugins.strategies.pixelbal",
    "albench_plugins.strategies.cbal",
    "albench_plugins.strategies.context_sampling",
    "albench_plugins.strategies.full",
    "albench_plugins.executors.inline",
    "albench_plugins.executors.local",
    "albench_plugins.executors.slurm",
    "albench_plugins.executors.ray",
)


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that registered: its name (module or entry point), distribution and version."""

    name: str
    distribution: str
    version: str
    builtin: bool


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to import or register, with the error, shown by ``albench plugins``."""

    name: str
    distribution: str
    error: str
    version: str = ""

    def describe(self) -> str:
        """One line: the plugin, its distribution and version, and the first line of the error."""
        where = f"{self.distribution} {self.version}".strip()
        first_line = self.error.strip().splitlines()[0] if self.error.strip() else "(no message)"
        return f"plugin {self.name!r} ({where}): {first_line}"


@dataclass
class PluginHost:
    """The pluggy manager plus what loaded and what broke."""

    manager: pluggy.PluginManager
    loaded: list[LoadedPlugin] = field(default_factory=list)
    broken: list[BrokenPlugin] = field(default_factory=list)

    def info(self, plugin_name: str) -> LoadedPlugin | None:
        return next((p for p in self.loaded if p.name == plugin_name), None)


def _albench_version() -> str:
    from albench import __version__

    return __version__


#: What a plugin's own code may raise while it is imported or registers its components: any exception, and
#: also ``sys.exit()`` (SystemExit) and a KeyboardInterrupt it raises itself. Each is recorded as a broken
#: plugin like an ImportError; only a Ctrl-C the user pressed (:class:`UserInterrupts`) goes on to stop albench.
PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


class UserInterrupts:
    """While active (main thread only), notes whether the user pressed Ctrl-C, so that a KeyboardInterrupt
    from the keyboard can be told from one a plugin raised itself: :meth:`reraise_if_pressed`."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def __enter__(self) -> UserInterrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def reraise_if_pressed(self, error: BaseException) -> None:
        if isinstance(error, KeyboardInterrupt) and self.pressed:
            raise error


def describe_failure(error: BaseException) -> str:
    """``Type: message`` of what a plugin raised; ``sys.exit()`` is named as such."""
    if isinstance(error, SystemExit):
        return f"SystemExit: the plugin called sys.exit({error.code!r})"
    if isinstance(error, KeyboardInterrupt):
        return "KeyboardInterrupt: raised by the plugin itself"
    return f"{type(error).__name__}: {error}"


def _register(host: PluginHost, plugin: object, name: str, distribution: str, version: str, builtin: bool) -> None:
    """The one registration path, for built-ins and third-party plugins alike."""
    try:
        host.manager.register(plugin, name=name)
    except Exception as error:  # pluggy validates hook names and signatures here
        host.broken.append(BrokenPlugin(name, distribution, f"{type(error).__name__}: {error}", version))
        return
    host.loaded.append(LoadedPlugin(name, distribution, version, builtin))


def _allowed(env: Mapping[str, str]) -> set[str] | None:
    value = env.get(ENV_LOAD_PLUGINS)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def load_plugins(
    *, entry_points: bool = True, env: Mapping[str, str] | None = None, extra: tuple[ModuleType | object, ...] = ()
) -> PluginHost:
    """A fresh plugin host with the built-ins, the allowed entry points, and ``extra`` plugin objects."""
    env = os.environ if env is None else env
    manager = pluggy.PluginManager("albench")
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager)
    version = _albench_version()
    for module_name in DEFAULT_PLUGINS:
        with UserInterrupts() as interrupts:
            try:
                module = importlib.import_module(module_name)
            except PLUGIN_FAILURES as error:
                interrupts.reraise_if_pressed(error)
                host.broken.append(BrokenPlugin(module_name, "albench", describe_failure(error), version))
                continue
        _register(host, module, module_name, "albench", version, builtin=True)
    if entry_points:
        allowed = _allowed(env)
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            dist_version = dist.version if dist is not None else "unknown"
            if allowed is not None and entry_point.name not in allowed and dist_name not in allowed:
                continue
            with UserInterrupts() as interrupts:
                try:
                    plugin = entry_point.load()
                except PLUGIN_FAILURES as error:
                    interrupts.reraise_if_pressed(error)
                    host.broken.append(BrokenPlugin(entry_point.name, dist_name, describe_failure(error), dist_version))
                    continue
            _register(host, plugin, entry_point.name, dist_name, dist_version, builtin=False)
    for plugin in extra:
        name = getattr(plugin, "__name__", type(plugin).__name__)
        _register(host, plugin, name, "(registered in code)", "", builtin=False)
    return host
