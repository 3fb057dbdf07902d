"""Integration tests need real tools (a browser, a Label Studio server, Ray, submitit, an S3 API).

They are marked ``@pytest.mark.integration``; ``python -m pytest -m "not integration"`` is the quick local run.
A test calls :func:`require` for each tool: where the tool is missing it skips with the reason, except under
``ALBENCH_REQUIRE_INTEGRATION=1`` (set by ``.ci/run``, which installs every tool), where a missing tool fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

__all__ = ["REQUIRE_ENV", "require", "require_attribute"]

REQUIRE_ENV = "ALBENCH_REQUIRE_INTEGRATION"


def _present(tool: str) -> bool:
    if "/" in tool or not tool.replace("_", "").replace(".", "").isalnum():
        return os.path.exists(tool)
    if shutil.which(tool):
        return True
    try:
        return importlib.util.find_spec(tool) is not None
    except (ImportError, ValueError):
        return False


def require(tool: str, why: str) -> None:
    """Skip (or, under ``ALBENCH_REQUIRE_INTEGRATION=1``, fail) unless ``tool`` is an importable module, an
    executable on PATH or an existing path; ``why`` says what needs it and how to install it."""
    if _present(tool):
        return
    message = f"{tool} is not installed: {why}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: integration tools must be installed)")
    pytest.skip(message)


def require_attribute(module: str, attribute: str, why: str) -> None:
    """As :func:`require`, for a module that must also have ``attribute`` (``cv2`` with its contrib module
    ``ximgproc``: plain opencv-python installs a ``cv2`` without it)."""
    try:
        present = hasattr(importlib.import_module(module), attribute)
    except ImportError:
        present = False
    if present:
        return
    message = f"{module}.{attribute} is not installed: {why}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: integration tools must be installed)")
    pytest.skip(message)
