"""Training details: early stopping on the validation split, EMA, seeded sampling."""

import dataclasses

import pytest
from conftest import TINY_CONFIG
from torch import nn

from albench.errors import ParameterError
from albench.run.protocol import Protocol
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run
from albench.run.training import EarlyStopping, SeededSampler, StageModel, update_ema


def test_early_stopping_stops_after_patience_checks_without_gain_and_restores_the_best():
    stage = StageModel(nn.Linear(1, 1, bias=False), ema_decay=None)
    scores = iter([0.1, 0.3, 0.2, 0.25, 0.9])
    stopper = EarlyStopping(stage, lambda model: next(scores), patience=2)
    decisions = []
    for weight in (1.0, 2.0, 3.0, 4.0):
        stage.model.weight.data.fill_(weight)
        decisions.append(stopper.check())
    # 0.1 (best), 0.3 (best, weight 2), 0.2 (1 without gain), 0.25 (2 without gain: stop)
    assert decisions == [False, False, False, True]
    stopper.restore_best()
    assert stage.model.weight.item() == 2.0 and stopper.best == 0.3


def test_ema_is_the_decayed_average():
    ema, model = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    ema.weight.data.fill_(1.0)
    model.weight.data.fill_(3.0)
    update_ema(ema, model, 0.75)  # 0.75·1 + 0.25·3
    assert ema.weight.item() == 1.5


def test_seeded_sampler_is_deterministic_and_covers_items_before_repeating():
    draws = list(SeededSampler(4, 10, seed=7))
    assert draws == list(SeededSampler(4, 10, seed=7))
    items = [item for item, _ in draws]
    assert sorted(items[:4]) == [0, 1, 2, 3] and sorted(items[4:8]) == [0, 1, 2, 3]


def test_patience_must_be_positive():
    with pytest.raises(ParameterError, match="patience must be at least 1 or none, got 0"):
        Protocol().replace(patience=0)


def test_a_run_with_early_stopping_is_deterministic(registry, tmp_path):
    protocol = TINY_CONFIG.protocol.replace(steps=6, patience=1, eval_every=2)
    config = dataclasses.replace(TINY_CONFIG, protocol=protocol)
    spec = resolve_run(registry, config, "oreal", 0)
    first = execute_run(spec, registry, RunOptions(tmp_path / "a", tmp_path / "ca")).table
    second = execute_run(spec, registry, RunOptions(tmp_path / "b", tmp_path / "cb")).table
    assert first.column("confusion").to_pylist() == second.column("confusion").to_pylist()
    assert spec.run_id != resolve_run(registry, TINY_CONFIG, "oreal", 0).run_id
