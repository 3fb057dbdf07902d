"""Run specs: what makes two runs the same run."""

import dataclasses

import pytest
from conftest import TINY_CONFIG
from dataset_fixtures import write_folder

from albench.errors import DatasetError
from albench.run.protocol import ComponentChoice
from albench.run.spec import ComponentSpec, resolve_grid, resolve_run

FOLDER = dataclasses.replace(TINY_CONFIG, dataset=ComponentChoice("folder", {"image_size": 32}))


def test_same_data_at_two_paths_is_the_same_run_and_different_data_is_not(registry, tmp_path):
    a = write_folder(tmp_path / "a", ["background", "tool"], {"train": ["x", "y"], "test": ["z"]})
    copy = write_folder(tmp_path / "copy", ["background", "tool"], {"train": ["x", "y"], "test": ["z"]})
    other = write_folder(tmp_path / "other", ["background", "tool"], {"train": ["p", "q"], "test": ["r"]})
    run_a = resolve_run(registry, FOLDER, "random", 0, data_root=a)
    assert resolve_run(registry, FOLDER, "random", 0, data_root=copy).run_id == run_a.run_id
    assert resolve_run(registry, FOLDER, "random", 0, data_root=other).run_id != run_a.run_id
    assert resolve_run(registry, FOLDER, "random", 0, data_root=other).protocol_hash != run_a.protocol_hash


def test_a_missing_data_root_fails_while_resolving(registry, tmp_path):
    with pytest.raises(DatasetError, match="nowhere"):
        resolve_run(registry, FOLDER, "random", 0, data_root=tmp_path / "nowhere")


def test_grid_shares_one_dataset_spec_and_varies_strategy_and_seed(registry):
    specs = resolve_grid(registry, TINY_CONFIG, ["oreal", "random"], [0, 1, 2])
    assert [(s.strategy.name, s.seed) for s in specs] == [
        ("oreal", 0),
        ("oreal", 1),
        ("oreal", 2),
        ("random", 0),
        ("random", 1),
        ("random", 2),
    ]
    assert all(s.dataset is specs[0].dataset for s in specs) and specs[0].dataset.identity
    assert len({s.run_id for s in specs}) == 6


def test_component_spec_round_trips_through_its_canonical_form(registry):
    spec = resolve_run(registry, TINY_CONFIG, "oreal", 0)
    for kind in ("dataset", "strategy"):
        component = spec.component(kind)
        again = ComponentSpec.from_canonical(kind, component.canonical())
        assert again.canonical() == component.canonical()
