"""The same behaviour on a CUDA device: skipped where there is none (CI has none; run it on a GPU box)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from test_training import TINY, kill_and_resume, records, tiny_options

from i2i.checkpoint import load_model
from i2i.data.image_io import read_image
from i2i.engine.adapters import RGBAdapter
from i2i.engine.engine import Engine
from i2i.models import shipped
from i2i.training.api import train
from i2i.training.loop import LoopOptions
from i2i.training.methods import METHODS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

MODELS = shipped()


@pytest.fixture
def photo(data, tmp_path):
    path = tmp_path / "photo.png"
    Image.open(data / "sr/val/Set14/lenna.png").resize((200, 150)).save(path)
    return path


def _engine(name: str, **kwargs) -> Engine:
    model = load_model(MODELS[name])
    return Engine(model, RGBAdapter(task=model.task, keep_gray=True), **kwargs)


@pytest.mark.parametrize("name", [n for n in ("upscale-x4", "style-monet") if n in MODELS])
def test_cuda_matches_cpu(name, photo):
    image = read_image(photo)
    cpu = _engine(name, device="cpu", tile=0).run_image(image).pixels
    gpu = _engine(name, device="cuda", tile=0).run_image(image).pixels
    # TF32 convolutions on Ampere+ differ from fp32 ones by a few 1e-3 at most.
    assert np.abs(cpu - gpu).max() < 4 / 255
    half = _engine(name, device="cuda", tile=0, precision="fp16").run_image(image).pixels
    assert np.abs(cpu - half).mean() < 1 / 255


def test_cuda_tiles_match_the_whole_image(photo):
    image = read_image(photo)
    whole = _engine("upscale-x4", device="cuda", tile=0).run_image(image).pixels
    tiled = _engine("upscale-x4", device="cuda", tile=64).run_image(image).pixels
    assert np.abs(whole - tiled).max() <= 1 / 255


def test_cuda_cli_folder(cli, data, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("baby.png", "bird.png", "head.png"):
        Image.open(data / "sr/val/Set5" / name).resize((64, 48)).save(folder / name)
    r = cli("upscale", folder, "-o", tmp_path / "out", "--device", "cuda", "--precision", "fp16")
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"baby.png", "bird.png", "head.png"}
    assert Image.open(tmp_path / "out/baby.png").size == (256, 192)


@pytest.mark.parametrize("method", [m for m in METHODS if m in TINY])
def test_recipe_trains_on_cuda(method, data, tmp_path):
    loop = LoopOptions(steps=4, log_every=1, sample_every=2, workers=1, device="cuda")
    result = train(method, tiny_options(method, data), loop, tmp_path / "run")
    assert result.finished and result.exported
    losses = [r for r in records(tmp_path / "run") if r.get("kind") != "eval"]
    names = [k for k in losses[0] if k not in ("step", "time")]
    assert all(math.isfinite(r[n]) for r in losses for n in names)
    for path in result.exported:
        training = load_model(path).info.training  # the export loads on the CPU
        assert training["device"].startswith("cuda") and training["precision"] == "bfloat16"


def test_cuda_sigkill_and_resume_reproduce_losses_with_deterministic_kernels(data, tmp_path):
    straight, resumed = kill_and_resume("pix2pix", data, tmp_path, workers=0, device="cuda", deterministic=True)
    for a, b in zip(straight, resumed):
        assert {k: v for k, v in a.items() if k != "time"} == {k: v for k, v in b.items() if k != "time"}
