"""Self-describing checkpoints, and peers' checkpoints detected from key names and shapes."""

from __future__ import annotations

import json

import numpy as np
import peers
import pytest
import torch
from PIL import Image
from torch import nn

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
    (
        "unet_256 batch",
        lambda: peers.UnetGenerator(3, 3, 8, ngf=8),
        256,
        {"arch": "unet", "num_downs": 8, "norm": "batch", "upsample": "transposed"},
    ),
    (
        "unet_128 instance",
        lambda: peers.UnetGenerator(3, 3, 7, ngf=8, norm_layer=peers.INSTANCE),
        128,
        {"arch": "unet", "num_downs": 7, "norm": "instance"},
    ),
    (
        "colorization unet",
        lambda: peers.UnetGenerator(1, 2, 8, ngf=8),
        256,
        {"arch": "unet", "in_channels": 1, "out_channels": 2},
    ),
    (
        "resnet_9blocks instance",
        lambda: peers.ResnetGenerator(3, 3, ngf=8, norm_layer=peers.INSTANCE, n_blocks=9),
        64,
        {"arch": "resnet", "blocks": 9, "dropout": False, "upsample": "transposed"},
    ),
    (
        "resnet_6blocks dropout",
        lambda: peers.ResnetGenerator(3, 3, ngf=8, norm_layer=peers.INSTANCE, use_dropout=True, n_blocks=6),
        64,
        {"arch": "resnet", "blocks": 6, "dropout": True},
    ),
    (
        "resnet_6blocks batch",
        lambda: peers.ResnetGenerator(3, 3, ngf=8, n_blocks=6),
        64,
        {"arch": "resnet", "norm": "batch"},
    ),
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
    assert model.info.options == {
        "scale": scale,
        "channels": 16,
        "blocks": 3,
        "upsampler": "progressive",
        "in_channels": 3,
    }
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
    info = ModelInfo(
        arch="srresnet",
        options={"scale": 2, "channels": 8, "blocks": 1},
        task=Task(kind="upscale", value_range="0,1", scale=2),
        training={"command": "i2i train srgan ...", "metrics": {"psnr": 1.0}},
    )
    save_model(tmp_path / "m.safetensors", module, info, half=True)
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.info.training["metrics"] == {"psnr": 1.0}
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), module.eval()(x), atol=2e-2)


def test_code_in_a_pickle_is_never_run(tmp_path):
    """A .pth whose unpickling would call os.system is refused, and nothing ran."""
    import os

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"params": {"conv_first.weight": torch.zeros(1)}, "x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused: .*(system|posix)"):
        load_model(tmp_path / "evil.pth")
    assert not marker.exists()


# ---- peers' checkpoints with any channel count (issue 17, item 7) ----------------------------

CHANNEL_CASES = [
    # (label, peer maker (in, out) -> module, side of the test image)
    ("pix2pix unet", lambda i, o: peers.UnetGenerator(i, o, 5, ngf=4), 32),
    ("cyclegan resnet", lambda i, o: peers.ResnetGenerator(i, o, ngf=4, norm_layer=peers.INSTANCE, n_blocks=2), 24),
    ("fast_neural_style", lambda i, o: peers.TransformerNet(i, o), 24),
]


def _rgb_image(h: int, w: int, seed: int = 0):
    from i2i.data.image_io import ImageData

    g = np.random.default_rng(seed)
    return ImageData(pixels=g.random((h, w, 3), dtype=np.float32))


@pytest.mark.parametrize("in_ch,out_ch", [(1, 3), (3, 1), (1, 1)])
@pytest.mark.parametrize("label,make,size", CHANNEL_CASES, ids=[c[0] for c in CHANNEL_CASES])
def test_peer_channel_counts_are_read_and_fed(tmp_path, label, make, size, in_ch, out_ch):
    from i2i.engine.adapters import LUMA, RGBAdapter
    from i2i.engine.engine import Engine

    peer = _randomize(make(in_ch, out_ch))
    torch.save(peer.state_dict(), tmp_path / "latest_net_G.pth")
    model = load_model(tmp_path / "latest_net_G.pth")
    spaces = {1: "gray", 3: "RGB"}
    assert (model.task.in_space, model.task.out_space) == (spaces[in_ch], spaces[out_ch])
    assert (model.info.options["in_channels"], model.info.options["out_channels"]) == (in_ch, out_ch)
    image = _rgb_image(size, size)
    result = Engine(model, RGBAdapter(task=model.task)).run_image(image)
    x = torch.from_numpy(image.pixels).permute(2, 0, 1)[None]
    if in_ch == 1:  # what the peer trains on: torchvision's Grayscale, BT.601 luma
        x = (x * torch.tensor(LUMA)[:, None, None]).sum(1, keepdim=True)
    with torch.no_grad():
        expected = model.task.from_net(peer(model.task.to_net(x))).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert result.pixels.shape == (size, size, out_ch)
    assert np.abs(result.pixels - expected).max() < 1e-3


