"""Every built-in strategy, and each OREAL ablation, completes a run of the tiny benchmark."""

import json

import pytest
from conftest import TINY_CONFIG

from albench.run.runner import execute_run
from albench.run.spec import resolve_run

RUNS = [
    ("entropy", {}),
    ("bvsb", {}),
    ("revisiting-sp", {}),
    ("revisiting-sp", {"variant": "oreal-paper", "aggregation": "max"}),
    ("pixelbal", {}),
    ("pixelbal", {"variant": "oreal-paper", "aggregation": "p95"}),
    ("cbal", {}),
    ("cbal", {"solver": "milp"}),
    ("oreal", {"aggregation": "mean"}),
    ("oreal", {"score": "prob-entropy"}),
    ("oreal", {"background_oversampling": False}),
    ("oreal", {"aggregation": "p95"}),
    ("oreal", {"tie_order": "first-seen"}),
    ("foreground", {}),
    ("foreground-context", {}),
]


@pytest.mark.parametrize(("strategy", "params"), RUNS, ids=[f"{s}{p or ''}" for s, p in RUNS])
def test_strategy_completes_a_tiny_run(registry, options, strategy, params):
    spec = resolve_run(registry, TINY_CONFIG, strategy, seed=0, overrides={"strategy": params})
    result = execute_run(spec, registry, options)
    rows = result.table.to_pylist()
    budget = TINY_CONFIG.protocol.budget
    assert [row["round"] for row in rows] == list(range(TINY_CONFIG.protocol.rounds))
    assert all(row["clicks_round"] == budget for row in rows)  # dominant labels: one click per region
    recorded = json.loads(rows[-1]["strategy_params"])
    assert all(recorded[key] == value for key, value in params.items())
    if strategy in ("revisiting-sp", "pixelbal", "cbal"):
        assert recorded["variant"] == params.get("variant", "original")  # the results record the variant
