"""The strategy keeps albench's contract (the ``check_strategy`` fixture comes from albench's pytest plugin),
and its score is entropy per click, checked by hand."""

import numpy as np
import pytest
from albench.testing import selection_context

from albench_example_strategy import EntropyPerClick


@pytest.mark.parametrize("aggregation", ["mean", "max", "p95"])
def test_keeps_the_strategy_contract(check_strategy, aggregation):
    check_strategy(EntropyPerClick, {"aggregation": aggregation})


def test_divides_each_regions_entropy_by_its_clicks():
    entropy = np.array([[0.9], [0.8], [0.3], [0.5]])
    context = selection_context(
        num_regions=4, num_classes=3, budget=3, labeled=[3], costs=[3, 1, 1, 1], region_stats={"entropy": entropy}
    )
    strategy = EntropyPerClick(EntropyPerClick.Params())
    assert strategy.scores(context).tolist() == pytest.approx([0.3, 0.8, 0.3, 0.5])
    # 0.8 per click first, then region 0 and 2 tie at 0.3 (lowest id first) but 0 costs 3: over budget
    assert strategy.select(context).tolist() == [1]
