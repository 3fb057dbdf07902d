"""A plain wheel install has everything: every albench subpackage, the built-ins and the bundled protocols."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _can_build_wheels() -> bool:
    """setuptools builds wheels itself from 70.1 on; before that it needs the ``wheel`` package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> set[str]:
    if not _can_build_wheels():
        pytest.skip(
            "this environment's setuptools cannot build a wheel offline (needs setuptools>=70.1 or wheel); "
            "the README's install brings one"
        )
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("albench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_every_package_of_the_source_tree(wheel_files):
    for source_root, installed in ((ROOT / "albench", "albench"), (ROOT / "plugins", "albench_plugins")):
        for module in source_root.rglob("*.py"):
            if "__pycache__" in module.parts:
                continue
            name = f"{installed}/{module.relative_to(source_root).as_posix()}"
            assert name in wheel_files, f"{name} is missing from the wheel: list its package in pyproject.toml"


def test_the_wheel_ships_the_bundled_protocols(wheel_files):
    for name in ("default", "voc", "cityscapes", "endovis", "monarch"):
        assert f"albench/run/protocols/{name}.toml" in wheel_files
