"""The paper's backbones: DeepLabV3 on ResNet50/101 (torchvision) and on a ViT (timm).

Each builds and trains on CPU at 2×3×64×64, bit-identically twice under deterministic algorithms; logits come
back at the input size, nearest-upsampled (constant on output-stride blocks) unless bilinear is asked for.
Pretrained weights load from local files or the framework caches only; nothing here downloads.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from albench_plugins.backbones._deeplab_head import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DeepLabHead,
    ImagePooling,
    Normalize,
    bilinear_matrix,
    upsample_logits,
)
from albench_plugins.backbones._weights import WeightsError

from albench.errors import ComponentError, ParameterError
from albench.host.registry import load_registry

NUM_CLASSES = 3
# A ViT small enough for a CPU test: 2 blocks of width 64 on a 4×4 patch grid.
SMALL_VIT = {
    "model": "vit_small_patch16_224",
    "img_size": 64,
    "depth": 2,
    "embed_dim": 64,
    "num_heads": 2,
    "head_channels": 32,
}
CASES = {"deeplabv3-resnet50": ({}, 8), "deeplabv3-resnet101": ({}, 8), "deeplabv3-vit": (SMALL_VIT, 16)}


@pytest.fixture(scope="module")
def registry():
    return load_registry(entry_points=False)


def build(registry, name: str, seed: int = 0, **params):
    torch.manual_seed(seed)
    return registry.create("backbone", name, {**CASES[name][0], **params}).instance.build(NUM_CLASSES)


@pytest.fixture(scope="module", params=list(CASES))
def built(request, registry):
    """(name, output stride, a model built with seed 0), once per backbone for the whole module."""
    name = request.param
    return name, CASES[name][1], build(registry, name)


@pytest.fixture
def deterministic():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


def images(batch: int = 2, size: tuple[int, int] = (64, 64)) -> torch.Tensor:
    return torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(7))


def train_step(model, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One forward and backward in training mode, dropout seeded; returns the logits and every gradient."""
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(123)
    logits = model(x)
    weights = torch.linspace(-1.0, 1.0, logits.numel()).reshape(logits.shape)
    (logits * weights).sum().backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_every_backbone_is_registered(registry):
    assert {"deeplabv3-resnet50", "deeplabv3-resnet101", "deeplabv3-vit", "tiny-deeplab"} <= set(
        registry.names("backbone")
    )


def test_forward_backward_is_identical_twice_with_the_same_seed(built, registry, deterministic):
    name, _, first = built
    second = build(registry, name)
    for (key, a), b in zip(first.named_parameters(), second.parameters()):
        assert torch.equal(a, b), f"{name}: {key} differs between two builds with seed 0"
    logits_a, grads_a = train_step(first, images())
    logits_b, grads_b = train_step(second, images())
    assert logits_a.shape == (2, NUM_CLASSES, 64, 64)
    assert torch.equal(logits_a, logits_b)
    assert grads_a.keys() == grads_b.keys() == {n for n, _ in first.named_parameters()}
    assert all(torch.equal(grads_a[k], grads_b[k]) for k in grads_a)
    assert any(g.abs().sum() > 0 for g in grads_a.values())


def test_logits_are_nearest_upsampled_constant_on_output_stride_blocks(built):
    name, stride, model = built
    model.eval()
    with torch.no_grad():
        logits = model(images())
    coarse = logits[..., ::stride, ::stride]
    assert coarse.shape[-2:] == (64 // stride, 64 // stride)
    assert torch.equal(logits, coarse.repeat_interleave(stride, -2).repeat_interleave(stride, -1))
    assert coarse.std(dim=(-2, -1)).min() > 0  # the blocks differ: the test is not passing on a constant map


def test_bilinear_upsampling_is_smooth_and_the_right_size(built):
    name, stride, model = built
    model.eval()
    model.upsample = "bilinear"
    try:
        with torch.no_grad():
            logits = model(images(size=(60, 52)))
    finally:
        model.upsample = "nearest"
    assert logits.shape == (2, NUM_CLASSES, 60, 52)
    block = logits[..., :stride, :stride]
    assert not torch.equal(block, block[..., :1, :1].expand_as(block))


def test_the_upsample_parameter_reaches_the_model(registry):
    model = build(registry, "deeplabv3-vit", upsample="bilinear")
    assert model.upsample == "bilinear"
    x = images()
    model.eval()
    with torch.no_grad():
        logits = model(x)
        low = model.classifier(
            model.backbone.forward_intermediates(
                model.normalize(x), indices=1, norm=True, output_fmt="NCHW", intermediates_only=True
            )[0]
        )
    assert torch.allclose(logits, F.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False), atol=1e-5)