def test_msrresnet_gray(tmp_path):
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    peer = _randomize(peers.MSRResNet(num_in_ch=1, num_out_ch=1, num_feat=8, num_block=1, upscale=2))
    torch.save({"params": peer.state_dict()}, tmp_path / "gray_x2.pth")
    model = load_model(tmp_path / "gray_x2.pth")
    assert (model.task.in_space, model.task.out_space, model.task.scale) == ("gray", "gray", 2)
    out = Engine(model, RGBAdapter(task=model.task, keep_gray=True)).run_image(_rgb_image(10, 12))
    assert out.pixels.shape == (20, 24, 1)
    torch.save(
        {"params": peers.MSRResNet(num_in_ch=1, num_out_ch=3, num_feat=8, num_block=1).state_dict()},
        tmp_path / "odd.pth",
    )
    with pytest.raises(CheckpointError, match=r"odd\.pth: an MSRResNet with 1 channels in and 3 out"):
        load_model(tmp_path / "odd.pth")


def test_one_channel_pix2pix_through_the_cli(tmp_path, cli):
    """The reported case: a U-Net trained with --input_nc 1 --output_nc 3."""
    peer = _randomize(peers.UnetGenerator(1, 3, 5, ngf=4))
    torch.save(peer.state_dict(), tmp_path / "latest_net_G.pth")
    r = cli("info", tmp_path / "latest_net_G.pth", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["channels"] == {"in": "1 (gray)", "out": "3 (RGB)"}
    assert info["options"]["in_channels"] == 1
    Image.fromarray((_rgb_image(40, 36).pixels * 255).astype(np.uint8)).save(tmp_path / "in.png")
    r = cli("translate", "--model", tmp_path / "latest_net_G.pth", tmp_path / "in.png", "-o", tmp_path / "out.png")
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "RGB" and out.size == (36, 40)


# ---- untrusted metadata (issue 17, item 11) ---------------------------------------------------


@pytest.fixture
def small_x2(tmp_path):
    """Our x2 srresnet file: (path, tensors, metadata) to rewrite with hostile metadata."""
    from safetensors import safe_open

    from i2i.archs.registry import build

    module, cfg = build("srresnet", {"scale": 2, "channels": 8, "blocks": 1})
    path = tmp_path / "x2.safetensors"
    save_model(
        path,
        module,
        ModelInfo(
            arch="srresnet",
            options={"scale": 2, "channels": 8, "blocks": 1},
            task=Task(kind="upscale", value_range="0,1", scale=2),
        ),
    )
    with safe_open(str(path), "pt") as f:
        return path, {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def _rewrite(small_x2, tmp_path, tensors=None, **meta):
    from safetensors.torch import save_file

    _, original, metadata = small_x2
    path = tmp_path / "hostile.safetensors"
    metadata = {k: v for k, v in {**metadata, **meta}.items() if v is not None}
    save_file(tensors if tensors is not None else original, str(path), metadata=metadata)
    return path


def _options(**changes) -> str:
    return json.dumps({"scale": 2, "channels": 8, "blocks": 1, **changes})


def _task(**changes) -> str:
    return json.dumps(
        {"kind": "upscale", "in_space": "RGB", "out_space": "RGB", "value_range": "0,1", "scale": 2, **changes}
    )


HOSTILE = [
    (
        "blocks 100000",
        dict(options=_options(blocks=100000)),
        "option blocks = 100000 disagrees with the tensors \\(1\\)",
    ),
    ("channels 512", dict(options=_options(channels=512)), "option channels = 512 disagrees"),
    ("channels abc", dict(options=_options(channels="abc")), "option channels = 'abc': must be a whole number"),
    ("scale true", dict(options=_options(scale=True)), "option scale = True: must be a whole number"),
    ("unknown option", dict(options=_options(depth=3)), "unknown option\\(s\\) for SRResNetConfig: depth"),
    ("options a list", dict(options="[1, 2]"), "'options' is not a JSON object"),
    ("options invalid JSON", dict(options="{scale: 2"), "'options' is not valid JSON"),
    ("options nested too deeply", dict(options="[" * 100000 + "]" * 100000), "'options' is nested too deeply"),
    ("options missing", dict(options=None), "metadata lacks options"),
    ("unknown arch", dict(arch="nosuchnet"), "unknown architecture 'nosuchnet'"),
    ("task scale 0", dict(task=_task(scale=0)), "task scale 0 is not a whole number from 1 to 16"),
    ("task scale 4", dict(task=_task(scale=4)), "task scale 4 disagrees with the srresnet network's scale 2"),
    ("task kind stylize", dict(task=_task(kind="stylize", scale=2)), "a stylize task at scale 2"),
    ("task gray", dict(task=_task(in_space="gray")), "task in_space gray \\(1 channels\\) disagrees"),
    ("task colorize spaces", dict(task=_task(out_space="ab")), "out_space ab \\(2 channels\\) disagrees"),
    ("task unknown kind", dict(task=_task(kind="deblur")), "task kind 'deblur' is not one of"),
    (
        "task unknown field",
        dict(task=json.dumps({"kind": "upscale", "scale": 2, "value_range": "0,1", "x": 1})),
        "unknown task field",
    ),
    ("task not JSON", dict(task="nope"), "'task' is not valid JSON"),
    ("newer format", {"i2i.format": "2"}, "format '2'"),
]


def test_a_newer_format_version_is_refused_naming_the_file_and_both_versions(small_x2, tmp_path):
    """Format "MAJOR[.MINOR]": a newer major version is refused with one line naming the file,
    its version and ours; a newer minor version of our major still loads."""
    from i2i.checkpoint import FORMAT_VERSION

    path = _rewrite(small_x2, tmp_path, **{"i2i.format": "7"})
    for reader in (read_info, load_model):
        with pytest.raises(CheckpointError) as e:
            reader(path)
        message = str(e.value)
        assert message.startswith(f"{path}: ") and "'7'" in message and f"'{FORMAT_VERSION}'" in message
        assert "newer" in message and "upgrade i2i" in message
    path = _rewrite(small_x2, tmp_path, **{"i2i.format": "x"})
    with pytest.raises(CheckpointError, match="unknown i2i checkpoint format 'x'"):
        load_model(path)
    path = _rewrite(small_x2, tmp_path, **{"i2i.format": f"{FORMAT_VERSION}.3"})
    assert load_model(path).info.arch == "srresnet"


@pytest.mark.parametrize("label,meta,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_metadata_is_refused_before_building(small_x2, tmp_path, monkeypatch, label, meta, message):
    from i2i.archs import srresnet

    path = _rewrite(small_x2, tmp_path, **meta)

    def no_build(self, cfg):
        raise AssertionError(f"built an SRResNet {cfg} from hostile metadata")

    monkeypatch.setattr(srresnet.SRResNet, "__init__", no_build)
    for reader in (read_info, load_model):
        with pytest.raises(CheckpointError, match=message) as e:
            reader(path)
        assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)


def test_wrong_tensor_shapes_are_named(small_x2, tmp_path):
    tensors = dict(small_x2[1])
    tensors["body.0.conv2.weight"] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(
        CheckpointError,
        match=r"tensor body\.0\.conv2\.weight has shape 8x8x1x1, "
        r"srresnet with these options needs 8x8x3x3",
    ):
        load_model(_rewrite(small_x2, tmp_path, tensors=tensors))
    del tensors["body.0.conv2.weight"]
    with pytest.raises(CheckpointError, match=r"lacks 1 tensor\(s\) srresnet needs: body\.0\.conv2\.weight"):
        load_model(_rewrite(small_x2, tmp_path, tensors=tensors))
    tensors = {**small_x2[1], "extra.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"holds 1 tensor\(s\) srresnet has no place for: extra\.weight"):
        load_model(_rewrite(small_x2, tmp_path, tensors=tensors))


def test_hostile_metadata_through_the_cli(small_x2, tmp_path, cli):
    Image.new("RGB", (64, 64), (90, 120, 200)).save(tmp_path / "in.png")
    for meta, words in (
        (dict(options=_options(blocks=100000)), b"blocks = 100000"),
        (dict(task=_task(scale=0)), b"task scale 0"),
    ):
        path = _rewrite(small_x2, tmp_path, **meta)
        r = cli("upscale", "--model", path, tmp_path / "in.png", "-o", tmp_path / "out.png")
        assert r.returncode == 2, r.stderr
        assert r.stderr.decode().count("\n") == 1 and str(path).encode() in r.stderr and words in r.stderr
        assert not (tmp_path / "out.png").exists()


def test_checkpoint_py_names_no_architecture():
    """Each architecture owns its layout (issue 34, item 1): checkpoint.py keeps the format, the
    checks and the dispatch, so adding an architecture never means editing it."""
    import re
    from pathlib import Path

    import i2i.checkpoint
    from i2i.archs.registry import ARCHS

    text = Path(i2i.checkpoint.__file__).read_text()
    named = [arch_id for arch_id in ARCHS if re.search(rf"\b{re.escape(arch_id)}\b", text, re.IGNORECASE)]
    assert named == []


def test_detection_order_is_declared_not_left_to_registry_order():
    """Peer layouts are tried in each spec's detect_order; two equal orders would leave it to
    the order of the registry's list."""
    from i2i.archs.registry import ARCHS

    orders = [spec.detect_order for spec in ARCHS.values() if spec.detect is not None]
    assert len(orders) >= 2
    assert len(set(orders)) == len(orders)
    assert all(spec.read_options or spec.shapes_problem for spec in ARCHS.values())
