"""The registry is the test matrix: every registered built-in component passes its kind's contract check.

A new built-in is checked as soon as it registers, without being added to a list here. Components that
need files get them in their real on-disk layout (``dataset_fixtures``); a few get parameters or options
that keep the check to seconds (``FAST``), never ones that skip a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dataset_fixtures import write_cityscapes, write_endovis_sequence, write_folder, write_voc

from albench import testing
from albench.components import KINDS
from albench.host.registry import Registration, load_registry

CHECKS: dict[str, Callable[..., None]] = {
    "dataset": testing.check_dataset,
    "backbone": testing.check_backbone,
    "superpixels": testing.check_superpixel_method,
    "labeling": testing.check_labeling_scheme,
    "strategy": testing.check_strategy,
    "executor": testing.check_executor,
}


def _voc(root: Path) -> Path:
    return write_voc(root, [f"2007_{i:06d}" for i in range(8)], ["2008_000001", "2008_000002"]).parent.parent


def _cityscapes(root: Path) -> Path:
    return write_cityscapes(root, train={"aachen": 4, "bochum": 3}, val={"frankfurt": 2})


def _endovis(root: Path) -> Path:
    for number in (1, 2, 3, 4, 5, 6, 10):
        write_endovis_sequence(root / "train" / f"seq_{number}", frames=1)
    write_endovis_sequence(root / "test" / "seq_1", frames=2)
    return root


def _folder(root: Path) -> Path:
    return write_folder(
        root,
        ("background", "tool", "organ"),
        {"train": [f"video{v}/frame{f}" for v in range(6) for f in range(2)], "test": ["t0", "t1"]},
    )


def _images(root: Path) -> Path:
    """A folder of images (the ``folder`` layout's ``images/``), with masks for the test images only."""
    _folder(root)
    for mask in (root / "masks" / "train").rglob("*.png"):
        mask.unlink()
    return root / "images"


# dataset name → a writer of its real on-disk layout under a folder, returning the --data-root
DATA: dict[str, Callable[[Path], Path]] = {
    "pascal-voc": _voc,
    "cityscapes": _cityscapes,
    "endovis2018": _endovis,
    "folder": _folder,
    "images": _images,
}

# (kind, name) → keyword arguments of the check: smaller images or models, the same rules
SMALL_VIT = {
    "model": "vit_small_patch16_224",
    "img_size": 64,
    "depth": 2,
    "embed_dim": 64,
    "num_heads": 2,
    "head_channels": 32,
}
FAST: dict[tuple[str, str], dict[str, Any]] = {
    ("backbone", "deeplabv3-vit"): {"params": SMALL_VIT, "train_size": (64, 64)},
    ("dataset", "pascal-voc"): {"params": {"image_size": 40}},
    ("dataset", "cityscapes"): {"params": {"image_size": 40}},
    ("dataset", "endovis2018"): {"params": {"image_size": 40}},
    ("dataset", "folder"): {"params": {"image_size": 40}},
    # these need a cluster (or start one): checked without running tasks; tests/test_sweep_integration.py runs them
    ("executor", "slurm"): {"run_tasks": False},
    ("executor", "ray"): {"run_tasks": False},
    ("dataset", "images"): {"params": {"image_size": 40, "classes": "../classes.txt", "masks": "../masks"}},
}

REGISTRATIONS = load_registry(entry_points=False).registrations()


def test_every_kind_has_a_check():
    assert set(CHECKS) == set(KINDS)


def test_the_matrix_holds_every_kind_and_the_components_no_list_named():
    names = {(r.kind, r.name) for r in REGISTRATIONS}
    assert {r.kind for r in REGISTRATIONS} == set(KINDS)
    assert ("strategy", "full") in names  # the reference the hand-written lists used to leave out


@pytest.mark.parametrize("registration", REGISTRATIONS, ids=lambda r: f"{r.kind}-{r.name}")
def test_every_registered_component_keeps_its_contract(registration: Registration, tmp_path: Path):
    options = dict(FAST.get((registration.kind, registration.name), {}))
    if registration.kind == "dataset" and registration.name in DATA:
        options["root"] = DATA[registration.name](tmp_path / "data")
    CHECKS[registration.kind](registration.cls, **options)
