"""``albench plugins`` shows every component's parameters (type, default, doc), and the README's parameter
tables are its output: a test regenerates each one and compares."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from albench.cli import app
from albench.components import KINDS
from albench.host.registry import load_registry
from albench.params import ParamInfo, describe_params

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- albench plugins (?P<args>[^>]*) -->\n(?P<table>.*?)\n<!-- end albench plugins -->", re.S)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_third_party_plugins(monkeypatch):
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")


@dataclasses.dataclass(frozen=True)
class DocumentedParams:
    """Parameters of a component, documented the albench way.

    Attributes:
        aggregation: how a region's pixel scores are reduced,
            continued on a second line.
        weight (float): a type in parentheses is allowed, as Google style writes it.

    Notes:
        not an attribute: the section ended.
    """

    aggregation: str = "mean"
    weight: float = 1.0
    undocumented: tuple[int, ...] = (1, 2)
    limit: int | None = None


@dataclasses.dataclass(frozen=True)
class MoreParams(DocumentedParams):
    """Attributes:
    extra: a subclass documents its own fields; inherited ones keep their lines.
    """

    extra: bool = False


def test_describe_params_reads_the_attributes_section_types_and_defaults():
    assert describe_params(MoreParams) == [
        ParamInfo("aggregation", "str", "mean", "how a region's pixel scores are reduced, continued on a second line."),
        ParamInfo("weight", "float", 1.0, "a type in parentheses is allowed, as Google style writes it."),
        ParamInfo("undocumented", "tuple[int, ...]", [1, 2], ""),
        ParamInfo("limit", "int | None", None, ""),
        ParamInfo("extra", "bool", False, "a subclass documents its own fields; inherited ones keep their lines."),
    ]


@pytest.mark.parametrize(
    "registration", load_registry(entry_points=False).registrations(), ids=lambda r: f"{r.kind}-{r.name}"
)
def test_every_builtin_parameter_is_documented(registration):
    undocumented = [p.name for p in describe_params(registration.cls.Params) if not p.doc]
    assert not undocumented, (
        f"{registration.kind} {registration.name!r}: document {undocumented} in the Attributes: "
        f"section of {registration.cls.Params.__name__}'s docstring"
    )


def test_plugins_json_lists_each_parameter_with_type_default_and_doc():
    result = runner.invoke(app, ["plugins", "oreal", "--format", "json"])
    assert result.exit_code == 0, result.output
    (oreal,) = json.loads(result.stdout)["components"]
    assert oreal["parameters"][0] == {
        "name": "aggregation",
        "type": "'max' | 'mean' | 'p95'",
        "default": "max",
        "doc": "max (the paper), mean or p95 (ablations).",
    }
    assert [p["name"] for p in oreal["parameters"]] == [
        "aggregation",
        "score",
        "background_oversampling",
        "tie_order",
        "percentile_method",
    ]


def test_plugins_table_prints_one_unwrapped_line_per_parameter():
    result = runner.invoke(app, ["plugins", "--kind", "backbone"], env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "backbone deeplabv3-vit:" in lines
    assert (
        "  fused_attention: bool = false  PyTorch's fused attention kernels (faster, not guaranteed "
        "deterministic on CUDA)."
    ) in lines
    assert (
        "  upsample: 'nearest' | 'bilinear' = 'nearest'  how logits reach the input size (nearest keeps "
        "training deterministic)." in lines
    )
    assert "strategy" not in result.stdout  # --kind keeps one kind


def test_plugins_refuses_an_unknown_name_or_kind_with_close_matches():
    result = runner.invoke(app, ["plugins", "orel"])
    assert result.exit_code == 1 and "unknown strategy 'orel'. Did you mean 'oreal'?" in result.output
    result = runner.invoke(app, ["plugins", "--kind", "strategies"])
    assert result.exit_code == 1 and "unknown component kind 'strategies'" in result.output


def test_every_kind_has_a_parameter_table_in_the_readme():
    kinds = [shlex.split(m.group("args"))[1] for m in BLOCK.finditer(README.read_text())]
    assert sorted(kinds) == sorted(KINDS)


@pytest.mark.parametrize("block", list(BLOCK.finditer(README.read_text())), ids=lambda m: m.group("args"))
def test_readme_parameter_tables_are_albench_plugins_output(block):
    args = shlex.split(block.group("args"))
    result = runner.invoke(app, ["plugins", *args])
    assert result.exit_code == 0, result.output
    assert block.group("table") == result.stdout.strip(), (
        f"README.md's table after <!-- albench plugins {block.group('args')} --> is stale: replace it with the "
        f"output of `ALBENCH_LOAD_PLUGINS= albench plugins {block.group('args')}`"
    )
