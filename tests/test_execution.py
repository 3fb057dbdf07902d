"""How model passes run: precision, memory order, batches loaded by workers; none may break determinism."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG
from test_runner import _values

from albench.components import Dataset, Sample, Split
from albench.errors import ParameterError
from albench.run.execution import Execution, image_batches
from albench.run.protocol import Protocol
from albench.run.runner import RunOptions, execute_run
from albench.run.spec import resolve_run
from albench.run.training import image_tensor


class Sizes(Dataset):
    """Images of the sizes given, pixel value = image index."""

    name = "sizes"
    classes = ("a", "b")

    def __init__(self, sizes: list[int]) -> None:
        super().__init__(None)
        self.sizes = sizes

    def image_ids(self) -> list[str]:
        return [str(i) for i in range(len(self.sizes))]

    def load(self, image_id: str) -> Sample:
        i, size = int(image_id), self.sizes[int(image_id)]
        return Sample(np.full((size, size, 3), i, dtype=np.uint8), np.full((size, size), i % 2, dtype=np.int64))

    def split(self, seed: int) -> Split:
        return Split(pool=tuple(self.image_ids()), val=())


def test_images_become_floats_on_the_device_as_on_the_host():
    pixels = np.array([[[0, 255, 51]]], dtype=np.uint8)  # 0/255, 255/255, 51/255 = 0, 1, 0.2
    batch = Execution(torch.device("cpu")).images(torch.from_numpy(pixels)[None])
    assert batch.shape == (1, 3, 1, 1) and batch.is_contiguous()
    assert batch.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2])
    assert torch.equal(batch[0], image_tensor(pixels))  # bit for bit what the host conversion gives


def test_channels_last_batches_and_models_are_in_channels_last_order():
    execution = Execution(torch.device("cpu"), channels_last=True)
    batch = execution.images(torch.zeros(2, 4, 5, 3, dtype=torch.uint8))
    assert batch.shape == (2, 3, 4, 5) and batch.is_contiguous(memory_format=torch.channels_last)
    conv = execution.prepare(torch.nn.Conv2d(3, 8, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_bf16_autocasts_the_forward_pass_and_fp32_does_not():
    conv, x = torch.nn.Conv2d(3, 4, 1), torch.rand(1, 3, 2, 2)
    with Execution(torch.device("cpu"), precision="bf16").autocast():
        assert conv(x).dtype == torch.bfloat16
    with Execution(torch.device("cpu")).autocast():
        assert conv(x).dtype == torch.float32


@pytest.mark.parametrize("workers", [0, 2])
def test_image_batches_keep_the_order_and_stack_only_equal_sizes(workers):
    dataset = Sizes([4, 4, 6, 4, 4])
    batches = list(
        image_batches(
            dataset,
            dataset.image_ids(),
            batch_size=3,
            execution=Execution(torch.device("cpu")),
            workers=workers,
            masks=True,
        )
    )
    shapes = [[tuple(group.images.shape) for group in groups] for groups in batches]
    assert shapes == [[(2, 4, 4, 3), (1, 6, 6, 3)], [(2, 4, 4, 3)]]
    ids = [group.image_ids for groups in batches for group in groups]
    assert ids == [["0", "1"], ["2"], ["3", "4"]]
    assert [int(group.images[0, 0, 0, 0]) for groups in batches for group in groups] == [0, 2, 3]
    assert batches[1][0].masks is not None and batches[1][0].masks[:, 0, 0].tolist() == [1, 0]


def test_precision_must_be_fp32_or_bf16():
    with pytest.raises(ParameterError, match="precision"):
        Protocol().replace(precision="fp16")


def _run(registry, tmp_path, name, **protocol):
    config = dataclasses.replace(TINY_CONFIG, protocol=TINY_CONFIG.protocol.replace(**protocol))
    spec = resolve_run(registry, config, "oreal", 0)
    return execute_run(spec, registry, RunOptions(tmp_path / name, tmp_path / f"cache-{name}"))


def test_a_run_with_loader_workers_equals_one_without(registry, tmp_path):
    # Training samples are seeded by the sampler and evaluation and scoring load without randomness, so where
    # the images are loaded cannot change a number.
    without = _run(registry, tmp_path, "w0", num_workers=0)
    with_workers = _run(registry, tmp_path, "w2", num_workers=2)
    assert _values(without.table, drop=("run_id", "protocol_hash", "protocol")) == _values(
        with_workers.table, drop=("run_id", "protocol_hash", "protocol")
    )


@pytest.mark.parametrize("setting", [{"precision": "bf16"}, {"channels_last": True}])
def test_bf16_and_channels_last_runs_are_deterministic_and_recorded(registry, tmp_path, setting):
    first = _run(registry, tmp_path, "a", **setting)
    second = _run(registry, tmp_path, "b", **setting)
    assert _values(first.table) == _values(second.table)
    ((name, value),) = setting.items()
    assert first.spec.canonical()["protocol"][name] == value  # part of the run id
    assert json.loads(first.table.column("protocol")[0].as_py())[name] == value  # and of every row
