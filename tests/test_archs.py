"""Every registered architecture: output shapes, and save -> load gives identical outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from i2i.archs.registry import ARCHS, build
from i2i.checkpoint import ModelInfo, load_model, save_model
from i2i.kernels import _NNPACKConvolution, nnpack_available, use_nnpack
from i2i.task import IMAGE_SPACES, Task

# Small options per architecture so the test stays quick; everything else is the default.
SMALL = {
    "unet": {"ngf": 4, "num_downs": 7},
    "lite0_unet": {"width": 4},
    "resnet": {"ngf": 4, "blocks": 2},
    "patchgan": {"ndf": 4},
    "srresnet": {"channels": 8, "blocks": 2},
    "transformer_net": {"width": 4, "res_blocks": 1},
    "unet_discriminator": {"ndf": 4},
    "projected_discriminator": {"ndf": 4},
    "dcgan_generator": {"ngf": 4, "z_dim": 8, "size": 32},
    "dcgan_discriminator": {"ndf": 4, "size": 32},
    "dcgan_encoder": {"ndf": 4, "z_dim": 8, "size": 32},
}


# Built from options; "spandrel" modules are built from their weights (tests/test_spandrel.py).
BUILT = sorted(a for a in ARCHS if ARCHS[a].from_weights is None)


def example_input(spec, cfg, batch: int = 2):
    """What the network takes: images of its size (or a multiple of 32), or latent vectors."""
    if spec.takes == "latent":
        return torch.randn(batch, spec.latent_dim(cfg))
    size = spec.image_size(cfg) or max(spec.size_multiple(cfg), 32)
    return torch.rand(batch, getattr(cfg, "in_channels", getattr(cfg, "channels", 3)), size, size)


@pytest.mark.parametrize("arch_id", sorted(ARCHS))
def test_every_arch_is_tested_with_small_options(arch_id):
    assert arch_id in SMALL or ARCHS[arch_id].from_weights, f"add small options for new architecture {arch_id}"


def matching_task(arch_id: str, cfg) -> Task:
    """The task a checkpoint of this architecture must carry (checked on load)."""
    spec = ARCHS[arch_id]
    if not spec.generator:
        return Task()
    cin, cout = spec.channels(cfg)
    if (cin, cout) == (1, 2):
        return Task(kind="colorize", in_space="L", out_space="ab")
    kind = {"srresnet": "upscale", "transformer_net": "stylize"}.get(arch_id, "translate")
    return Task(kind=kind, scale=spec.scale(cfg), in_space=IMAGE_SPACES[cin], out_space=IMAGE_SPACES[cout])


@pytest.mark.parametrize("arch_id", BUILT)
def test_shapes_and_round_trip(arch_id, tmp_path):
    spec = ARCHS[arch_id]
    module, cfg = build(arch_id, SMALL[arch_id])
    module.eval()
    x = example_input(spec, cfg)
    with torch.no_grad():
        y = module(x)
    if spec.gives == "image":
        size = spec.image_size(cfg) or x.shape[-1] * spec.scale(cfg)
        out_ch = getattr(cfg, "out_channels", cfg.channels if spec.takes == "latent" else x.shape[1])
        assert y.shape == (2, out_ch, size, size)
        if spec.takes == "latent":
            assert y.min() >= -1 and y.max() <= 1  # Tanh output
    elif spec.gives == "latent":
        assert y.shape == (2, spec.latent_dim(cfg))
    else:
        assert y.shape[:2] == (2, 1)
    info = ModelInfo(arch=arch_id, options=dataclasses.asdict(cfg), task=matching_task(arch_id, cfg))
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
@pytest.mark.parametrize(
    "channels,kernel,size,used", [(128, 3, 64, True), (8, 9, 64, True), (48, 3, 64, False), (128, 3, 32, False)]
)
def test_training_uses_nnpack_only_where_it_pays(channels, kernel, size, used, monkeypatch):
    conv = torch.nn.Conv2d(channels, channels, kernel, padding=kernel // 2)
    use_nnpack(conv)
    calls = []
    monkeypatch.setattr(_NNPACKConvolution, "apply", lambda *a: calls.append(1) or torch.zeros(1))
    conv(torch.randn(1, channels, size, size, requires_grad=True))
    assert bool(calls) == used


def test_engine_runs_only_image_to_image_networks():
    """`generator` (what the engine may run) is exactly the image -> image architectures."""
    for arch_id, spec in ARCHS.items():
        assert spec.generator == (spec.takes == "image" and spec.gives == "image"), arch_id


@pytest.mark.parametrize("size", [32, 64, 128])
def test_dcgan_follows_the_paper_layout(size):
    """All-convolutional, batch norm except G's output and D's input, ReLU/Tanh in G,
    LeakyReLU 0.2 in D, no fully connected layers; layers() names every block's output."""
    from torch import nn

    g, _ = build("dcgan_generator", {"size": size, "ngf": 4})
    d, _ = build("dcgan_discriminator", {"size": size, "ndf": 4})
    assert not any(isinstance(m, nn.Linear) for net in (g, d) for m in net.modules())
    g_layers, d_layers = list(g.main), list(d.main)
    assert isinstance(g_layers[-2], nn.ConvTranspose2d) and isinstance(g_layers[-1], nn.Tanh)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert d_layers[1].negative_slope == 0.2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g_layers) == len(g.layers())
    features = {}
    for name, layer in g.layers().items():
        layer.register_forward_hook(lambda m, i, o, name=name: features.__setitem__(name, o.shape))
    g.eval()(torch.randn(1, 100))
    assert [s[-1] for s in features.values()] == [4 * 2**i for i in range(len(features))]
    with pytest.raises(ValueError, match="power of two"):
        build("dcgan_generator", {"size": 48})


