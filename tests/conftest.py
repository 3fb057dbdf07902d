"""Shared fixtures: a tiny benchmark that runs in about a second, and isolated results and cache dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from albench.host.registry import Registry, load_registry
from albench.run.protocol import DEFAULT_CONFIG, BenchmarkConfig, ComponentChoice, Protocol
from albench.run.runner import RunOptions

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY_PROTOCOL = Protocol(
    budget=8,
    rounds=3,
    steps=3,
    batch_size=4,
    eval_batch_size=8,
    score_batch_size=8,
    threads=1,
    patience=None,
    ema_decay=None,
)
TINY_CONFIG = BenchmarkConfig(
    protocol=TINY_PROTOCOL,
    dataset=ComponentChoice("toy", {"num_images": 20, "image_size": 32}),
    backbone=ComponentChoice("tiny-deeplab", {"width": 8}),
    superpixels=ComponentChoice("slic", {**DEFAULT_CONFIG.superpixels.params, "n_segments": 16}),
    source="tests",
)

# The same tiny benchmark as a protocol file, for the command-line tests.
TINY_PROTOCOL_TOML = """
[protocol]
budget = 8
rounds = 3
steps = 3
patience = "none"
ema_decay = "none"
batch_size = 4
eval_batch_size = 8
score_batch_size = 8
threads = 1

[dataset]
name = "toy"
num_images = 20
image_size = 32

[backbone]
name = "tiny-deeplab"
width = 8

[superpixels]
name = "slic"
n_segments = 16
compactness = 20.0
"""


@pytest.fixture
def registry() -> Registry:
    """Built-in plugins only, so an installed third-party plugin cannot change the tests."""
    return load_registry(entry_points=False)


@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(results_dir=tmp_path / "results", cache_dir=tmp_path / "cache")


@pytest.fixture
def tiny_protocol_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_PROTOCOL_TOML)
    return path
