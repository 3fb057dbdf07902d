"""``check_superpixel_method``: region maps of a few tiny scenes, a flat image and an odd size."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from albench.components import SuperpixelMethod
from albench.testing._contract import Contract, global_seeds
from albench.testing._pool import tiny_scenes

__all__ = ["check_superpixel_method"]


def check_superpixel_method(
    method: type[SuperpixelMethod], params: Mapping[str, Any] | object | None = None, *, seed: int = 0
) -> None:
    """Check a superpixel class against its contract; raise :class:`ContractError` naming the broken rule.

    On tiny scenes (one of an odd size, one of a single flat colour): ``segment`` returns an ``(H, W)``
    integer region map of the image's size, the same map twice and under other
    global random seeds (albench caches it once per image, so it must be a function of the image), and
    leaves the image unchanged.
    """
    contract = Contract("superpixels", method, params)
    instance = method(contract.params)
    images = [sample.image for sample in tiny_scenes(3, seed=seed)]
    images.append(tiny_scenes(1, height=17, width=23, seed=seed + 1)[0].image)
    images.append(np.full((16, 20, 3), 128, dtype=np.uint8))
    for index, image in enumerate(images):
        where = f"image {index} of shape {image.shape}"
        before = image.copy()
        with contract.calling("segments an image", f"segment() of {where}"), global_seeds(11):
            labels = instance.segment(image)
        contract.check(
            np.array_equal(before, image), "leaves its inputs unchanged", f"segment() modified the image ({where})"
        )
        contract.check(
            isinstance(labels, np.ndarray)
            and labels.shape == image.shape[:2]
            and np.issubdtype(labels.dtype, np.integer),
            "returns an (H, W) integer region map",
            f"segment() must return a {image.shape[:2]} integer array, got {type(labels).__name__} "
            f"{getattr(labels, 'shape', '')} {getattr(labels, 'dtype', '')} ({where})",
        )
        with global_seeds(12):
            again = instance.segment(image)
        contract.check(
            np.array_equal(labels, again),
            "is deterministic",
            f"segment() gave two different region maps of the same image under different global random "
            f"seeds ({where}); seed any randomness from the image or a fixed parameter",
        )
