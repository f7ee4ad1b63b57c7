"""The one training loop with every recipe: real data, tiny sizes, a few steps."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from i2i.errors import DataError, UsageError
from i2i.training.api import recipe_classes, train
from i2i.training.loop import LoopOptions

ROOT = Path(__file__).resolve().parent.parent


def tiny_options(method: str, data: Path):
    options_cls, _ = recipe_classes(method)
    common = {"batch_size": 2}
    per_method = {
        "pix2pix": dict(data=str(data / "facades"), direction="BtoA", holdout=40, num_downs=6, ngf=8,
                        ndf=8, load_size=72, crop=64),
        "cyclegan": dict(data=str(data / "monet2photo"), ngf=8, ndf=8, blocks=2, load_size=72,
                         crop=64, pool_size=3),
        "srgan": dict(data=(str(data / "sr/train/T91"),), val=(str(data / "sr/val/Set5"),), scale=2,
                      channels=8, blocks=2, crop=16),
        "style": dict(style=str(data / "styles/great_wave.jpg"), data=(str(data / "monet2photo/testB"),),
                      width=8, res_blocks=1, crop=64, style_size=128),
        "colorize": dict(data=(str(data / "monet2photo/testB"),), num_downs=6, ngf=8, ndf=8,
                         load_size=72, crop=64),
    }
    return options_cls(**common, **per_method[method])


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan", "srgan", "style", "colorize"])
def test_recipe_trains_and_exports(method, data, tmp_path):
    loop = LoopOptions(steps=4, log_every=1, sample_every=2, workers=0, threads=2)
    result = train(method, tiny_options(method, data), loop, tmp_path / "run")
    assert result.finished and result.exported
    losses = [r for r in records(tmp_path / "run") if r.get("kind") != "eval"]
    assert len(losses) == 4
    names = [k for k in losses[0] if k not in ("step", "time")]
    for name in names:
        values = [r[name] for r in losses]
        assert all(math.isfinite(v) for v in values), (name, values)
    assert any(losses[0][n] != losses[-1][n] for n in names)
    for picture in ("samples.png", "curves.png"):
        assert (tmp_path / "run" / picture).stat().st_size > 1000
    from i2i.checkpoint import load_model

    for path in result.exported:
        info = load_model(path).info
        assert info.training["steps"] == 4 and info.training["command"] == ""


KILLER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_training import tiny_options
from i2i.training.api import train
from i2i.training.loop import LoopOptions

def on_event(kind, data):
    if kind == "checkpoint" and data["step"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)

loop = LoopOptions(**{loop!r})
train({method!r}, tiny_options({method!r}, Path({data!r})), loop, Path({run!r}), on_event=on_event)
"""


def kill_and_resume(method: str, data: Path, tmp_path: Path, **loop_values) -> tuple[list, list]:
    """Metrics of an uninterrupted 6-step run and of one SIGKILLed after step 3, then resumed."""
    from i2i.training.api import resume

    loop_values = dict(steps=6, log_every=1, sample_every=100, threads=1, checkpoint_minutes=0,
                       seed=7, **loop_values)
    train(method, tiny_options(method, data), LoopOptions(**loop_values), tmp_path / "straight")
    script = KILLER.format(tests=str(ROOT / "tests"), loop=loop_values, method=method,
                           data=str(data), run=str(tmp_path / "killed"))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT)
    assert r.returncode == -9, r.stderr.decode()[-2000:]
    result = resume(tmp_path / "killed")
    assert result.finished and result.step == 6
    straight, resumed = records(tmp_path / "straight"), records(tmp_path / "killed")
    assert [r["step"] for r in resumed] == list(range(1, 7))
    return straight, resumed


@pytest.mark.parametrize("method,workers", [("pix2pix", 1), ("cyclegan", 0)])
def test_sigkill_and_resume_reproduce_losses(method, workers, data, tmp_path):
    straight, resumed = kill_and_resume(method, data, tmp_path, workers=workers, device="cpu")
    for a, b in zip(straight, resumed):
        for k in a:
            if k != "time":
                assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7), (a["step"], k)


def test_resume_with_more_steps_extends_a_finished_run(data, tmp_path):
    """A finished run carries on to a new total, its schedule recomputed and its command kept."""
    from i2i.checkpoint import load_model
    from i2i.training.api import resume

    loop = LoopOptions(steps=3, log_every=1, sample_every=100, threads=1, workers=0, device="cpu")
    first = train("pix2pix", tiny_options("pix2pix", data), loop, tmp_path / "run", command="i2i train pix2pix")
    assert first.finished and first.step == 3
    result = resume(tmp_path / "run", steps=5, command="i2i train pix2pix --resume run --steps 5")
    assert result.finished and result.step == 5
    assert [r["step"] for r in records(tmp_path / "run")] == [1, 2, 3, 4, 5]
    training = load_model(result.exported[0]).info.training
    assert training["steps"] == 5
    assert training["command"] == "i2i train pix2pix; extended with: i2i train pix2pix --resume run --steps 5"


