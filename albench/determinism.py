"""All randomness comes from here: seeds derived by name, deterministic kernels, a fixed thread count.

Every random consumer gets its own seed, derived from the run seed and a purpose (``derive_seed(seed,
"train", round)``). Nothing depends on how much randomness an earlier step consumed, so a resumed run and
an uninterrupted run draw the same numbers, and every strategy sees the same round-0 draws.
"""

from __future__ import annotations

import hashlib
import os
import random

import numpy as np
import torch

__all__ = ["configure_determinism", "derive_seed", "numpy_generator", "seed_worker", "torch_generator"]


def derive_seed(seed: int, *purpose: object) -> int:
    """A 63-bit seed that depends only on ``seed`` and the purpose labels (stable across processes)."""
    text = ":".join([str(seed), *(str(p) for p in purpose)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def numpy_generator(seed: int, *purpose: object) -> np.random.Generator:
    """A NumPy generator for one purpose of one run."""
    return np.random.default_rng(derive_seed(seed, *purpose))


def torch_generator(seed: int, *purpose: object) -> torch.Generator:
    """A CPU torch generator for one purpose of one run."""
    return torch.Generator().manual_seed(derive_seed(seed, *purpose))


def configure_determinism(seed: int, threads: int, device: torch.device) -> None:
    """Seed the global generators, force deterministic kernels and fix the CPU thread count.

    Results on CPU differ between thread counts, so the count is part of the protocol.
    """
    if device.type == "cuda":
        # cuBLAS needs this before its first call to be deterministic (PyTorch reproducibility notes).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(derive_seed(seed, "python"))
    np.random.seed(derive_seed(seed, "numpy") % 2**32)
    torch.manual_seed(derive_seed(seed, "torch"))
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.set_num_threads(threads)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python and NumPy from the worker's torch seed."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
