"""Network interpolation and `i2i upscale --denoise`: 0 and 1 are the two models exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.archs.registry import build
from i2i.checkpoint import ModelInfo, load_model, save_model
from i2i.errors import CheckpointError, UsageError
from i2i.interpolation import interpolate
from i2i.task import Task

TASK = Task(kind="upscale", value_range="0,1", scale=2)


def _save(path, seed: int, name: str, training: dict | None = None, channels: int = 8):
    torch.manual_seed(seed)
    module, cfg = build("srresnet", {"scale": 2, "channels": channels, "blocks": 1})
    save_model(
        path,
        module,
        ModelInfo(arch="srresnet", options=dataclasses.asdict(cfg), task=TASK, name=name, training=training or {}),
    )
    return path


@pytest.fixture
def pair(tmp_path):
    """A 'GAN' model naming its 'PSNR stage', both in a weights folder."""
    weights = tmp_path / "weights"
    weights.mkdir()
    psnr = _save(weights / "upscale-x2-real-psnr.safetensors", 1, "upscale-x2-real-psnr")
    gan = _save(weights / "upscale-x2-real.safetensors", 2, "upscale-x2-real", {"psnr_stage": "upscale-x2-real-psnr"})
    return weights, gan, psnr


def test_interpolation_ends_are_the_models_and_the_middle_is_the_mean(pair):
    _, gan, psnr = pair
    a, b = load_model(gan), load_model(psnr)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(interpolate(a, b, 0.0).module(x), a.module(x))
        assert torch.equal(interpolate(a, b, 1.0).module(x), b.module(x))
        mid = interpolate(a, b, 0.25).module.state_dict()
    for k, v in a.module.state_dict().items():
        assert torch.allclose(mid[k], 0.75 * v + 0.25 * b.module.state_dict()[k])
    assert torch.equal(
        a.module.state_dict()["conv_first.weight"], load_model(gan).module.state_dict()["conv_first.weight"]
    )


def test_interpolation_refuses_other_architectures_and_weights(pair, tmp_path):
    _, gan, _ = pair
    other = load_model(_save(tmp_path / "wide.safetensors", 3, "wide", channels=12))
    with pytest.raises(CheckpointError, match="cannot be interpolated"):
        interpolate(load_model(gan), other, 0.5)
    with pytest.raises(UsageError):
        interpolate(load_model(gan), load_model(gan), 1.5)


def test_upscale_denoise_blends_towards_the_psnr_stage(cli, pair, tmp_path, data):
    weights, gan, psnr = pair
    src = tmp_path / "bird.png"
    Image.open(data / "sr/val/Set5/bird.png").resize((40, 32)).save(src)
    env = {"I2I_WEIGHTS": str(weights)}
    outs = {}
    for denoise in ("0", "0.5", "1"):
        r = cli("upscale", "--model", gan, "--denoise", denoise, src, "-o", tmp_path / f"d{denoise}.png", env=env)
        assert r.returncode == 0, r.stderr
        outs[denoise] = np.asarray(Image.open(tmp_path / f"d{denoise}.png"), dtype=np.int16)
    for name, model in (("gan", gan), ("psnr", psnr)):
        r = cli("upscale", "--model", model, src, "-o", tmp_path / f"{name}.png", env=env)
        assert r.returncode == 0, r.stderr
        outs[name] = np.asarray(Image.open(tmp_path / f"{name}.png"), dtype=np.int16)
    assert np.array_equal(outs["0"], outs["gan"]) and np.array_equal(outs["1"], outs["psnr"])
    assert not np.array_equal(outs["0.5"], outs["gan"]) and not np.array_equal(outs["0.5"], outs["psnr"])
    # A model that names no PSNR stage: one clear usage error.
    r = cli("upscale", "--model", psnr, "--denoise", "0.5", src, "-o", tmp_path / "x.png", env=env)
    assert r.returncode == 2 and "--denoise" in r.stderr.decode()