def test_bilinear_weights_by_hand():
    # 2 → 4 samples, align_corners=False: source positions −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    expected = torch.tensor([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])
    assert torch.equal(bilinear_matrix(2, 4, device=torch.device("cpu"), dtype=torch.float32), expected)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    assert torch.allclose(
        upsample_logits(x, (33, 20), "bilinear"),
        F.interpolate(x, size=(33, 20), mode="bilinear", align_corners=False),
        atol=1e-12,
    )


def test_imagenet_normalisation_inside_the_model(registry, built):
    name, _, model = built
    x = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).repeat(1, 1, 2, 2)
    normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
    assert torch.equal(normalize(x), torch.zeros_like(x))
    assert torch.allclose(
        normalize(torch.ones(1, 3, 1, 1)).flatten(), torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225])
    )
    if name == "deeplabv3-vit":  # timm's statistics for the AugReg ViT weights, or ImageNet's on request
        assert model.normalize.mean.flatten().tolist() == [0.5, 0.5, 0.5]
        imagenet = build(registry, name, normalize="imagenet")
        assert torch.allclose(imagenet.normalize.std.flatten(), torch.tensor(IMAGENET_STD))
    else:
        assert torch.allclose(model.normalize.mean.flatten(), torch.tensor(IMAGENET_MEAN))


def test_the_head_is_torchvisions_with_a_deterministic_image_pooling():
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead as TorchvisionHead

    torch.manual_seed(0)
    reference = TorchvisionHead(16, NUM_CLASSES, (1, 2, 3))
    ours = DeepLabHead(16, NUM_CLASSES, (1, 2, 3))
    ours.load_state_dict(reference.state_dict(), strict=True)  # same module names, same keys
    features = torch.randn(2, 16, 6, 6)
    reference.eval()
    ours.eval()
    with torch.no_grad():
        assert torch.allclose(ours(features), reference(features), atol=1e-6)


def test_image_pooling_trains_with_batch_size_one_where_torchvisions_cannot():
    from torchvision.models.segmentation.deeplabv3 import ASPPPooling

    torch.manual_seed(0)
    reference, ours = ASPPPooling(4, 5), ImagePooling(4, 5)
    ours.load_state_dict(reference.state_dict())
    features = torch.randn(3, 4, 6, 6)
    # batch statistics of the broadcast map equal those of the pooled vector: same training output
    assert torch.allclose(ours.train()(features), reference.train()(features), atol=1e-5)
    with pytest.raises(ValueError):
        reference(features[:1])
    assert ours(features[:1]).shape == (1, 5, 6, 6)


def test_vit_refuses_to_train_at_another_size_and_says_which_parameter_to_set(registry):
    model = build(registry, "deeplabv3-vit").train()
    with pytest.raises(
        ComponentError, match=r"built for 64×64 inputs but is training on 96×96; set backbone.img_size=96"
    ):
        model(images(1, (96, 96)))


# Pretrained weights: local files and framework caches, never the network.


def test_a_missing_weights_file_is_named(registry):
    with pytest.raises(
        ParameterError,
        match=r"backbone 'deeplabv3-resnet50': weights file '/no/such/resnet.pth' does "
        r"not exist; pass an existing state-dict file",
    ):
        registry.create("backbone", "deeplabv3-resnet50", {"weights": "/no/such/resnet.pth"})


