"""The ``albench`` pytest plugin (entry point ``pytest11``): the contract checks as fixtures.

pytest loads it wherever albench is installed, so a plugin package's tests ask for ``check_strategy`` (or
any other check) as an argument, without importing anything. albench itself is imported only when a test
asks for a fixture, so other projects' test sessions pay nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def check_strategy() -> Callable[..., None]:
    """:func:`albench.testing.check_strategy`."""
    from albench.testing import check_strategy

    return check_strategy


@pytest.fixture
def check_dataset() -> Callable[..., None]:
    """:func:`albench.testing.check_dataset`."""
    from albench.testing import check_dataset

    return check_dataset


@pytest.fixture
def check_backbone() -> Callable[..., None]:
    """:func:`albench.testing.check_backbone`."""
    from albench.testing import check_backbone

    return check_backbone


@pytest.fixture
def check_superpixel_method() -> Callable[..., None]:
    """:func:`albench.testing.check_superpixel_method`."""
    from albench.testing import check_superpixel_method

    return check_superpixel_method


@pytest.fixture
def check_labeling_scheme() -> Callable[..., None]:
    """:func:`albench.testing.check_labeling_scheme`."""
    from albench.testing import check_labeling_scheme

    return check_labeling_scheme


@pytest.fixture
def selection_context() -> Callable[..., Any]:
    """:func:`albench.testing.selection_context`."""
    from albench.testing import selection_context

    return selection_context
