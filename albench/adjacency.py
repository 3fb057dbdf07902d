"""The region adjacency graph of the whole pool, in global region ids, built lazily from the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["RegionGraph"]


class RegionGraph:
    """Which regions touch which: an undirected graph in CSR form over global region ids.

    ``edges`` yields each pool image's ``(E, 2)`` local pairs together with the image's global id offset;
    it is only consumed the first time a strategy asks for neighbours, so runs that never do pay nothing.
    """

    def __init__(self, num_regions: int, edges: Callable[[], Iterable[tuple[int, np.ndarray]]]) -> None:
        self.num_regions = num_regions
        self._edges = edges
        self._csr: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_edges(cls, num_regions: int, edges: np.ndarray) -> RegionGraph:
        """A graph from global ``(E, 2)`` pairs (for tests and strategies that build their own)."""
        return cls(num_regions, lambda: [(0, edges)])

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, indices)``: the neighbours of region r are ``indices[indptr[r]:indptr[r + 1]]``, sorted."""
        if self._csr is None:
            parts = [local.astype(np.int64) + offset for offset, local in self._edges()]
            pairs = np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.int64)
            both = np.concatenate([pairs, pairs[:, ::-1]])
            both = both[np.lexsort((both[:, 1], both[:, 0]))]
            indptr = np.zeros(self.num_regions + 1, dtype=np.int64)
            np.add.at(indptr, both[:, 0] + 1, 1)
            self._csr = (np.cumsum(indptr), both[:, 1].copy())
        return self._csr

    def neighbors(self, region: int) -> np.ndarray:
        """The regions that touch ``region``, ascending."""
        indptr, indices = self.csr()
        return indices[indptr[region] : indptr[region + 1]]

    def neighbors_of(self, regions: np.ndarray) -> np.ndarray:
        """Every region touching any of ``regions``, ascending, ``regions`` themselves excluded."""
        indptr, indices = self.csr()
        regions = np.asarray(regions, dtype=np.int64)
        if regions.size == 0:
            return np.empty(0, dtype=np.int64)
        found = np.concatenate([indices[indptr[r] : indptr[r + 1]] for r in regions])
        return np.setdiff1d(np.unique(found), regions)
