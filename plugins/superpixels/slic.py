"""``slic``: SLIC superpixels (Achanta et al. 2012) from scikit-image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.segmentation import slic

from albench import Register, SuperpixelMethod, hookimpl


@dataclass(frozen=True)
class SlicParams:
    """Parameters of ``slic``: scikit-image's ``slic`` arguments.

    Attributes:
        n_segments: about how many regions each image gets.
        compactness: higher gives squarer regions, lower follows colour edges more closely.
        sigma: the width of the Gaussian smoothing before segmenting (0: none).
        max_num_iter: the k-means iterations.
    """

    n_segments: int = 60
    compactness: float = 10.0
    sigma: float = 0.0
    max_num_iter: int = 10

    def __post_init__(self) -> None:
        if self.n_segments < 1:
            raise ValueError(f"n_segments must be at least 1, got {self.n_segments}")
        if not self.compactness > 0:
            raise ValueError(f"compactness must be positive, got {self.compactness}")


class Slic(SuperpixelMethod):
    """SLIC in CIELAB space, deterministic (k-means from a regular grid)."""

    name = "slic"
    version = "1"
    Params = SlicParams

    def segment(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        return slic(
            image,
            n_segments=p.n_segments,
            compactness=p.compactness,
            sigma=p.sigma,
            max_num_iter=p.max_num_iter,
            start_label=0,
            channel_axis=-1,
        )


@hookimpl
def register_superpixel_methods(register: Register) -> None:
    register(Slic)
