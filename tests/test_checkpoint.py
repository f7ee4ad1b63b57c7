"""Self-describing checkpoints, and peers' checkpoints detected from key names and shapes."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import peers
from i2i.checkpoint import ModelInfo, convert, load_model, read_info, save_model
from i2i.errors import CheckpointError
from i2i.task import Task


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics so that every tensor matters to the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return module.eval()


def _same_output(peer: nn.Module, path, x, *, scale_in=1.0):
    ours = load_model(path)
    with torch.no_grad():
        expected = peer(x * scale_in)
        got = ours.module(x * scale_in)
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
    return ours


PIX2PIX_CASES = [
    ("unet_256 batch", lambda: peers.UnetGenerator(3, 3, 8, ngf=8), 256, {"arch": "unet", "num_downs": 8, "norm": "batch"}),
    ("unet_128 instance", lambda: peers.UnetGenerator(3, 3, 7, ngf=8, norm_layer=peers.INSTANCE), 128, {"arch": "unet", "num_downs": 7, "norm": "instance"}),
    ("colorization unet", lambda: peers.UnetGenerator(1, 2, 8, ngf=8), 256, {"arch": "unet", "in_channels": 1, "out_channels": 2}),
    ("resnet_9blocks instance", lambda: peers.ResnetGenerator(3, 3, ngf=8, norm_layer=peers.INSTANCE, n_blocks=9), 64, {"arch": "resnet", "blocks": 9, "dropout": False}),
    ("resnet_6blocks dropout", lambda: peers.ResnetGenerator(3, 3, ngf=8, norm_layer=peers.INSTANCE, use_dropout=True, n_blocks=6), 64, {"arch": "resnet", "blocks": 6, "dropout": True}),
    ("resnet_6blocks batch", lambda: peers.ResnetGenerator(3, 3, ngf=8, n_blocks=6), 64, {"arch": "resnet", "norm": "batch"}),
]


@pytest.mark.parametrize("label,make,size,expect", PIX2PIX_CASES, ids=[c[0] for c in PIX2PIX_CASES])
def test_pix2pix_cyclegan_generators_convert_exactly(tmp_path, label, make, size, expect):
    peer = _randomize(make())
    state = peer.state_dict()
    if "instance" in label or "dropout" in label:
        # Checkpoints saved with PyTorch < 0.4 carry InstanceNorm running statistics: dropped on load.
        state["model.2.running_mean"] = torch.zeros(8)
        state["model.2.running_var"] = torch.ones(8)
    src = tmp_path / "latest_net_G.pth"
    torch.save(state, src)
    dst = tmp_path / "converted.safetensors"
    info = convert(src, dst)
    assert info.arch == expect.pop("arch")
    for key, value in expect.items():
        assert info.options[key] == value
    x = torch.rand(1, peer_in_channels(peer), size, size) * 2 - 1
    ours = _same_output(peer, dst, x)
    if info.options["in_channels"] == 1:
        assert ours.task.kind == "colorize" and ours.task.out_space == "ab"


def peer_in_channels(peer) -> int:
    first = next(m for m in peer.modules() if isinstance(m, nn.Conv2d))
    return first.in_channels


def test_fast_neural_style_converts_with_0_255_range(tmp_path):
    peer = _randomize(peers.TransformerNet())
    state = peer.state_dict()
    state["in1.running_mean"] = torch.zeros(32)  # legacy key in the published .model files
    state["in1.running_var"] = torch.ones(32)
    src = tmp_path / "mosaic.pth"
    torch.save(state, src)
    model = load_model(src)
    assert model.info.arch == "transformer_net" and model.task.value_range == "0,255"
    _same_output(peer, src, torch.rand(1, 3, 64, 64), scale_in=255.0)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("wrapper", ["params", "params_ema"])
def test_basicsr_msrresnet_converts(tmp_path, scale, wrapper):
    peer = _randomize(peers.MSRResNet(num_feat=16, num_block=3, upscale=scale))
    src = tmp_path / "msrresnet.pth"
    torch.save({wrapper: peer.state_dict()}, src)
    model = _same_output(peer, src, torch.rand(1, 3, 20, 24))
    assert model.info.options == {"scale": scale, "channels": 16, "blocks": 3,
                                  "upsampler": "progressive", "in_channels": 3}
    assert model.task.scale == scale


def test_converted_file_is_self_describing(tmp_path, cli):
    peer = _randomize(peers.MSRResNet(num_feat=8, num_block=2, upscale=2))
    torch.save({"params": peer.state_dict()}, tmp_path / "x2.pth")
    r = cli("convert", tmp_path / "x2.pth", tmp_path / "x2.safetensors")
    assert r.returncode == 0, r.stderr
    info = read_info(tmp_path / "x2.safetensors")
    assert info.arch == "srresnet" and info.task.scale == 2
    r = cli("info", tmp_path / "x2.safetensors")
    assert r.returncode == 0 and b"srresnet" in r.stdout


def test_unknown_layout_and_unsafe_pickle_are_refused(tmp_path):
    torch.save({"foo.weight": torch.zeros(3)}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="unknown checkpoint layout"):
        load_model(tmp_path / "odd.pth")
    torch.save({"net": nn.Linear(2, 2)}, tmp_path / "pickled.pth")  # a module, not tensors
    with pytest.raises(CheckpointError, match="refused: not a plain weights file.*Linear"):
        load_model(tmp_path / "pickled.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "junk.safetensors")


def test_half_storage_round_trips(tmp_path):
    from i2i.archs.registry import build

    module, cfg = build("srresnet", {"scale": 2, "channels": 8, "blocks": 1})
    info = ModelInfo(arch="srresnet", options={"scale": 2, "channels": 8, "blocks": 1},
                     task=Task(kind="upscale", value_range="0,1", scale=2),
                     training={"command": "i2i train srgan ...", "metrics": {"psnr": 1.0}})
    save_model(tmp_path / "m.safetensors", module, info, half=True)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.info.training["metrics"] == {"psnr": 1.0}
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), module.eval()(x), atol=2e-2)