def test_imagenet_weights_missing_from_torch_hubs_cache_say_how_to_provide_them(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    backbone = registry.create("backbone", "deeplabv3-resnet101", {"weights": "imagenet"}).instance
    cached = tmp_path / "hub" / "checkpoints" / "resnet101-63fe2227.pth"
    with pytest.raises(WeightsError) as error:
        backbone.build(NUM_CLASSES)
    message = str(error.value)
    assert f"not in torch hub's cache ({cached})" in message and "albench never downloads" in message
    assert f"download https://download.pytorch.org/models/resnet101-63fe2227.pth and copy it to {cached}" in message
    assert "--set backbone.weights=/path/to/resnet101-63fe2227.pth" in message


def test_vit_imagenet_weights_missing_from_the_hugging_face_cache(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    backbone = registry.create("backbone", "deeplabv3-vit", SMALL_VIT | {"weights": "imagenet"}).instance
    with pytest.raises(WeightsError) as error:
        backbone.build(NUM_CLASSES)
    message = str(error.value)
    repo = "timm/vit_small_patch16_224.augreg_in21k_ft_in1k"
    assert f"({repo}) are not in the Hugging Face cache ({tmp_path})" in message
    assert f"huggingface-cli download {repo} model.safetensors" in message
    assert f"https://huggingface.co/{repo}/resolve/main/model.safetensors" in message


def test_resnet_weights_load_from_a_local_file(registry, tmp_path):
    import torchvision

    torch.manual_seed(1)
    encoder = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
    path = tmp_path / "resnet50.pth"
    torch.save(encoder.state_dict(), path)  # includes fc.*, which the segmentation model ignores
    model = build(registry, "deeplabv3-resnet50", seed=0, weights=str(path))
    expected = {k: v for k, v in encoder.state_dict().items() if not k.startswith("fc.")}
    loaded = model.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def _small_timm_vit(img_size: int, seed: int = 1, **overrides):
    import timm

    torch.manual_seed(seed)
    params = {"depth": 2, "embed_dim": 64, "num_heads": 2} | overrides
    return timm.create_model("vit_small_patch16_224", pretrained=False, img_size=img_size, **params)


def test_vit_weights_load_from_a_local_file_with_position_embeddings_resampled(registry, tmp_path):
    encoder = _small_timm_vit(img_size=96)  # a 6×6 grid and a 1000-class head, as saved elsewhere
    path = tmp_path / "vit.pth"
    torch.save(encoder.state_dict(), path)
    model = build(registry, "deeplabv3-vit", weights=str(path))
    loaded = model.backbone.state_dict()
    for key, value in encoder.state_dict().items():
        if key.startswith("head.") or key == "pos_embed":
            continue
        assert torch.equal(loaded[key], value), key
    assert loaded["pos_embed"].shape == (1, 1 + 4 * 4, 64)  # class token + the 4×4 grid of a 64-pixel input
    assert torch.equal(loaded["pos_embed"][:, 0], encoder.state_dict()["pos_embed"][:, 0])


def test_vit_imagenet_weights_load_from_the_hugging_face_cache(registry, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    encoder = _small_timm_vit(img_size=64)
    snapshot = tmp_path / "models--timm--vit_small_patch16_224.augreg_in21k_ft_in1k" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abc")
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(snapshot / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("a backbone tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = build(registry, "deeplabv3-vit", weights="imagenet")
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in encoder.state_dict().items() if not k.startswith("head."))


def test_weights_of_another_architecture_are_refused_by_name(registry, tmp_path):
    path = tmp_path / "wider.pth"
    torch.save(_small_timm_vit(img_size=64, embed_dim=32, num_heads=2).state_dict(), path)
    with pytest.raises(WeightsError, match=r"backbone 'deeplabv3-vit': the weights in .*wider.pth do not fit"):
        build(registry, "deeplabv3-vit", weights=str(path))


def test_an_unreadable_weights_file_is_named(registry, tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"backbone 'deeplabv3-vit': cannot read weights file .*broken.pth"):
        build(registry, "deeplabv3-vit", weights=str(path))


def test_an_unknown_vit_gets_close_matches(registry):
    with pytest.raises(
        ComponentError, match=r"timm has no model 'vit_smal_patch16_224'. Did you mean 'vit_small_patch16_224'"
    ):
        build(registry, "deeplabv3-vit", model="vit_smal_patch16_224")
    with pytest.raises(ComponentError, match=r"timm model 'resnet18' is not a VisionTransformer"):
        build(registry, "deeplabv3-vit", model="resnet18")


def test_parameters_are_checked_before_anything_is_built(registry):
    with pytest.raises(ParameterError, match=r"parameter 'output_stride' must be 8 \| 16, got '4'"):
        registry.create("backbone", "deeplabv3-resnet50", {"output_stride": "4"})
    with pytest.raises(ParameterError, match=r"parameter 'upsample' must be 'nearest' \| 'bilinear', got 'bicubic'"):
        registry.create("backbone", "deeplabv3-vit", {"upsample": "bicubic"})
    with pytest.raises(ParameterError, match=r"rates must be positive atrous rates"):
        registry.create("backbone", "deeplabv3-vit", {"rates": "0,6"})


def test_weights_file_paths_expand_the_home_directory(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.pth").write_bytes(b"")
    assert (
        Path(registry.create("backbone", "deeplabv3-vit", {"weights": "~/w.pth"}).instance.weights_file())
        == tmp_path / "w.pth"
    )
