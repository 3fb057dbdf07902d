"""Region adjacency: per image from the superpixel map, and over the pool in global ids."""

import numpy as np

from albench.adjacency import RegionGraph
from albench.run.superpixel_cache import region_adjacency


def test_region_adjacency_hand_computed():
    labels = np.array(
        [
            [0, 0, 1],
            [2, 2, 1],
            [2, 3, 3],
        ]
    )
    # 0-1 (row 0), 0-2 (column 0/1), 2-1 (row 1), 1-3 (column 2), 2-3 (row 2 and column 1); 0-3 never touch
    assert region_adjacency(labels).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]


def test_graph_offsets_each_image_and_answers_neighbours():
    image_a = np.array([[0, 1], [1, 2]])  # regions 0..2
    image_b = np.array([[0, 1]])  # regions 3..4 globally
    graph = RegionGraph(5, lambda: [(0, region_adjacency(image_a)), (3, region_adjacency(image_b))])
    assert graph.neighbors(1).tolist() == [0, 2]
    assert graph.neighbors(3).tolist() == [4]
    assert graph.neighbors_of(np.array([0, 3])).tolist() == [1, 4]
    assert graph.neighbors_of(np.array([], dtype=np.int64)).tolist() == []


def test_graph_is_built_lazily():
    calls = []

    def edges():
        calls.append(1)
        return [(0, np.array([[0, 1]]))]

    graph = RegionGraph(2, edges)
    assert not calls
    graph.neighbors(0)
    graph.neighbors(1)
    assert calls == [1]
