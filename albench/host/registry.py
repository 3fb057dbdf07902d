"""The component registry: which plugin gave which name, duplicates, unknown names, typed parameters."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pluggy import HookImpl

from albench.components import KINDS
from albench.errors import DuplicateComponentError, UnknownComponentError
from albench.host.plugins import (
    PLUGIN_FAILURES,
    BrokenPlugin,
    PluginHost,
    UserInterrupts,
    describe_failure,
    load_plugins,
)
from albench.params import check_params_class, resolve_params

__all__ = ["Component", "Registration", "Registry", "load_registry"]


@dataclass(frozen=True)
class Registration:
    """One registered component: its class and the plugin and distribution that provide it."""

    kind: str
    name: str
    cls: type[Any]
    plugin: str
    distribution: str
    distribution_version: str

    @property
    def version(self) -> str:
        return str(getattr(self.cls, "version", "1"))


@dataclass(frozen=True)
class Component:
    """A component instance with its registration and resolved parameters."""

    registration: Registration
    instance: Any
    params: Any

    @property
    def name(self) -> str:
        return self.registration.name


class Registry:
    """All components of a :class:`PluginHost`, by kind and name.

    Each hook implementation is called on its own so every name is traced to its plugin. A duplicate name
    is kept aside and raised, naming both plugins, when that name is asked for.
    """

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._components: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self._duplicates: dict[tuple[str, str], list[Registration]] = {}
        self._failed: list[BrokenPlugin] = []
        for kind in KINDS.values():
            for impl in getattr(host.manager.hook, kind.hook).get_hookimpls():
                self._collect(kind.name, impl)

    def _collect(self, kind: str, impl: HookImpl) -> None:
        plugin_name = impl.plugin_name
        info = self.host.info(plugin_name)
        distribution = info.distribution if info else "unknown"
        dist_version = info.version if info else ""
        collected: list[Registration] = []

        def register(cls: type) -> None:
            base = KINDS[kind].base
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"registered {cls!r} as a {kind}, but it is not a subclass of albench.{base.__name__}")
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise TypeError(f"{kind} class {cls.__qualname__} has no `name` class attribute")
            check_params_class(getattr(cls, "Params", None), owner=f"{kind} {name!r}")
            collected.append(Registration(kind, name, cls, plugin_name, distribution, dist_version))

        # As pluggy's own caller does: each implementation gets the arguments it declares, so a hook can gain
        # an argument without breaking the plugins written before it.
        arguments = {"register": register}
        with UserInterrupts() as interrupts:
            try:
                impl.function(**{name: arguments[name] for name in impl.argnames})
            except PLUGIN_FAILURES as error:
                interrupts.reraise_if_pressed(error)
                self._failed.append(BrokenPlugin(plugin_name, distribution, describe_failure(error), dist_version))
                return
        for registration in collected:
            self._add(registration)

    def _add(self, registration: Registration) -> None:
        by_name = self._components[registration.kind]
        key = (registration.kind, registration.name)
        if key in self._duplicates:
            self._duplicates[key].append(registration)
        elif registration.name in by_name:
            self._duplicates[key] = [by_name.pop(registration.name), registration]
        else:
            by_name[registration.name] = registration

    @property
    def broken(self) -> list[BrokenPlugin]:
        """Plugins that failed to import (the host's) or to register their components (this registry's)."""
        return [*self.host.broken, *self._failed]

    def names(self, kind: str) -> list[str]:
        """Every usable name of ``kind``, sorted."""
        return sorted(self._components[kind])

    def registrations(self) -> list[Registration]:
        """Every usable registration, by kind then name."""
        return [self._components[kind][name] for kind in KINDS for name in self.names(kind)]

    def duplicates(self) -> list[list[Registration]]:
        """Names registered by more than one plugin (unusable until one plugin is removed)."""
        return list(self._duplicates.values())

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name``; raises naming close matches, duplicates or broken plugins."""
        if kind not in KINDS:
            raise UnknownComponentError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")
        if (kind, name) in self._duplicates:
            owners = " and ".join(f"plugin {r.plugin!r} ({r.distribution})" for r in self._duplicates[(kind, name)])
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered by both {owners}; uninstall one of them or restrict "
                f"plugins with ALBENCH_LOAD_PLUGINS"
            )
        registered = self._components[kind]
        if name in registered:
            return registered[name]
        available = self.names(kind)
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
        message = f"unknown {kind} {name!r}."
        if close:
            message += f" Did you mean {', '.join(repr(c) for c in close)}?"
        message += f" Available: {', '.join(available) or '(none)'}."
        if self.broken:
            failed = ", ".join(f"{b.name!r} ({b.error})" for b in self.broken)
            message += f" Plugins that failed to load, which may provide it: {failed}."
        raise UnknownComponentError(message)

    def create(self, kind: str, name: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Component:
        """Instantiate ``name`` with ``params`` checked against its declared ``Params``."""
        registration, resolved = self.resolve(kind, name, params)
        return Component(registration, registration.cls(resolved, **kwargs), resolved)

    def resolve(self, kind: str, name: str, params: Mapping[str, Any] | None = None) -> tuple[Registration, Any]:
        """Check ``params`` for ``name`` without instantiating it."""
        registration = self.get(kind, name)
        return registration, resolve_params(registration.cls.Params, params or {}, owner=f"{kind} {name!r}")


def load_registry(**kwargs: Any) -> Registry:
    """A registry over a freshly loaded plugin host (see :func:`albench.host.plugins.load_plugins`)."""
    return Registry(load_plugins(**kwargs))
