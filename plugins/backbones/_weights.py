"""Pretrained encoder weights, found without a network: a local file, torch hub's cache or the Hugging Face cache.

albench never downloads. A backbone's ``weights`` parameter is ``"none"`` (random initialisation, seeded by the
runner), ``"imagenet"`` (the framework's ImageNet weights, looked up in its cache) or a path to a state-dict
file. When the weights are not on this machine the error says which file to fetch elsewhere and where to put
it, or how to pass a local file instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from albench.errors import ComponentError

__all__ = [
    "WeightsError",
    "check_weights_value",
    "hf_cache_dir",
    "hf_cached_file",
    "load_encoder_weights",
    "read_state_dict",
    "torch_hub_checkpoint",
]

NAMED_WEIGHTS = ("none", "imagenet")


class WeightsError(ComponentError):
    """Pretrained weights that are not on this machine, cannot be read, or do not fit the encoder."""


def check_weights_value(value: str) -> None:
    """For a ``Params.__post_init__``: ``value`` is ``none``, ``imagenet`` or an existing file (ValueError if not)."""
    if value in NAMED_WEIGHTS:
        return
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(
            f"weights file {str(path)!r} does not exist; pass an existing state-dict file (.pth, .pt, .bin or "
            f".safetensors), 'imagenet' (from the local framework cache) or 'none'"
        )


def torch_hub_checkpoint(url: str) -> Path:
    """Where ``torch.hub`` caches the file of ``url`` (``$TORCH_HOME/hub/checkpoints/<file name>``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved from the environment as ``huggingface_hub`` does."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hf_cached_file(repo_id: str, filenames: tuple[str, ...]) -> Path | None:
    """The first of ``filenames`` present in the local cache of model repo ``repo_id`` (a pure file lookup)."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=hf_cache_dir())
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def read_state_dict(path: Path, owner: str) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file or a ``torch.save``d state dict (unwrapping ``state_dict``/``model``)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: object = load_file(str(path), device="cpu")
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling and safetensors raise a variety of types
        raise WeightsError(f"{owner}: cannot read weights file {path}: {type(error).__name__}: {error}") from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsError(f"{owner}: weights file {path} does not hold a state dict (a mapping of names to tensors)")
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load_encoder_weights(
    encoder: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    owner: str,
    source: str,
    ignore_prefixes: tuple[str, ...] = (),
) -> None:
    """Load ``state`` into ``encoder`` strictly; keys under ``ignore_prefixes`` (the checkpoint's own
    classifier, e.g. ``fc.``) are dropped. A mismatch names the missing, unexpected and misshapen keys."""
    wanted = encoder.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes) or k in wanted}
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    misshapen = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(v.shape)})"
        for k, v in wanted.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or misshapen:
        problems = [
            f"{label}: {_listing(names)}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen))
            if names
        ]
        raise WeightsError(
            f"{owner}: the weights in {source} do not fit its encoder ({'; '.join(problems)}); pass a state dict "
            f"saved from the same architecture and parameters"
        )
    encoder.load_state_dict(dict(state), strict=True)
