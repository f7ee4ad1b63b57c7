"""Network interpolation and `i2i upscale --denoise`: 0 and 1 are the two models exactly; auto
blends the shipped x4 trio per photo from its own degradation estimate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, start_cli
from PIL import Image

from i2i.archs.registry import build
from i2i.checkpoint import ModelInfo, load_model, save_model
from i2i.data.degradation_estimate import DegradationEstimate
from i2i.errors import CheckpointError, UsageError
from i2i.interpolation import AUTO_GAN_SHARE, SR_BLEND, auto_weights, blend, interpolate, round_weights
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

    def upscale(name, *args):  # side by side (start-up bound), on torch: outputs compared level
        # for level must not depend on which runtime each run's own measurement chose
        return start_cli("upscale", *args, src, "-o", tmp_path / f"{name}.png", "--backend", "torch", env=env)

    runs = {d: upscale(d, "--model", gan, "--denoise", d) for d in ("0", "0.5", "1")}
    runs |= {name: upscale(name, "--model", model) for name, model in (("gan", gan), ("psnr", psnr))}
    outs = {}
    for name, process in runs.items():
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        outs[name] = np.asarray(Image.open(tmp_path / f"{name}.png"), dtype=np.int16)
    assert np.array_equal(outs["0"], outs["gan"]) and np.array_equal(outs["1"], outs["psnr"])
    assert not np.array_equal(outs["0.5"], outs["gan"]) and not np.array_equal(outs["0.5"], outs["psnr"])
    # A model that names no PSNR stage: one clear usage error.
    r = cli("upscale", "--model", psnr, "--denoise", "0.5", src, "-o", tmp_path / "x.png", env=env)
    assert r.returncode == 2 and "--denoise" in r.stderr.decode()


def test_blend_weights_sum_models_and_round(pair, tmp_path):
    _, gan, psnr = pair
    a, b = load_model(gan), load_model(psnr)
    c = load_model(_save(tmp_path / "c.safetensors", 4, "c"))
    mixed = blend([a, b, c], [0.25, 0.5, 0.25]).module.state_dict()
    for k, v in a.module.state_dict().items():
        want = 0.25 * v + 0.5 * b.module.state_dict()[k] + 0.25 * c.module.state_dict()[k]
        assert torch.allclose(mixed[k], want)
    assert blend([a, b, c], [0, 1, 0]) is b
    assert round_weights((0.3, 0.33, 0.37)) == (0.25, 0.375, 0.375)
    assert sum(round_weights((0.11, 0.2, 0.69))) == pytest.approx(1)


def test_a_blend_keeps_each_parts_figures_not_the_first_ones_as_its_own(tmp_path):
    a = load_model(
        _save(tmp_path / "a.safetensors", 1, "a", {"command": "i2i train a", "metrics": {"psnr": 30.0}, "data": ["x"]})
    )
    b = load_model(_save(tmp_path / "b.safetensors", 2, "b", {"command": "i2i train b", "metrics": {"psnr": 31.0}}))
    training = blend([a, b], [0.75, 0.25]).info.training
    assert "metrics" not in training and training["data"] == ["x"]  # the first's provenance, not its figures
    assert training["blend"] == [
        {"name": "a", "weight": 0.75, "command": "i2i train a", "metrics": {"psnr": 30.0}},
        {"name": "b", "weight": 0.25, "command": "i2i train b", "metrics": {"psnr": 31.0}},
    ]
    assert a.info.training["metrics"] == {"psnr": 30.0}  # the parts are left as they were


@pytest.mark.parametrize(
    "quality, noise, real",
    [
        (None, 0.5, 0.0),  # clean
        (None, 2.5, 0.0),  # most clean photos read 0-2.5
        (None, 4.5, 0.0),  # small densely textured clean ones up to 4.6
        (100, 1.0, 0.0),
        (95, 1.0, 0.25),
        (85, 1.0, 0.5),
        (50, 1.0, 0.875),
        (30, 0.0, 0.875),
        (None, 6.0, 0.5),
        (None, 12.0, 0.875),
        (90, 6.0, 1 - 0.75 * 0.5),  # noise then JPEG: more than either alone
    ],
)
def test_auto_weights_follow_the_estimate(quality, noise, real):
    clean, psnr, gan = auto_weights(DegradationEstimate(quality, noise))
    on_step = round(real * 8) / 8
    assert clean == pytest.approx(1 - on_step) and psnr + gan == pytest.approx(on_step)
    assert gan <= on_step * AUTO_GAN_SHARE < gan + 0.125  # the odd eighth goes to the PSNR stage
    assert round_weights((clean, psnr, gan)) == (clean, psnr, gan)


def test_upscale_denoise_auto_picks_the_clean_model_for_a_clean_photo_and_blends_for_a_jpeg(tmp_path, data):
    """Without --model, upscale estimates each photo and blends the shipped x4 trio; --json says so."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for seed, name in enumerate(SR_BLEND):
        _save(weights / f"{name}.safetensors", seed + 1, name, {"psnr_stage": SR_BLEND[1]} if seed == 2 else None)
    photos = tmp_path / "in"
    photos.mkdir()
    small = Image.open(data / "sr/val/Set14/lenna.png").convert("RGB").resize((64, 64), Image.BICUBIC)
    small.save(photos / "clean.png")
    small.save(photos / "web.jpg", quality=40)
    env = {"I2I_WEIGHTS": str(weights)}

    def cli(*args, env=env):  # torch: the exported graphs of every blend would cost more than the test
        return run_cli(*args, "--backend", "torch", env=env)

    r = cli("upscale", photos, "-o", tmp_path / "auto", "--json")
    assert r.returncode == 0, r.stderr
    rows = {Path(row["input"]).name: row for row in map(json.loads, r.stdout.decode().splitlines())}
    assert rows["clean.png"]["choice"]["blend"] == {"upscale-x4": 1.0}
    assert rows["clean.png"]["choice"]["estimate"]["jpeg_quality"] is None
    assert rows["web.jpg"]["choice"]["estimate"]["jpeg_quality"] == 40
    assert rows["web.jpg"]["choice"]["blend"] == {
        SR_BLEND[0]: 0.125,
        SR_BLEND[1]: 0.5,
        SR_BLEND[2]: 0.375,
    }  # JPEG 40: 7/8
    r = cli("upscale", photos, "-o", tmp_path / "auto", "--json")  # a rerun: existing outputs, not looked at
    assert r.returncode == 0, r.stderr
    rerun = [json.loads(row) for row in r.stdout.decode().splitlines()]
    assert [(row["skipped"], row.get("choice")) for row in rerun] == [("exists", None)] * 2
    r = cli("upscale", "--model", "upscale-x4", photos / "clean.png", "-o", tmp_path / "x4.png", env=env)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "x4.png")), np.asarray(Image.open(tmp_path / "auto/clean.png"))
    )
    r = cli("upscale", photos / "web.jpg", "-o", tmp_path / "v.png", "-v", env=env)
    assert r.returncode == 0 and "JPEG quality 40" in r.stderr.decode() and "upscale-x4-real-psnr" in r.stderr.decode()
    # auto blends the shipped trio only; a bad value is a usage error
    r = cli(
        "upscale", "--model", "upscale-x4", "--denoise", "auto", photos / "web.jpg", "-o", tmp_path / "y.png", env=env
    )
    assert r.returncode == 2 and "--denoise auto" in r.stderr.decode()
    r = cli("upscale", "--denoise", "1.5", photos / "web.jpg", "-o", tmp_path / "z.png", env=env)
    assert r.returncode == 2 and not (tmp_path / "z.png").exists()
