"""``deeplabv3-vit``: a timm Vision Transformer encoder with the DeepLabV3 head, the paper's third backbone.

The paper does not say which ViT it used; the default is ``vit_base_patch16_224`` (ViT-B/16, the common
choice), and ``model`` takes any timm ``VisionTransformer`` name (with an optional ``.tag`` selecting its
pretrained weights). The last block's patch tokens, after the final norm, are reshaped to a feature grid at
stride = patch size (16), which the DeepLabV3 head (ASPP rates 6/12/18, the DeepLabV3 paper's at stride 16)
turns into logits, upsampled to the input size with nearest interpolation by default (see ``_deeplab_head``).

Sizes: the model is built for ``img_size`` (use the protocol's training size: 513 for VOC, 769 for
Cityscapes, 224 for EndoVis). Inputs are zero-padded (after normalisation) at the bottom and right to a
multiple of the patch size and the logits cropped back, so any size works. Training must use the built grid;
other sizes are accepted without gradients (evaluation), with timm resampling the position embeddings.
Training at another size is refused because that resampling is bicubic, whose CUDA backward is
nondeterministic.

Determinism: attention is computed explicitly (softmax(QKᵀ)V) unless ``fused_attention``: PyTorch's fused
attention kernels are not guaranteed deterministic in the backward pass on CUDA.

Weights: ``pretrained=False`` always; timm never touches the network. ``weights = "imagenet"`` reads timm's
default pretrained weights for ``model`` from the local Hugging Face cache; a path reads a state dict (timm's
key names, e.g. saved from ``timm.create_model(model).state_dict()``). Position embeddings of another grid
are resampled once at load time by timm's ``checkpoint_filter_fn``. Normalisation uses the mean and standard
deviation timm records for those weights (``normalize = "weights"``; 0.5/0.5 for the AugReg ViT-B/16), or
ImageNet's (``normalize = "imagenet"``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from albench_plugins.backbones._deeplab_head import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DeepLabHead,
    Normalize,
    Upsample,
    upsample_logits,
)
from albench_plugins.backbones._weights import (
    WeightsError,
    check_weights_value,
    hf_cache_dir,
    hf_cached_file,
    load_encoder_weights,
    read_state_dict,
    torch_hub_checkpoint,
)
from torch import nn

from albench import Backbone, Register, hookimpl
from albench.errors import ComponentError

if TYPE_CHECKING:
    from timm.models.vision_transformer import VisionTransformer

HF_FILENAMES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class VitDeepLabParams:
    """Parameters of ``deeplabv3-vit``.

    Attributes:
        model: a timm ViT name.
        img_size: the training input size (square); set it to the protocol's training crop.
        weights: ``none``, ``imagenet`` (the Hugging Face cache) or a state-dict file.
        depth: overrides the model's number of blocks (0 keeps the model's).
        embed_dim: overrides the model's width (0 keeps the model's).
        num_heads: overrides the model's attention heads (0 keeps the model's).
        rates: the ASPP dilation rates.
        head_channels: the ASPP width.
        upsample: how logits reach the input size (nearest keeps training deterministic).
        normalize: the input statistics: those of the timm weights, or ImageNet's.
        fused_attention: PyTorch's fused attention kernels (faster, not guaranteed deterministic on CUDA).
    """

    model: str = "vit_base_patch16_224"
    img_size: int = 224
    weights: str = "none"
    depth: int = 0
    embed_dim: int = 0
    num_heads: int = 0
    rates: tuple[int, ...] = (6, 12, 18)
    head_channels: int = 256
    upsample: Upsample = "nearest"
    normalize: Literal["weights", "imagenet"] = "weights"
    fused_attention: bool = False

    def __post_init__(self) -> None:
        check_weights_value(self.weights)
        if self.img_size < 1:
            raise ValueError(f"img_size must be at least 1, got {self.img_size}")
        for name in ("depth", "embed_dim", "num_heads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (the model's own) or positive, got {getattr(self, name)}")
        if not self.rates or any(rate < 1 for rate in self.rates):
            raise ValueError(f"rates must be positive atrous rates, got {self.rates}")
        if self.head_channels < 1:
            raise ValueError(f"head_channels must be at least 1, got {self.head_channels}")


class DeepLabV3ViT(nn.Module):
    """normalise → pad to the patch grid → ViT patch tokens as a grid → DeepLabV3 head → upsample → crop."""

    def __init__(
        self,
        encoder: VisionTransformer,
        head: nn.Module,
        normalize: Normalize,
        upsample: Upsample,
        grid: tuple[int, int],
        owner: str,
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.backbone = encoder
        self.classifier = head
        self.upsample = upsample
        self.patch = int(encoder.patch_embed.patch_size[0])
        self.grid = grid
        self.owner = owner

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2], images.shape[-1]
        x = self.normalize(images)
        x = F.pad(x, (0, -width % self.patch, 0, -height % self.patch))
        grid = (x.shape[-2] // self.patch, x.shape[-1] // self.patch)
        if grid != self.grid and self.training and torch.is_grad_enabled():
            built = self.grid[0] * self.patch
            fix = (
                f"set backbone.img_size={height} (the training crop size) in the protocol or with --set"
                if height == width
                else "it trains on square crops of backbone.img_size pixels"
            )
            raise ComponentError(
                f"{self.owner} was built for {built}×{built} inputs but is training on {height}×{width}; {fix}"
            )
        (features,) = self.backbone.forward_intermediates(
            x, indices=1, norm=True, output_fmt="NCHW", intermediates_only=True
        )
        logits = upsample_logits(self.classifier(features), (x.shape[-2], x.shape[-1]), self.upsample)
        return logits[..., :height, :width]


class VitDeepLab(Backbone):
    """DeepLabV3 on a timm Vision Transformer."""

    name = "deeplabv3-vit"
    version = "1"
    Params = VitDeepLabParams

    @property
    def owner(self) -> str:
        return f"backbone {self.name!r}"

    def build(self, num_classes: int) -> nn.Module:
        import timm
        from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn

        p = self.params
        if not timm.is_model(p.model):
            close = difflib.get_close_matches(p.model, timm.list_models("vit_*"), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ComponentError(f"{self.owner}: timm has no model {p.model!r}.{hint}")
        overrides: dict[str, Any] = {k: getattr(p, k) for k in ("depth", "embed_dim", "num_heads") if getattr(p, k)}
        overrides.update(pretrained=False, num_classes=0, dynamic_img_size=True)
        architecture = p.model.split(".")[0]
        try:
            with torch.device("meta"):  # allocates nothing and draws no random numbers: reads the patch size
                probe = timm.create_model(architecture, img_size=p.img_size, **overrides)
        except TypeError:  # a model family that takes other arguments: not a ViT
            probe = None
        if not isinstance(probe, VisionTransformer):
            raise ComponentError(
                f"{self.owner}: timm model {p.model!r} is not a VisionTransformer; pick a ViT "
                f"such as vit_base_patch16_224 or vit_small_patch16_224"
            )
        file = self.weights_file()  # before initialising: fail fast
        patch = int(probe.patch_embed.patch_size[0])
        side = -(-p.img_size // patch)  # built for the padded size, which is what training inputs become
        encoder = timm.create_model(architecture, img_size=side * patch, **overrides)
        for module in encoder.modules():
            if hasattr(module, "fused_attn"):
                module.fused_attn = p.fused_attention
        if file is not None:
            try:  # timm's own key conversions, and position embeddings resampled to this grid
                state = checkpoint_filter_fn(read_state_dict(file, self.owner), encoder)
            except (RuntimeError, KeyError, ValueError) as error:
                raise WeightsError(f"{self.owner}: the weights in {file} do not fit {p.model!r}: {error}") from None
            load_encoder_weights(encoder, state, owner=self.owner, source=str(file), ignore_prefixes=("head.",))
        head = DeepLabHead(encoder.embed_dim, num_classes, p.rates, p.head_channels)
        return DeepLabV3ViT(encoder, head, self.normalizer(), p.upsample, (side, side), self.owner)

    def normalizer(self) -> Normalize:
        """ImageNet statistics, or those timm records for the model's pretrained weights."""
        if self.params.normalize == "imagenet":
            return Normalize(IMAGENET_MEAN, IMAGENET_STD)
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(self.params.model)
        if cfg is None:
            return Normalize(IMAGENET_MEAN, IMAGENET_STD)
        return Normalize(cfg.mean, cfg.std)

    def weights_file(self) -> Path | None:
        """The state-dict file to load, or ``None`` for random initialisation; raises when it is not here."""
        weights: str = self.params.weights
        if weights == "none":
            return None
        if weights != "imagenet":
            path = Path(weights).expanduser()
            if not path.is_file():
                raise WeightsError(f"{self.owner}: weights file {path} does not exist")
            return path
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(self.params.model)
        repo = cfg.hf_hub_id if cfg is not None else None
        if repo:
            cached = hf_cached_file(repo, HF_FILENAMES)
            if cached is not None:
                return cached
        url = cfg.url if cfg is not None else ""
        if url and not url.endswith(".npz") and torch_hub_checkpoint(url).is_file():
            return torch_hub_checkpoint(url)
        if not repo:
            raise WeightsError(
                f"{self.owner}: timm lists no pretrained weights for {self.params.model!r}; "
                f"pass a state-dict file with --set backbone.weights=/path/to/file"
            )
        raise WeightsError(
            f"{self.owner}: ImageNet weights for {self.params.model!r} ({repo}) are not in the Hugging Face cache "
            f"({hf_cache_dir()}), and albench never downloads. On a machine with network access run "
            f"`huggingface-cli download {repo} model.safetensors` and copy its cache directory here (the "
            f"location follows $HF_HUB_CACHE / $HF_HOME), or download https://huggingface.co/{repo}/resolve/main/"
            f"model.safetensors and pass it: --set backbone.weights=/path/to/model.safetensors"
        )


@hookimpl
def register_backbones(register: Register) -> None:
    register(VitDeepLab)
