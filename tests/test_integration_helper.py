"""The integration-test switch: skip where a tool is missing, fail instead under ALBENCH_REQUIRE_INTEGRATION=1."""

from __future__ import annotations

import pytest
from integration import REQUIRE_ENV, require, require_attribute


def test_a_present_module_or_executable_passes():
    require("json", "always there")
    require("python3", "always there")


def test_a_missing_tool_skips_with_the_reason(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_tool_xyz is not installed: pip install it"):
        require("no_such_tool_xyz", "pip install it")


def test_a_missing_tool_fails_when_integration_is_required(monkeypatch):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="integration tools must be installed"):
        require("no_such_tool_xyz", "pip install it")


def test_a_module_without_the_attribute_skips_or_fails_like_a_missing_tool(monkeypatch):
    require_attribute("json", "dumps", "always there")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"json\.no_such_attribute is not installed: pip install it"):
        require_attribute("json", "no_such_attribute", "pip install it")
    with pytest.raises(pytest.skip.Exception, match=r"no_such_module_xyz\.x is not installed"):
        require_attribute("no_such_module_xyz", "x", "pip install it")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="integration tools must be installed"):
        require_attribute("json", "no_such_attribute", "pip install it")
