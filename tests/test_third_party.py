"""A third-party plugin package, found through entry-point metadata exactly as an installed one would be.

The package is examples/albench-example-strategy's module with hand-written distribution metadata, which is
quick; tests/test_example_plugin.py installs the real package with pip and runs it end to end.
"""

from pathlib import Path

import pytest

from albench.errors import UnknownComponentError
from albench.host.plugins import load_plugins
from albench.host.registry import Registry

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "albench-example-strategy"


def _distribution(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name.replace('-', '_')}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory holding one working and one broken albench plugin distribution."""
    site = tmp_path / "site"
    (site / "my_albench_plugin").mkdir(parents=True)
    source = (EXAMPLE / "albench_example_strategy" / "__init__.py").read_text()
    (site / "my_albench_plugin" / "__init__.py").write_text(source)
    _distribution(site, "my-albench-plugin", "[albench]\nentropy-per-click = my_albench_plugin\n")
    _distribution(site, "albench-broken-plugin", "[albench]\nbroken = albench_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ALBENCH_LOAD_PLUGINS", raising=False)
    return site


def test_entry_point_plugin_registers_and_a_broken_one_is_recorded(site: Path):
    registry = Registry(load_plugins(env={}))
    registration = registry.get("strategy", "entropy-per-click")
    assert (registration.plugin, registration.distribution, registration.distribution_version) == (
        "entropy-per-click",
        "my-albench-plugin",
        "0.3",
    )
    assert registration.version == "1"
    (broken,) = registry.broken
    assert (broken.name, broken.distribution) == ("broken", "albench-broken-plugin")
    assert "ModuleNotFoundError" in broken.error and "albench_module_that_does_not_exist" in broken.error
    assert "oreal" in registry.names("strategy")  # the built-ins keep working


def test_environment_variable_restricts_third_party_plugins(site: Path):
    only_one = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": "entropy-per-click"}))
    assert "entropy-per-click" in only_one.names("strategy") and not only_one.broken
    by_distribution = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": "my-albench-plugin"}))
    assert "entropy-per-click" in by_distribution.names("strategy")
    none = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": ""}))
    assert "entropy-per-click" not in none.names("strategy") and none.names("strategy") == Registry(
        load_plugins(entry_points=False)
    ).names("strategy")
    with pytest.raises(UnknownComponentError, match="unknown strategy 'entropy-per-click'"):
        none.get("strategy", "entropy-per-click")
