"""The plugin host and registry: one test per error message."""

import numpy as np
import pytest

from albench import Strategy, hookimpl
from albench.errors import DuplicateComponentError, ParameterError, UnknownComponentError
from albench.host.plugins import DEFAULT_PLUGINS, load_plugins
from albench.host.registry import Registry, load_registry


class ShadowRandom(Strategy):
    """A second strategy called 'random', to collide with the built-in one."""

    name = "random"

    def select(self, context):
        return np.empty(0, dtype=np.int64)


class ShadowPlugin:
    @hookimpl
    def register_strategies(self, register):
        register(ShadowRandom)


class NotAStrategyPlugin:
    @hookimpl
    def register_strategies(self, register):
        register(dict)


class BadHookPlugin:
    @hookimpl
    def register_strategies(self, register, extra_argument):  # not in the hookspec
        pass


def test_builtins_register_through_the_plugin_manager():
    registry = load_registry(entry_points=False)
    plugins = {r.plugin for r in registry.registrations()}
    assert plugins <= set(DEFAULT_PLUGINS)
    assert {"oreal", "random", "full"} <= set(registry.names("strategy"))
    assert {r.distribution for r in registry.registrations()} == {"albench"}


def test_duplicate_name_is_an_error_naming_both_plugins():
    registry = load_registry(entry_points=False, extra=(ShadowPlugin(),))
    with pytest.raises(DuplicateComponentError) as info:
        registry.get("strategy", "random")
    message = str(info.value)
    assert "strategy 'random' is registered by both" in message
    assert "albench_plugins.strategies.random" in message and "ShadowPlugin" in message
    assert "random" not in registry.names("strategy") and "oreal" in registry.names("strategy")
    assert [r.plugin for r in registry.duplicates()[0]] == ["albench_plugins.strategies.random", "ShadowPlugin"]


def test_unknown_name_lists_close_matches_and_the_available_names(registry: Registry):
    available = ", ".join(registry.names("strategy"))
    with pytest.raises(UnknownComponentError) as info:
        registry.get("strategy", "oreall")
    assert str(info.value).startswith(f"unknown strategy 'oreall'. Did you mean 'oreal'? Available: {available}.")
    assert "random" in available


def test_unknown_name_without_close_match_still_lists_the_available_names(registry: Registry):
    with pytest.raises(UnknownComponentError) as info:
        registry.get("dataset", "kinetics")
    assert str(info.value) == f"unknown dataset 'kinetics'. Available: {', '.join(registry.names('dataset'))}."
    assert "toy" in registry.names("dataset")


def test_unknown_kind(registry: Registry):
    with pytest.raises(UnknownComponentError, match=r"unknown component kind 'model'; kinds are dataset, backbone"):
        registry.get("model", "x")


def test_unknown_parameter_is_rejected_with_close_matches(registry: Registry):
    with pytest.raises(
        ParameterError, match=r"strategy 'oreal' has no parameter 'agregation'\. Did you mean 'aggregation'\?"
    ):
        registry.resolve("strategy", "oreal", {"agregation": "max"})


def test_ill_typed_parameter_is_rejected(registry: Registry):
    with pytest.raises(
        ParameterError,
        match=r"strategy 'oreal': parameter 'aggregation' must be 'max' \| 'mean' \| 'p95', got 'median'",
    ):
        registry.resolve("strategy", "oreal", {"aggregation": "median"})
    with pytest.raises(ParameterError, match=r"dataset 'toy': parameter 'num_images' must be int, got 'many'"):
        registry.resolve("dataset", "toy", {"num_images": "many"})


def test_parameter_values_from_the_command_line_are_parsed(registry: Registry):
    _, params = registry.resolve("dataset", "toy", {"num_images": "12", "flip": "false", "val_fraction": "0.5"})
    assert (params.num_images, params.flip, params.val_fraction) == (12, False, 0.5)