@pytest.mark.skipif(not nnpack_available(), reason="this torch build has no NNPACK")
@pytest.mark.parametrize("arch_id", [a for a in BUILT if ARCHS[a].generator])
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


# Options that leave no trace in the weights (so nothing can be sized by them).
NOT_IN_WEIGHTS = {"unet": {"dropout"}, "unet_discriminator": {"skip"}, "lite0_unet": {"temperature"}}
VARIANTS = {  # non-default options whose reading from shapes is easy to get wrong
    "unet": [
        {"norm": "instance", "in_channels": 1, "out_channels": 2},
        {"upsample": "resize", "out_channels": 2},
        {"full_res_channels": 5, "out_channels": 2},
        {"upsample": "resize", "full_res_channels": 6, "norm": "batch"},
    ],
    "resnet": [
        {"norm": "batch", "dropout": True, "out_channels": 1},
        {"upsample": "resize", "norm": "batch", "out_channels": 1},
        {"upsample": "resize", "input_skip": True, "in_channels": 1},
    ],
    "srresnet": [{"upsampler": "direct", "scale": 3}, {"scale": 4, "in_channels": 1}],
    "transformer_net": [{"in_channels": 1}],
    "patchgan": [{"n_layers": 0, "norm": "instance"}, {"n_layers": 2, "in_channels": 3}],
    "lite0_unet": [{"global_features": False, "in_channels": 3, "out_channels": 3}, {"bins": 7, "width": 8}],
}


@pytest.mark.parametrize("arch_id", BUILT)
def test_every_option_that_sizes_a_module_is_read_from_its_shapes(arch_id):
    """Metadata is checked against these readings before a module is built (issue 17, item 11)."""
    reader = ARCHS[arch_id].read_options
    for variant in [{}, *VARIANTS.get(arch_id, [])]:
        with torch.device("meta"):
            module, cfg = build(arch_id, {**SMALL[arch_id], **variant})
        derived = reader(module.state_dict())
        fields = {f.name for f in dataclasses.fields(cfg)} - NOT_IN_WEIGHTS.get(arch_id, set())
        assert set(derived) == fields, (arch_id, variant)
        for key, value in derived.items():
            if key == "norm":
                assert (value == "batch") == (cfg.norm == "batch")
            else:
                assert value == getattr(cfg, key), (arch_id, variant, key)


@pytest.mark.parametrize(
    "arch_id,extra",
    [(a, {}) for a in BUILT if ARCHS[a].generator]
    + [
        ("unet", {"norm": "instance"}),
        ("resnet", {"norm": "batch"}),
        ("unet", {"upsample": "resize"}),
        ("resnet", {"upsample": "resize"}),
        ("resnet", {"upsample": "resize", "input_skip": True}),
        ("unet", {"upsample": "bilinear"}),
        ("unet", {"upsample": "bilinear", "full_res_channels": 4}),
        ("transformer_net", {"upsample": "bilinear"}),
        ("lite0_unet", {"bins": 7}),
    ],
)
def test_every_generator_runs_on_tiny_images(arch_id, extra):
    """1x1, 3x5 and 7x2 inputs: padded up to the architecture's min_size and size_multiple,
    then cropped back (reflection padding and instance norm need more than one pixel)."""
    from i2i.archs.registry import get_spec
    from i2i.checkpoint import LoadedModel
    from i2i.engine.runner import ModelRunner

    torch.manual_seed(0)
    module, cfg = build(arch_id, {**SMALL[arch_id], **extra})
    spec = get_spec(arch_id)
    model = LoadedModel(
        module=module.eval(),
        spec=spec,
        config=cfg,
        info=ModelInfo(arch=arch_id, options=dataclasses.asdict(cfg), task=Task()),
    )
    runner = ModelRunner(model, device="cpu")
    s, channels = spec.scale(cfg), getattr(cfg, "in_channels", 3)
    for h, w in ((1, 1), (5, 3), (2, 7)):
        y = runner(torch.rand(1, channels, h, w))
        assert y.shape[-2:] == (h * s, w * s) and torch.isfinite(y).all(), (arch_id, h, w)


