"""The ``seeds`` superpixel plugin (OpenCV SEEDS, optional extra ``albench[seeds]``)."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import pyarrow.parquet as pq
import pytest
from albench_plugins.datasets.toy import render_scene
from albench_plugins.superpixels.seeds import Seeds, SeedsParams
from integration import require_attribute
from typer.testing import CliRunner

from albench.cli import app
from albench.errors import ComponentError

SEEDS_EXTRA = "the seeds plugin needs OpenCV's contrib modules: pip install 'albench[seeds]'"


@pytest.fixture
def cv2():
    require_attribute("cv2", "ximgproc", SEEDS_EXTRA)
    import cv2

    threads = cv2.getNumThreads()
    yield cv2
    cv2.setNumThreads(threads)


def test_seeds_gives_the_grid_opencv_promises(cv2):
    # 64 on a 64² image: sqrt(64) = 8 regions a side, 4 block levels fit (64 / 8 / 2³ = 1 pixel blocks).
    labels = Seeds(SeedsParams()).segment(render_scene(0, 64, 0).image)
    assert labels.shape == (64, 64)
    assert len(np.unique(labels)) == 64
    # 60 rounds down to 7 a side, and 64 / 7 / 2³ < 1 forces one level fewer: a 4×4 grid.
    assert len(np.unique(Seeds(SeedsParams(num_superpixels=60)).segment(render_scene(0, 64, 0).image))) == 16


@pytest.mark.parametrize("color", ["authors", "hsv", "lab"])
def test_seeds_is_deterministic_whatever_opencvs_thread_count(cv2, color):
    image = render_scene(3, 64, 0).image
    method = Seeds(SeedsParams(color=color))
    cv2.setNumThreads(1)
    first = method.segment(image)
    assert np.array_equal(first, method.segment(image))
    cv2.setNumThreads(4)
    assert np.array_equal(first, Seeds(SeedsParams(color=color)).segment(image))


def test_seeds_follows_the_image_not_the_grid(cv2):
    # Left half black, right half white, split at column 20: no 8-pixel grid line falls there, so a region
    # boundary at 20 comes from the image.
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:, 20:] = 255
    labels = Seeds(SeedsParams(color="lab")).segment(image)
    assert not set(np.unique(labels[:, :20])) & set(np.unique(labels[:, 20:]))


def test_the_authors_float_hsv_puts_every_hue_above_a_degree_in_the_last_bin(cv2):
    image = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)  # red, green, blue
    hsv = Seeds(SeedsParams(color="authors", equalize=False)).prepare(image)
    assert hsv.dtype == np.float32
    np.testing.assert_allclose(hsv[0, :, 0], [0.0, 120.0, 240.0])  # degrees, binned by OpenCV as if in [0, 1]
    full = Seeds(SeedsParams(color="hsv", equalize=False)).prepare(image)
    assert full.dtype == np.uint8 and list(full[0, :, 0]) == [0, 85, 171]  # hue × 256/360, rounded: 85.3, 170.7


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("num_superpixels", 9, "num_superpixels must be at least 10"),
        ("num_levels", 1, "num_levels must be at least 2"),
        ("prior", 6, "prior must be in 0..5"),
        ("histogram_bins", 1, "histogram_bins must be at least 2"),
        ("iterations", -1, "iterations must be at least 0"),
    ],
)
def test_bad_seeds_parameters_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        SeedsParams(**{field: value})


def test_without_opencv_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # what `import cv2` sees when OpenCV is not installed
    with pytest.raises(
        ComponentError,
        match=r"^superpixel method 'seeds' needs OpenCV's contrib modules "
        r"\(cv2\.ximgproc\): install them with  pip install 'albench\[seeds\]'$",
    ):
        Seeds(SeedsParams())


def test_opencv_without_contrib_modules_gets_the_same_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", types.ModuleType("cv2"))  # opencv-python: a cv2 with no ximgproc
    with pytest.raises(ComponentError, match=r"pip install 'albench\[seeds\]'"):
        Seeds(SeedsParams())


def test_seeds_can_be_sent_to_worker_processes(cv2):
    # The superpixel cache computes missing entries in worker processes; it pickles the method to get it there.
    method = pickle.loads(pickle.dumps(Seeds(SeedsParams(num_superpixels=100))))
    assert method.params == SeedsParams(num_superpixels=100)


def test_albench_run_on_seeds_superpixels_end_to_end(cv2, tmp_path, monkeypatch):
    """The default benchmark on SEEDS regions: two rounds of OREAL, the superpixels cached under ``seeds``."""
    monkeypatch.setenv("ALBENCH_LOAD_PLUGINS", "")
    settings = [
        "protocol.steps=2",
        "protocol.batch_size=2",
        "protocol.threads=1",
        "backbone.width=8",
        "dataset.num_images=12",
        "superpixels.num_superpixels=16",
    ]
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--superpixels",
            "seeds",
            "-s",
            "oreal",
            "--rounds",
            "2",
            "--budget",
            "6",
            "-r",
            str(tmp_path / "r"),
            "--cache-dir",
            str(tmp_path / "c"),
            *[x for s in settings for x in ("--set", s)],
        ],
    )
    assert result.exit_code == 0, result.output
    (results,) = (tmp_path / "r").glob("*.parquet")
    table = pq.read_table(results)
    assert table.num_rows == 2
    assert json.loads(table.schema.metadata[b"albench.spec"])["superpixels"]["name"] == "seeds"
    assert list((tmp_path / "c" / "superpixels").glob("toy-seeds-*/*.npz"))
