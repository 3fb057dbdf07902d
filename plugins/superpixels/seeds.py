"""``seeds``: SEEDS superpixels (Van den Bergh et al. 2012) from OpenCV's contrib modules (``cv2.ximgproc``).

The superpixels of the Revisiting-SP authors (Cai et al. 2021), whose ``scripts/extract_superpixels.py``
histogram-equalises the image, converts it to HSV and runs SEEDS with ``num_levels=5``, ``prior=3``,
``histogram_bins=10``, ``double_step=True`` and 10 pixel iterations; those are the defaults here. Their
count is set per dataset (2,048 on Cityscapes; the default here, 64, fits the 64² toy scenes).

``color="authors"`` repeats the authors' conversion exactly: a float32 HSV image. OpenCV's SEEDS bins a
float image as if every channel lay in [0, 1], while float HSV hue spans [0, 360), so every hue above
0.9° falls into the last bin and SEEDS sees saturation and value only. ``color="hsv"`` (8-bit, hue over
the full 0..255 range) and ``color="lab"`` (OpenCV's recommendation) bin all three channels.

SEEDS is deterministic: a hill climb from a regular grid, no random numbers, and single-threaded inside
OpenCV (the colour conversion is parallel but per pixel), so ``cv2.setNumThreads`` does not change the
labels (tests/test_seeds.py checks 1 thread against several).

The number of regions is a power-of-two grid fixed by the image size, ``num_superpixels`` and
``num_levels`` (OpenCV rounds down): 64 gives an 8×8 grid on a 64² image, 60 only 4×4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from skimage import exposure

from albench import SuperpixelMethod, hookimpl
from albench.errors import ComponentError
from albench.hookspecs import Register

MISSING_CV2 = (
    "superpixel method 'seeds' needs OpenCV's contrib modules (cv2.ximgproc): "
    "install them with  pip install 'albench[seeds]'"
)


def _ximgproc() -> Any:
    """OpenCV's ``ximgproc`` module, or a :class:`ComponentError` naming the extra that provides it."""
    try:
        import cv2
    except ImportError:
        raise ComponentError(MISSING_CV2) from None
    if not hasattr(cv2, "ximgproc"):  # plain opencv-python (without contrib) also installs a cv2 module
        raise ComponentError(MISSING_CV2)
    return cv2


@dataclass(frozen=True)
class SeedsParams:
    """Parameters of ``seeds``: OpenCV's SEEDS arguments (``createSuperpixelSEEDS`` and ``iterate``) and the
    image preparation (see the module docstring).

    Attributes:
        num_superpixels: the regions asked for; OpenCV rounds down to a power-of-two grid (64 on 64²: 8×8).
        num_levels: block levels of the hill climb (OpenCV drops levels that do not fit the image).
        prior: the smoothing prior of region shapes, 0 (none) to 5.
        histogram_bins: colour histogram bins per channel.
        double_step: move pixels twice per iteration at each level.
        iterations: pixel-level iterations of ``iterate``.
        color: the colour space SEEDS sees: authors (float HSV, hue in one bin), hsv (8-bit, full hue), lab.
        equalize: equalise the image's histogram first, as the authors do.
    """

    num_superpixels: int = 64
    num_levels: int = 5
    prior: int = 3
    histogram_bins: int = 10
    double_step: bool = True
    iterations: int = 10
    color: Literal["authors", "hsv", "lab"] = "authors"
    equalize: bool = True

    def __post_init__(self) -> None:
        if self.num_superpixels < 10:
            raise ValueError(f"num_superpixels must be at least 10 (OpenCV's minimum), got {self.num_superpixels}")
        if self.num_levels < 2:
            raise ValueError(f"num_levels must be at least 2 (OpenCV's minimum), got {self.num_levels}")
        if not 0 <= self.prior <= 5:
            raise ValueError(f"prior must be in 0..5, got {self.prior}")
        if self.histogram_bins < 2:
            raise ValueError(f"histogram_bins must be at least 2, got {self.histogram_bins}")
        if self.iterations < 0:
            raise ValueError(f"iterations must be at least 0, got {self.iterations}")


class Seeds(SuperpixelMethod):
    """SEEDS on the equalised image in HSV (or Lab); deterministic (hill climbing from a regular grid)."""

    name = "seeds"
    version = "1"
    Params = SeedsParams

    def __init__(self, params: SeedsParams) -> None:
        super().__init__(params)
        _ximgproc()  # fail when the run is resolved, before any training

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The image SEEDS bins: equalised (one histogram over all three channels, as scikit-image's
        ``equalize_hist`` on a colour image) and converted to the ``color`` space."""
        cv2, p = _ximgproc(), self.params
        if p.equalize:  # flattened, so scikit-image does not warn that this "might be a colour image"
            scaled = exposure.equalize_hist(image.reshape(-1)).reshape(image.shape)
        else:
            scaled = image / 255.0
        if p.color == "authors":
            return np.asarray(cv2.cvtColor(scaled.astype(np.float32), cv2.COLOR_RGB2HSV))
        as_bytes = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
        code = cv2.COLOR_RGB2HSV_FULL if p.color == "hsv" else cv2.COLOR_RGB2LAB
        return np.asarray(cv2.cvtColor(as_bytes, code))

    def segment(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        prepared = self.prepare(np.ascontiguousarray(image))
        height, width, channels = prepared.shape
        seeds = _ximgproc().ximgproc.createSuperpixelSEEDS(
            width, height, channels, p.num_superpixels, p.num_levels, p.prior, p.histogram_bins, p.double_step
        )
        seeds.iterate(prepared, p.iterations)
        return np.asarray(seeds.getLabels())


@hookimpl
def register_superpixel_methods(register: Register) -> None:
    register(Seeds)
