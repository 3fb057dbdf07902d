"""The documentation in docs/ keeps up with the code: a section per hook with its exact signature and an
example that passes its kind's contract; the 30-line strategy is the example package's; no citation of a
file the repository lacks."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import pytest

from albench import hookspecs, testing
from albench.components import KINDS
from albench.host.plugins import load_plugins
from albench.host.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
PLUGINS_MD = (ROOT / "docs" / "plugins.md").read_text()
EXAMPLE = ROOT / "examples" / "albench-example-strategy"
CHECKS = {
    "dataset": testing.check_dataset,
    "backbone": testing.check_backbone,
    "superpixels": testing.check_superpixel_method,
    "labeling": testing.check_labeling_scheme,
    "strategy": testing.check_strategy,
    "executor": testing.check_executor,
}
HOOKS = sorted(
    name for name, value in vars(hookspecs).items() if inspect.isfunction(value) and hasattr(value, "albench_spec")
)


def section(heading: str) -> str:
    """The text of docs/plugins.md under ``### heading`` up to the next heading of that level or above."""
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#{{2,3}} |\Z)", PLUGINS_MD, re.S | re.M)
    assert match, f"docs/plugins.md has no section '### {heading}'"
    return match.group(1)


def signature(hook: str) -> str:
    sig = inspect.signature(getattr(hookspecs, hook))
    parameters = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {hook}({parameters}) -> {sig.return_annotation}"


def test_every_hook_is_a_kind_of_the_table():
    assert HOOKS == sorted(kind.hook for kind in KINDS.values())


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_exact_signature(hook):
    assert f"```\n{signature(hook)}\n```" in section(f"`{hook}`")


@pytest.mark.parametrize("kind", list(KINDS), ids=str)
def test_each_hook_sections_example_registers_and_keeps_its_contract(kind, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", section(f"`{KINDS[kind].hook}`"), re.S)
    assert len(code) == 1, f"the {KINDS[kind].hook} section needs one complete python example"
    module = types.ModuleType(f"docs_example_{kind}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look their module up
    exec(compile(code[0], f"docs/plugins.md ({KINDS[kind].hook})", "exec"), module.__dict__)
    registry = Registry(load_plugins(entry_points=False, extra=(module,)))
    (registration,) = [r for r in registry.registrations() if r.plugin == module.__name__]
    assert registration.kind == kind and not registry.broken
    CHECKS[kind](registration.cls)


def test_the_30_line_strategy_is_the_example_packages_verbatim():
    source = (EXAMPLE / "albench_example_strategy" / "__init__.py").read_text()
    assert len(source.splitlines()) <= 30
    assert f"```python\n{source}```" in PLUGINS_MD
    entry_point = re.search(r"\[project\.entry-points\.albench\]\n[^\n]+\n", (EXAMPLE / "pyproject.toml").read_text())
    assert entry_point and f"```toml\n{entry_point.group(0)}```" in PLUGINS_MD


def test_every_contract_check_is_documented():
    contracts = PLUGINS_MD.split("## Component contracts", 1)[1]
    for name in testing.__all__:
        if name.startswith("check_"):
            assert f"- `{name}(" in contracts, f"docs/plugins.md: document {name} under Component contracts"


def test_the_readme_points_plugin_authors_to_the_docs_and_the_example():
    section = (ROOT / "README.md").read_text().split("## Write your own strategy", 1)[1].split("\n## ", 1)[0]
    assert "docs/plugins.md" in section and "examples/albench-example-strategy" in section


def test_local_links_in_the_docs_resolve():
    for page in [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_nothing_cites_a_spec_file_the_repository_lacks():
    cited = [
        str(path.relative_to(ROOT))
        for folder in ("albench", "plugins", "docs", "examples")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".md", ".toml")
        and "SPEC.md" in path.read_text()
        and "results" not in path.relative_to(ROOT).parts
    ]
    assert not cited, f"these cite SPEC.md, which is not in the repository: {cited}"
