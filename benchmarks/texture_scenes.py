"""Real-image scenes for the ``folder`` dataset, built from scikit-image's bundled photographs (no download).

Each scene is a crop of one of several photographs (the background class) with 2–6 blobs pasted on it; a
blob's class fixes which photograph its texture is cut from (brick, grass, gravel, cells, stained tissue,
coins, moon surface), at a random position, scale and tint, so colour says little and texture says the
class. Classes follow a long tail (class k about 1/k as frequent as class 1). Masks are exact, so mIoU
against them measures the method, not the annotation.

    python benchmarks/texture_scenes.py OUT_DIR [--train 240] [--test 80] [--size 96] [--seed 0]

writes ``OUT_DIR/{classes.txt, albench.toml, images/{train,test}/*.png, masks/{train,test}/*.png}``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

CLASSES = ("background", "brick", "grass", "gravel", "cells", "tissue", "coins", "moon")
_TEXTURES = ("brick", "grass", "gravel", "cell", "immunohistochemistry", "coins", "moon")
_BACKGROUNDS = ("coffee", "chelsea", "rocket", "astronaut", "hubble_deep_field", "retina")


def _photographs() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Float RGB photographs in [0, 1]: the class textures, then the backgrounds."""
    import skimage.data

    def rgb(name: str) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
        image = image / 255.0 if image.max() > 1 else image
        return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]

    return [rgb(n) for n in _TEXTURES], [rgb(n) for n in _BACKGROUNDS]


def _crop(rng: np.random.Generator, photo: np.ndarray, size: int) -> np.ndarray:
    """A random square crop, rescaled to ``size`` (zoom 0.5–1.5 of the photo's own scale)."""
    side = int(np.clip(size * rng.uniform(0.5, 1.5), 8, min(photo.shape[:2])))
    y = rng.integers(0, photo.shape[0] - side + 1)
    x = rng.integers(0, photo.shape[1] - side + 1)
    patch = (photo[y : y + side, x : x + side] * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(patch).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64) / 255


def _blob(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random blob covering roughly 3–15% of the image."""
    noise = ndimage.gaussian_filter(rng.normal(size=(size, size)), sigma=size / 10)
    cy, cx = rng.uniform(0.15, 0.85, size=2) * size
    yy, xx = np.mgrid[:size, :size]
    radius = rng.uniform(0.12, 0.25) * size
    falloff = 1 - np.hypot(yy - cy, xx - cx) / radius
    return (falloff + 2.0 * noise / (noise.std() + 1e-9) * 0.15) > 0


def scene(
    rng: np.random.Generator, textures: list[np.ndarray], backgrounds: list[np.ndarray], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One ``(size, size, 3) uint8`` image and its ``(size, size) uint8`` mask."""
    image = _crop(rng, backgrounds[rng.integers(len(backgrounds))], size)
    image = image * rng.uniform(0.6, 1.1, size=3)
    mask = np.zeros((size, size), dtype=np.uint8)
    frequency = 1.0 / np.arange(1, len(textures) + 1)
    for _ in range(rng.integers(2, 7)):
        k = int(rng.choice(len(textures), p=frequency / frequency.sum()))
        shape = _blob(rng, size)
        texture = _crop(rng, textures[k], size) * rng.uniform(0.5, 1.2, size=3)  # random tint
        image[shape] = texture[shape]
        mask[shape] = k + 1
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), mask


def write(out: Path, train: int, test: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    textures, backgrounds = _photographs()
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (out / "albench.toml").write_text('background = "background"\ntrain = "train"\ntest = "test"\n')
    for split, count in (("train", train), ("test", test)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "masks" / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image, mask = scene(rng, textures, backgrounds, size)
            Image.fromarray(image).save(out / "images" / split / f"{index:04d}.png")
            Image.fromarray(mask).save(out / "masks" / split / f"{index:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=240)
    parser.add_argument("--test", type=int, default=80)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write(args.out, args.train, args.test, args.size, args.seed)
    print(f"wrote {args.train} train and {args.test} test scenes of {args.size}² to {args.out}")


if __name__ == "__main__":
    main()
