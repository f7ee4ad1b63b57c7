"""Every registered architecture: output shapes, and save -> load gives identical outputs."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from i2i.archs.registry import ARCHS, build
from i2i.checkpoint import ModelInfo, load_model, save_model
from i2i.archs.fast_conv import _NNPACKConvolution, nnpack_available, use_nnpack
from i2i.task import Task

# Small options per architecture so the test stays quick; everything else is the default.
SMALL = {
    "unet": {"ngf": 4, "num_downs": 7},
    "resnet": {"ngf": 4, "blocks": 2},
    "patchgan": {"ndf": 4},
    "srresnet": {"channels": 8, "blocks": 2},
    "transformer_net": {"width": 4, "res_blocks": 1},
}


@pytest.mark.parametrize("arch_id", sorted(ARCHS))
def test_every_arch_is_tested_with_small_options(arch_id):
    assert arch_id in SMALL, f"add small options for new architecture {arch_id}"


@pytest.mark.parametrize("arch_id", sorted(ARCHS))
def test_shapes_and_round_trip(arch_id, tmp_path):
    spec = ARCHS[arch_id]
    module, cfg = build(arch_id, SMALL[arch_id])
    module.eval()
    m = spec.size_multiple(cfg)
    size = max(m, 32)
    in_ch = getattr(cfg, "in_channels", 3)
    x = torch.rand(2, in_ch, size, size)
    with torch.no_grad():
        y = module(x)
    if spec.generator:
        s = spec.scale(cfg)
        out_ch = getattr(cfg, "out_channels", in_ch)
        assert y.shape == (2, out_ch, size * s, size * s)
    else:
        assert y.shape[:2] == (2, 1)
    info = ModelInfo(arch=arch_id, options=dataclasses.asdict(cfg), task=Task())
    save_model(tmp_path / "m.safetensors", module, info)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config == cfg
    with torch.no_grad():
        assert torch.equal(loaded.module(x), y)


def test_unknown_option_is_an_error():
    with pytest.raises(ValueError, match="unknown option"):
        build("srresnet", {"chanels": 8})


@pytest.mark.parametrize("num_downs,multiple", [(7, 128), (8, 256)])
def test_unet_declares_its_size_multiple(num_downs, multiple):
    _, cfg = build("unet", {"num_downs": num_downs, "ngf": 4})
    assert ARCHS["unet"].size_multiple(cfg) == multiple
    assert not ARCHS["unet"].tiles


@pytest.mark.skipif(not nnpack_available(), reason="this torch build has no NNPACK")
@pytest.mark.parametrize("kernel,padding,bias", [(3, 1, True), (7, 0, False), (4, 1, True), (9, 4, True)])
def test_nnpack_convolution_gradients_match_the_default(kernel, padding, bias):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, kernel, padding=padding, bias=bias)
    x = torch.randn(2, 6, 20, 23, requires_grad=True)
    grad = torch.randn_like(conv(x))
    expected = torch.autograd.grad(conv(x), [x, *conv.parameters()], grad)
    y = _NNPACKConvolution.apply(x, conv.weight, conv.bias, list(conv.padding))
    got = torch.autograd.grad(y, [x, *conv.parameters()], grad)
    for e, g in zip(expected, got):
        assert torch.allclose(g, e, atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not nnpack_available(), reason="this torch build has no NNPACK")
@pytest.mark.parametrize("channels,kernel,size,used", [(128, 3, 64, True), (8, 9, 64, True),
                                                       (48, 3, 64, False), (128, 3, 32, False)])
def test_training_uses_nnpack_only_where_it_pays(channels, kernel, size, used, monkeypatch):
    conv = torch.nn.Conv2d(channels, channels, kernel, padding=kernel // 2)
    use_nnpack(conv)
    calls = []
    monkeypatch.setattr(_NNPACKConvolution, "apply", lambda *a: calls.append(1) or torch.zeros(1))
    conv(torch.randn(1, channels, size, size, requires_grad=True))
    assert bool(calls) == used


@pytest.mark.skipif(not nnpack_available(), reason="this torch build has no NNPACK")
@pytest.mark.parametrize("arch_id", sorted(a for a in ARCHS if ARCHS[a].generator))
def test_nnpack_convolutions_match_the_default_kernels(arch_id):
    module, cfg = build(arch_id, SMALL[arch_id])
    module.eval()
    size = max(ARCHS[arch_id].size_multiple(cfg), 32)
    x = torch.rand(2, getattr(cfg, "in_channels", 3), size, size)
    with torch.no_grad():
        expected = module(x)
        convs = [c for c in module.modules() if type(c) is torch.nn.Conv2d]
        stride_one = sum(c.stride == (1, 1) for c in convs)
        assert use_nnpack(module) == stride_one  # transposed convolutions keep PyTorch's kernel
        assert all(type(c) is torch.nn.Conv2d for c in convs if c.stride != (1, 1))
        assert torch.allclose(module(x), expected, atol=1e-4)
        # The swapped module still saves under the same keys.
        assert module.state_dict().keys() == build(arch_id, SMALL[arch_id])[0].state_dict().keys()
