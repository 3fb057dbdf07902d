"""The notes under every table cite the project's own documents, which exist; the worked examples of
docs/metrics.md are what albench computes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from albench.results.leaderboard import leaderboard, parse_metric
from albench.results.metrics import aualc, balance, iou_per_class, mean_iou
from albench.results.report import ablation_table, gini_table, mean_vs_max_table, per_class_gain
from albench.results.runs import load_runs
from albench.results.tables import grid_notes

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "tests" / "fixtures" / "runs"


def _every_grid():
    runs = load_runs(RUNS).runs
    for metric in ("aualc", "miou@final", "gini", "gini-all@1"):
        yield from leaderboard(runs, parse_metric(metric))
        yield from leaderboard(runs, parse_metric(metric), by_aggregation=True)
    yield from ablation_table(runs, compare_paper=True)
    yield from mean_vs_max_table(runs, compare_paper=True)
    yield from gini_table(runs, compare_paper=True)
    yield from per_class_gain(runs, "oreal")


def test_notes_cite_existing_docs_never_spec_md():
    cited = set()
    for grid in _every_grid():
        for note in grid_notes(grid):
            assert "SPEC.md" not in note
            cited.update(re.findall(r"docs/[\w-]+\.md", note))
    assert cited >= {"docs/metrics.md", "docs/reports.md"}
    for path in cited:
        assert (ROOT / path).is_file(), path


def test_the_worked_examples_of_docs_metrics():
    text = (ROOT / "docs" / "metrics.md").read_text()
    confusion = np.array([[80, 10, 10], [20, 20, 0], [10, 0, 10]])
    assert confusion.sum(axis=1).tolist() == [100, 40, 20] and confusion.sum(axis=0).tolist() == [110, 30, 20]
    assert iou_per_class(confusion) == pytest.approx([80 / 130, 20 / 50, 10 / 30])
    assert f"{100 * mean_iou(confusion):.1f}" == "45.0" and "mIoU 0.450 (45.0%)" in text
    assert 100 * aualc([0.40, 0.55, 0.65]) == pytest.approx(53.75) and "**53.75**" in text
    assert f"{balance([8, 4]):.2f}" == "0.83" and balance([6, 6]) == 1.0 and "1 − G = **0.83**" in text
