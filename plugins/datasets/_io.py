"""Reading images and label files from disk, with errors that name the file (shared by the on-disk datasets).

Images are decoded with Pillow and converted to RGB; label files are read as stored (palette indices, grey
values or RGB colours) and converted by the dataset. Resizing to the working size happens here too: images
with Pillow's bilinear filter (which widens its support when shrinking, so a downscale averages like an
area filter), label maps with nearest neighbour, so no new label value is ever invented.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from albench.errors import DatasetError

__all__ = [
    "check_label_values",
    "check_same_size",
    "file_fingerprint",
    "read_colour_labels",
    "read_index_labels",
    "read_rgb_image",
    "resize_image",
    "resize_labels",
]

# Arrays are copied out of Pillow (np.array, not np.asarray) so they are writable. Pillow modes whose pixels are
# label values: palette indices, 8-bit grey, 16/32-bit integers.
_INDEX_MODES = ("P", "L", "I", "I;16", "I;16B", "I;16L")


def _open(path: Path, what: str) -> Image.Image:
    """Open and fully decode ``path`` (Pillow decodes lazily, so truncated files fail here, not later)."""
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise DatasetError(f"{what} {path} does not exist") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"{what} {path} is not a readable image ({error}); replace or remove the file") from None
    return image


def read_rgb_image(path: Path) -> np.ndarray:
    """``(H, W, 3) uint8`` pixels of the image at ``path``."""
    with _open(path, "image") as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def read_index_labels(path: Path) -> np.ndarray:
    """``(H, W) int64`` label values of a single-channel (palette or grey) label file."""
    with _open(path, "mask") as image:
        if image.mode not in _INDEX_MODES:
            raise DatasetError(
                f"mask {path} has mode {image.mode!r} ({len(image.getbands())} channels); masks must be single-channel "
                "label values (a palette or greyscale PNG), not colours"
            )
        return np.array(image, dtype=np.int64)


def read_colour_labels(path: Path) -> np.ndarray:
    """``(H, W, 3) uint8`` colours of a colour-coded label file."""
    with _open(path, "label file") as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def check_same_size(image_path: Path, image: np.ndarray, mask_path: Path, mask: np.ndarray) -> None:
    """An image and its mask must cover the same pixels."""
    if image.shape[:2] != mask.shape[:2]:
        (ih, iw), (mh, mw) = image.shape[:2], mask.shape[:2]
        raise DatasetError(
            f"mask {mask_path} is {mw}×{mh} pixels but its image {image_path} is {iw}×{ih}; they must be the same size"
        )


def check_label_values(mask: np.ndarray, num_classes: int, ignore_index: int, path: Path) -> None:
    """Every value is a class index (0..C-1) or the ignore index."""
    values = np.unique(mask)
    bad = values[((values < 0) | (values >= num_classes)) & (values != ignore_index)]
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:5].tolist()) + (", …" if bad.size > 5 else "")
        raise DatasetError(
            f"mask {path} has label values {shown} outside the {num_classes} classes (0..{num_classes - 1}) "
            f"and the ignore value {ignore_index}"
        )


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """``size``×``size`` RGB, bilinear (antialiased when shrinking)."""
    if image.shape[:2] == (size, size):
        return image
    resized = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
    return np.array(resized, dtype=np.uint8)


def resize_labels(mask: np.ndarray, size: int) -> np.ndarray:
    """``size``×``size`` label map, nearest neighbour; values must fit in 0..255 (checked before)."""
    if mask.shape == (size, size):
        return mask.astype(np.int64, copy=False)
    resized = Image.fromarray(mask.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    return np.array(resized, dtype=np.int64)


def file_fingerprint(*paths: Path) -> str:
    """A digest of the size and modification time of ``paths``: cheap, and changes when a file is replaced."""
    digest = hashlib.sha1()
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            raise DatasetError(f"{path} does not exist or cannot be read") from None
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()