@pytest.mark.parametrize("arch_id", ["unet", "resnet"])
def test_resize_upsampling_builds_round_trips_and_is_read_back(arch_id, tmp_path):
    """--upsample resize (nearest x2 + 3x3 conv, Odena et al. 2016): no transposed convolution
    left, same output size, its checkpoint loads as resize, and the default stays transposed."""
    from i2i.checkpoint import read_info

    spec = ARCHS[arch_id]
    module, cfg = build(arch_id, {**SMALL[arch_id], "upsample": "resize"})
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in module.modules())
    x = example_input(spec, cfg)
    with torch.no_grad():
        y = module.eval()(x)
    assert y.shape == (2, cfg.out_channels, *x.shape[-2:])
    for upsample, net in (("resize", module), ("transposed", build(arch_id, SMALL[arch_id])[0])):
        path = tmp_path / f"{upsample}.safetensors"
        c = build(arch_id, {**SMALL[arch_id], "upsample": upsample})[1]
        save_model(path, net, ModelInfo(arch=arch_id, options=dataclasses.asdict(c), task=matching_task(arch_id, c)))
        assert read_info(path).options["upsample"] == upsample
    loaded = load_model(tmp_path / "resize.safetensors")
    assert loaded.config == cfg
    with torch.no_grad():
        assert torch.equal(loaded.module(x), y)
    # Metadata that claims the other mode is refused before anything is built.
    wrong = ModelInfo(
        arch=arch_id, options={**dataclasses.asdict(cfg), "upsample": "transposed"}, task=matching_task(arch_id, cfg)
    )
    save_model(tmp_path / "wrong.safetensors", module, wrong)
    with pytest.raises(Exception, match="upsample"):
        load_model(tmp_path / "wrong.safetensors")
    with pytest.raises(ValueError, match="upsample"):
        build(arch_id, {**SMALL[arch_id], "upsample": "pixelshuffle"})


@pytest.mark.parametrize("arch_id", ["unet", "resnet", "transformer_net"])
def test_bilinear_upsampling_is_told_apart_by_its_metadata(arch_id, tmp_path):
    """--upsample bilinear holds resize's tensors: its checkpoint loads as bilinear (and runs
    bilinear x2, not nearest) from the recorded config; the same weights recorded as resize load
    as resize and give a different output."""
    module, cfg = build(arch_id, {**SMALL[arch_id], "upsample": "bilinear"})
    assert any(
        (isinstance(m, torch.nn.Upsample) and m.mode == "bilinear") or getattr(m, "interpolation", "") == "bilinear"
        for m in module.modules()
    )  # the TransformerNet's ConvLayer interpolates in its forward
    x = example_input(ARCHS[arch_id], cfg)
    outputs = {}
    for upsample in ("bilinear", "resize"):
        c = dataclasses.replace(cfg, upsample=upsample)
        path = tmp_path / f"{upsample}.safetensors"
        save_model(path, module, ModelInfo(arch=arch_id, options=dataclasses.asdict(c), task=matching_task(arch_id, c)))
        loaded = load_model(path)
        assert loaded.config.upsample == upsample
        with torch.no_grad():
            outputs[upsample] = loaded.module.eval()(x)
    with torch.no_grad():
        assert torch.equal(outputs["bilinear"], module.eval()(x))
    assert not torch.allclose(outputs["bilinear"], outputs["resize"])


def test_the_options_know_every_upsampling_mode():
    """training/options.py repeats the Upsample modes (so that option parsing imports no torch):
    the copy must stay the architectures' own list."""
    from typing import get_args

    from i2i.archs.upsampling import UPSAMPLE_MODES
    from i2i.training import options

    assert get_args(options.Upsample) == UPSAMPLE_MODES


def test_lite0_unet_encoder_is_the_frozen_imagenet_classifier():
    """The encoder holds EfficientNet-Lite0's ImageNet weights (lossnet's), takes no gradients and
    keeps its batch-norm statistics while the decoder trains; set_encoder_trainable(True) fine-tunes it;
    the untrained decoder answers gray (0)."""
    from i2i.archs.lite0_unet import load_imagenet_encoder
    from i2i.lossnet import efficientnet_lite0

    net, _ = build("lite0_unet", SMALL["lite0_unet"])
    load_imagenet_encoder(net)
    imagenet = efficientnet_lite0().state_dict()
    own = net.encoder.state_dict()
    assert all(torch.equal(own[k], v) for k, v in imagenet.items())
    assert not net.encoder_trainable
    assert all(p.requires_grad for n, p in net.named_parameters() if not n.startswith("encoder."))
    net.train()
    assert not net.encoder.training and net.up.training
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    y = net(x)
    assert y.shape == (2, 2, 64, 96) and not y.abs().any()  # zero-initialised output layer
    before = {k: v.clone() for k, v in own.items()}
    (net(x) - 0.5).abs().mean().backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert net.out.weight.grad.abs().sum() > 0
    assert all(torch.equal(net.encoder.state_dict()[k], v) for k, v in before.items())  # running stats too
    net.set_encoder_trainable(True)
    net.zero_grad()
    torch.nn.init.normal_(net.out.weight, 0, 0.1)  # a zero output layer passes no gradient back
    (net(x) - 0.5).abs().mean().backward()
    assert net.encoder._conv_stem.weight.grad.abs().sum() > 0
