"""A third-party plugin package, found through entry-point metadata exactly as an installed one would be."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from albench.cli import app
from albench.errors import UnknownComponentError
from albench.host.plugins import load_plugins
from albench.host.registry import Registry

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_plugin_source() -> str:
    """The example plugin of the README's "Write your own strategy" section, verbatim."""
    section = README.read_text().split("## Write your own strategy", 1)[1]
    return section.split("```python", 1)[1].split("```", 1)[0]



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
    (site / "my_albench_plugin" / "__init__.py").write_text(readme_plugin_source())
    _distribution(site, "my-albench-plugin", "[albench]\nsmallest-first = my_albench_plugin\n")
    _distribution(site, "albench-broken-plugin", "[albench]\nbroken = albench_module_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ALBENCH_LOAD_PLUGINS", raising=False)
    return site


def test_entry_point_plugin_registers_and_a_broken_one_is_recorded(site: Path):
    registry = Registry(load_plugins(env={}))
    registration = registry.get("strategy", "smallest-first")
    assert (registration.plugin, registration.distribution, registration.distribution_version) == ("smallest-first", "my-albench-plugin", "0.3")
    assert registration.version == "1"
    (broken,) = registry.broken
    assert (broken.name, broken.distribution) == ("broken", "albench-broken-plugin")
    assert "ModuleNotFoundError" in broken.error and "albench_module_that_does_not_exist" in broken.error
    assert "oreal" in registry.names("strategy")  # the built-ins keep working


def test_environment_variable_restricts_third_party_plugins(site: Path):
    only_one = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": "smallest-first"}))
    assert "smallest-first" in only_one.names("strategy") and not only_one.broken
    by_distribution = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": "my-albench-plugin"}))
    assert "smallest-first" in by_distribution.names("strategy")
    none = Registry(load_plugins(env={"ALBENCH_LOAD_PLUGINS": ""}))
    assert "smallest-first" not in none.names("strategy") and none.names("strategy") == Registry(load_plugins(entry_points=False)).names("strategy")
    with pytest.raises(UnknownComponentError, match="unknown strategy 'smallest-first'"):
        none.get("strategy", "smallest-first")


def test_plugins_command_lists_the_third_party_strategy_and_the_broken_plugin(site: Path):
    result = CliRunner().invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0, result.output
    import json

    listing = json.loads(result.stdout)
    listed = [c for c in listing["components"] if c["name"] == "smallest-first"]
    assert listed == [{"kind": "strategy", "name": "smallest-first", "version": "1", "plugin": "smallest-first",
                     "distribution": "my-albench-plugin", "distribution_version": "0.3"}]
    assert listing["broken"][0]["plugin"] == "broken"
    table = CliRunner().invoke(app, ["plugins"])
    assert table.exit_code == 0
    assert "smallest-first" in table.stdout and "plugins that failed to load" in table.stdout
    assert "albench-broken-plugin" in table.stdout


def test_third_party_strategy_completes_a_run_despite_the_broken_plugin(site: Path, tmp_path: Path, tiny_protocol_file: Path):
    results = tmp_path / "results"
    result = CliRunner().invoke(app, ["run", "-s", "smallest-first", "--set", "strategy.min_pixels=3",
                                      "--protocol", str(tiny_protocol_file), "-r", str(results),
                                      "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    (path,) = results.glob("*.parquet")
    table = pq.read_table(path)
    assert table.column("strategy").to_pylist() == ["smallest-first"] * 3
    assert table.column("strategy_label").to_pylist() == ["smallest-first(min_pixels=3)"] * 3