def test_parameter_out_of_range_is_rejected_naming_the_component(registry: Registry):
    with pytest.raises(ParameterError, match=r"dataset 'toy': num_images must be at least 2, got 1"):
        registry.resolve("dataset", "toy", {"num_images": 1})


def test_a_registered_non_component_marks_the_plugin_broken():
    registry = load_registry(entry_points=False, extra=(NotAStrategyPlugin(),))
    (broken,) = registry.broken
    assert broken.name == "NotAStrategyPlugin"
    assert "registered <class 'dict'> as a strategy, but it is not a subclass of albench.Strategy" in broken.error
    assert registry.names("strategy") == load_registry(entry_points=False).names("strategy")


def test_a_hook_with_a_bad_signature_marks_the_plugin_broken():
    host = load_plugins(entry_points=False, extra=(BadHookPlugin(),))
    (broken,) = host.broken
    assert broken.name == "BadHookPlugin" and "extra_argument" in broken.error


def test_broken_plugins_are_mentioned_when_a_name_is_unknown():
    registry = load_registry(entry_points=False, extra=(NotAStrategyPlugin(),))
    with pytest.raises(
        UnknownComponentError, match=r"Plugins that failed to load, which may provide it: 'NotAStrategyPlugin'"
    ):
        registry.get("strategy", "mystery")


def test_params_must_be_a_dataclass():
    class NoDataclassParams(Strategy):
        name = "odd"
        Params = dict

        def select(self, context):
            return np.empty(0, dtype=np.int64)

    class Plugin:
        @hookimpl
        def register_strategies(self, register):
            register(NoDataclassParams)

    registry = load_registry(entry_points=False, extra=(Plugin(),))
    assert "strategy 'odd': `Params` must be a dataclass" in registry.broken[0].error


class NoArgumentsPlugin:
    """A hook implementation may declare fewer arguments than the hookspec (as in pluggy): it gets only those."""

    calls = 0

    @hookimpl
    def register_strategies(self):
        NoArgumentsPlugin.calls += 1


def test_each_hook_implementation_gets_only_the_arguments_it_declares():
    NoArgumentsPlugin.calls = 0
    registry = load_registry(entry_points=False, extra=(NoArgumentsPlugin(),))
    assert NoArgumentsPlugin.calls == 1
    assert registry.broken == []


class RaisingPlugin:
    @hookimpl
    def register_strategies(self, register):
        raise RuntimeError("cannot register\nsecond line of the traceback")


def test_registration_failures_belong_to_one_registry_and_are_never_counted_twice():
    host = load_plugins(entry_points=False, extra=(RaisingPlugin(),))
    first, second = Registry(host), Registry(host)
    assert [b.name for b in first.broken] == ["RaisingPlugin"]
    assert [b.name for b in second.broken] == ["RaisingPlugin"]
    assert host.broken == []
    assert first.broken[0].describe() == "plugin 'RaisingPlugin' ((registered in code)): RuntimeError: cannot register"


class NoDefaultParams:
    pass


def _params_plugin(params: type) -> object:
    """A plugin registering one strategy whose ``Params`` is ``params``."""

    class WithParams(Strategy):
        name = "with-params"
        Params = params

        def select(self, context):
            return np.empty(0, dtype=np.int64)

    class Plugin:
        @hookimpl
        def register_strategies(self, register):
            register(WithParams)

    return Plugin()


def test_params_without_a_default_are_refused_at_registration_naming_the_component():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Params:
        threshold: float

    registry = load_registry(entry_points=False, extra=(_params_plugin(Params),))
    assert "with-params" not in registry.names("strategy")
    (broken,) = registry.broken
    assert "strategy 'with-params': every `Params` field needs a default" in broken.error


def test_params_that_are_not_a_dataclass_are_refused_at_registration():
    registry = load_registry(entry_points=False, extra=(_params_plugin(NoDefaultParams),))
    (broken,) = registry.broken
    assert "strategy 'with-params': `Params` must be a dataclass" in broken.error