@pytest.mark.parametrize("method", ["pix2pix", "colorize"])
def test_init_starts_the_generator_from_an_exported_model(method, data, tmp_path):
    import dataclasses

    import torch

    from i2i.checkpoint import load_model

    loop = LoopOptions(steps=1, sample_every=100, threads=1, workers=0, device="cpu")
    exported = train(method, tiny_options(method, data), loop, tmp_path / "first").exported[0]
    _, recipe_cls = recipe_classes(method)
    recipe = recipe_cls(dataclasses.replace(tiny_options(method, data), init=str(exported)))
    recipe.setup(torch.device("cpu"), 1)
    for key, value in load_model(exported).module.state_dict().items():
        assert torch.equal(recipe.g.state_dict()[key], value), key
    wider = recipe_cls(dataclasses.replace(tiny_options(method, data), ngf=16, init=str(exported)))
    with pytest.raises(UsageError, match="does not match"):
        wider.setup(torch.device("cpu"), 1)


def test_train_then_translate_end_to_end(data, tmp_path, cli):
    r = cli("train", "pix2pix", "--data", data / "facades", "--direction", "BtoA", "--holdout", "390",
            "--num-downs", "6", "--ngf", "8", "--ndf", "8", "--load-size", "72", "--crop", "64",
            "--steps", "3", "--workers", "0", "--run-dir", tmp_path / "run", "--name", "tiny")
    assert r.returncode == 0, r.stderr
    model = tmp_path / "run" / "tiny.safetensors"
    assert r.stdout.decode().strip() == str(model)
    info = json.loads(cli("info", model, "--json").stdout)
    assert info["training"]["command"].startswith("i2i train pix2pix")
    r = cli("translate", "--model", model, data / "facades/train/1.jpg", "-o", tmp_path / "out.png")
    assert r.returncode == 0, r.stderr
    from PIL import Image

    assert Image.open(tmp_path / "out.png").size == (512, 256)


def test_bad_data_fails_early_with_one_message(data, tmp_path, cli):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        train("srgan", tiny_options("srgan", data).__class__(data=(str(tmp_path / "empty"),)),
              LoopOptions(steps=1), tmp_path / "run")
    odd = tmp_path / "odd" / "train"
    odd.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (33, 16)).save(odd / "1.png")
    r = cli("train", "pix2pix", "--data", tmp_path / "odd", "--steps", "1", "--run-dir", tmp_path / "r2")
    assert r.returncode == 2 and b"not an aligned A|B pair" in r.stderr
    (tmp_path / "ab" / "A").mkdir(parents=True)
    (tmp_path / "ab" / "B").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "ab/A/x.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "ab/B/x.png")
    r = cli("train", "pix2pix", "--data", tmp_path / "ab", "--steps", "1", "--run-dir", tmp_path / "r3")
    assert r.returncode == 2 and b"is 32x32 but" in r.stderr
    r = cli("train", "cyclegan", "--data", tmp_path / "empty", "--steps", "1", "--run-dir", tmp_path / "r4")
    assert r.returncode == 2 and b"trainA" in r.stderr


def test_srgan_stage_two_starts_from_stage_one(data, tmp_path):
    import dataclasses

    loop = LoopOptions(steps=2, log_every=1, sample_every=100, workers=0, threads=2)
    stage1 = train("srgan", tiny_options("srgan", data), loop, tmp_path / "s1")
    options = dataclasses.replace(tiny_options("srgan", data), gan=True, init=str(stage1.exported[0]),
                                  name="tiny-gan")
    stage2 = train("srgan", options, LoopOptions(steps=3, log_every=1, sample_every=100, workers=0, threads=2),
                   tmp_path / "s2")
    recs = [r for r in records(tmp_path / "s2") if r.get("kind") != "eval"]
    for key in ("l1", "perceptual", "g_adv", "d"):
        assert all(math.isfinite(r[key]) for r in recs)
    assert stage2.exported[0].name == "tiny-gan.safetensors"


def test_precision_is_checked_before_anything_is_written(data, tmp_path):
    from i2i.errors import UsageError

    for precision, message in (("bf16", "needs a CUDA device"), ("fp8", "must be auto, fp32 or bf16")):
        loop = LoopOptions(steps=1, device="cpu", precision=precision)
        with pytest.raises(UsageError, match=message):
            train("pix2pix", tiny_options("pix2pix", data), loop, tmp_path / precision)
        assert not (tmp_path / precision).exists()


def test_srgan_real_degradation_gan_stage_with_unet_discriminator(data, tmp_path):
    """A few real-degradation GAN steps: finite, changing losses; the export records the pipeline."""
    import dataclasses

    from i2i.checkpoint import load_model

    options = dataclasses.replace(tiny_options("srgan", data), scale=4, degradation="real",
                                  sharpen_hr=True, gan=True, discriminator="unet")
    result = train("srgan", options, LoopOptions(steps=4, log_every=1, workers=0, threads=2), tmp_path / "run")
    losses = [r for r in records(tmp_path / "run") if r.get("kind") != "eval"]
    for name in ("l1", "perceptual", "g_adv", "d"):
        values = [r[name] for r in losses]
        assert all(math.isfinite(v) for v in values) and len(set(values)) > 1, (name, values)
    info = load_model(result.exported[0]).info
    assert info.name == "upscale-x4-real"
    assert info.training["degradation"] == "real" and info.training["discriminator"] == "unet"
    assert info.training["real_degradation"]["first"]["jpeg_range"] == [30.0, 95.0]


def test_srgan_rejects_an_unknown_degradation(data):
    import dataclasses

    with pytest.raises(UsageError, match="--degradation"):
        dataclasses.replace(tiny_options("srgan", data), degradation="jpeg")
