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
from i2i.training.methods import METHODS
from i2i.training.options import ColorizeOptions, Pix2PixOptions

ROOT = Path(__file__).resolve().parent.parent


def tiny_options(method: str, data: Path):
    options_cls, _ = recipe_classes(method)
    return options_cls(batch_size=2, **TINY[method](data))


# Options that make each registered method (training/methods.py) train in seconds.
TINY = {
    "pix2pix": lambda data: dict(
        data=str(data / "facades"), direction="BtoA", holdout=40, num_downs=6, ngf=8, ndf=8, load_size=72, crop=64
    ),
    "cyclegan": lambda data: dict(
        data=str(data / "monet2photo"), ngf=8, ndf=8, blocks=2, load_size=72, crop=64, pool_size=3
    ),
    "srgan": lambda data: dict(
        data=(str(data / "sr/train/T91"),), val=(str(data / "sr/val/Set5"),), scale=2, channels=8, blocks=2, crop=16
    ),
    "style": lambda data: dict(
        style=str(data / "styles/great_wave.jpg"),
        data=(str(data / "monet2photo/testB"),),
        width=8,
        res_blocks=1,
        crop=64,
        style_size=128,
    ),
    "colorize": lambda data: dict(
        data=(str(data / "monet2photo/testB"),), num_downs=6, ngf=8, ndf=8, load_size=72, crop=64
    ),
    "dcgan": lambda data: dict(data=(str(data / "monet2photo/testB"),), size=32, ngf=8, ndf=8),
    # Generated pairs from the shipped generator: no data folder.
    "dcgan-encoder": lambda data: dict(generator=str(ROOT / "weights/dcgan-landscapes.safetensors"), ndf=8),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_is_tested_with_tiny_options(method):
    assert method in TINY, f"add tiny options for new training method {method}"


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", [m for m in METHODS if m in TINY])
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
from i2i.training.options import ColorizeOptions, Pix2PixOptions

def on_event(kind, data):
    if kind == "checkpoint" and data["step"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)

loop = LoopOptions(**{loop!r})
train({method!r}, tiny_options({method!r}, Path({data!r})), loop, Path({run!r}), on_event=on_event)
"""


def kill_and_resume(method: str, data: Path, tmp_path: Path, **loop_values) -> tuple[list, list]:
    """Metrics of an uninterrupted 6-step run and of one SIGKILLed after step 3, then resumed."""
    from i2i.training.api import resume

    loop_values = dict(steps=6, log_every=1, sample_every=100, threads=1, checkpoint_minutes=0, seed=7, **loop_values)
    train(method, tiny_options(method, data), LoopOptions(**loop_values), tmp_path / "straight")
    script = KILLER.format(
        tests=str(ROOT / "tests"), loop=loop_values, method=method, data=str(data), run=str(tmp_path / "killed")
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT)
    assert r.returncode == -9, r.stderr.decode()[-2000:]
    result = resume(tmp_path / "killed")
    assert result.finished and result.step == 6
    straight, resumed = records(tmp_path / "straight"), records(tmp_path / "killed")
    assert [r["step"] for r in resumed] == list(range(1, 7))
    return straight, resumed


@pytest.mark.parametrize(
    "method,workers",
    [("pix2pix", 1), ("dcgan", 0), *(pytest.param(m, 0, marks=pytest.mark.slow) for m in ("cyclegan", "style"))],
)
def test_sigkill_and_resume_reproduce_losses(method, workers, data, tmp_path):
    straight, resumed = kill_and_resume(method, data, tmp_path, workers=workers, device="cpu")
    for a, b in zip(straight, resumed):
        for k in a:
            if k != "time":
                assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7), (a["step"], k)


def test_resume_with_more_steps_extends_a_finished_run(data, tmp_path, monkeypatch):
    """A finished run carries on to a new total, its schedule recomputed and its command kept;
    resumed from another folder, it finds the data that its options name relative to its own."""
    import dataclasses

    from i2i.checkpoint import load_model
    from i2i.training.api import resume

    loop = LoopOptions(steps=3, log_every=1, sample_every=100, threads=1, workers=0, device="cpu")
    monkeypatch.chdir(data.parent)
    options = dataclasses.replace(tiny_options("pix2pix", data), data=f"{data.name}/facades")
    first = train("pix2pix", options, loop, tmp_path / "run", command="i2i train pix2pix")
    assert first.finished and first.step == 3
    monkeypatch.chdir(tmp_path)
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
    r = cli(
        "train",
        "pix2pix",
        "--data",
        data / "facades",
        "--direction",
        "BtoA",
        "--holdout",
        "390",
        "--num-downs",
        "6",
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--load-size",
        "72",
        "--crop",
        "64",
        "--steps",
        "3",
        "--workers",
        "0",
        "--run-dir",
        tmp_path / "run",
        "--name",
        "tiny",
    )
    assert r.returncode == 0, r.stderr
    model = tmp_path / "run" / "tiny.safetensors"
    assert r.stdout.decode().strip() == str(model)
    info = json.loads(cli("info", model, "--json").stdout)
    assert info["training"]["command"].startswith("i2i train pix2pix")
    r = cli("translate", "--model", model, data / "facades/train/1.jpg", "-o", tmp_path / "out.png")
    assert r.returncode == 0, r.stderr
    from PIL import Image

    assert Image.open(tmp_path / "out.png").size == (512, 256)


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan", "colorize"])
def test_resize_upsampling_generators_train_and_export(method, data, tmp_path):
    """--upsample resize (issue 19): losses finite and moving, the export records and loads it."""
    import dataclasses

    import torch

    from i2i.checkpoint import load_model

    options = dataclasses.replace(tiny_options(method, data), upsample="resize")
    loop = LoopOptions(steps=3, log_every=1, sample_every=100, workers=0, threads=2, device="cpu")
    result = train(method, options, loop, tmp_path / "run")
    losses = records(tmp_path / "run")
    names = [k for k in losses[0] if k not in ("step", "time")]
    assert len(losses) == 3 and all(math.isfinite(r[n]) for r in losses for n in names)
    assert any(losses[0][n] != losses[-1][n] for n in names)
    for path in result.exported:
        model = load_model(path)
        assert model.config.upsample == "resize"
        assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.module.modules())


def test_cyclegan_ema_exports_the_averaged_generators(data, tmp_path, cli):
    """--ema (cyclegan): each exported generator is its moving average, not the last step's
    weights, and the option reaches the recipe from the command line; so does --input-skip (the
    exports' architecture has it)."""
    import torch

    from i2i.checkpoint import load_model

    run = tmp_path / "run"
    r = cli("train", "cyclegan", "--data", data / "monet2photo", "--ngf", "4", "--ndf", "4", "--blocks", "1",
            "--load-size", "40", "--crop", "32", "--ema", "0.9", "--input-skip", "--steps", "3", "--threads", "1",
            "--workers", "0", "--name", "tiny", "--run-dir", run, "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads((run / "run.json").read_text())["options"]["ema"] == 0.9
    state = torch.load(sorted((run / "checkpoints").glob("*.pt"))[-1], weights_only=False)["recipe"]
    assert state["ema_ab_updates"] == state["ema_ba_updates"] == 3
    for direction, raw, averaged in (("AtoB", "g_ab", "ema_ab"), ("BtoA", "g_ba", "ema_ba")):
        model = load_model(run / f"tiny-{direction}.safetensors")
        assert model.config.input_skip
        exported = model.module.state_dict()
        assert all(torch.equal(exported[k], v) for k, v in state[averaged].items())
        assert any(not torch.equal(exported[k], v) for k, v in state[raw].items() if v.is_floating_point())
    r = cli(
        "train", "cyclegan", "--data", data / "monet2photo", "--ema", "1", "--steps", "1", "--run-dir", tmp_path / "r2"
    )
    assert r.returncode == 2 and not (tmp_path / "r2").exists()


def test_upsample_full_res_and_patchgan_flags_reach_the_networks_and_are_checked(data, tmp_path, cli):
    r = cli(
        "train",
        "pix2pix",
        "--data",
        data / "facades",
        "--direction",
        "BtoA",
        "--holdout",
        "395",
        "--num-downs",
        "6",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--load-size",
        "72",
        "--crop",
        "64",
        "--upsample",
        "resize",
        "--full-res-channels",
        "3",
        "--d-layers",
        "2",
        "--grid-weight",
        "0.5",
        "--grid-period",
        "4",
        "--spectrum-weight",
        "0.5",
        "--steps",
        "1",
        "--workers",
        "0",
        "--run-dir",
        tmp_path / "run",
        "--name",
        "tiny",
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(cli("info", tmp_path / "run" / "tiny.safetensors", "--json").stdout)
    assert info["options"]["upsample"] == "resize" and info["options"]["full_res_channels"] == 3
    options = json.loads((tmp_path / "run" / "run.json").read_text())["options"]
    assert options["n_layers"] == 2  # 34x34 PatchGAN
    assert (options["grid_weight"], options["grid_period"], options["spectrum_weight"]) == (0.5, 4, 0.5)
    logged = [rec for rec in records(tmp_path / "run") if "l1" in rec]
    assert logged and all(math.isfinite(rec["grid"]) and math.isfinite(rec["spectrum"]) for rec in logged)
    r = cli(
        "train",
        "cyclegan",
        "--data",
        data / "monet2photo",
        "--upsample",
        "deconv",
        "--steps",
        "1",
        "--run-dir",
        tmp_path / "r2",
    )
    assert r.returncode == 2 and b"--upsample must be one of transposed, resize, bilinear, not 'deconv'" in r.stderr
    assert not (tmp_path / "r2").exists()
    for options in (Pix2PixOptions, ColorizeOptions):
        with pytest.raises(UsageError, match="--full-res-channels must be 0 or more, not -1"):
            options(data=str(data / "facades"), full_res_channels=-1)
    for bad, message in ((("--grid-weight", "-1"), b"--grid-weight"), (("--grid-period", "3"), b"--grid-period")):
        r = cli("train", "pix2pix", "--data", data / "facades", *bad, "--run-dir", tmp_path / "r3")
        assert r.returncode == 2 and message in r.stderr, (bad, r.stderr)
        assert not (tmp_path / "r3").exists()


def test_bad_data_fails_early_with_one_message(data, tmp_path, cli):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        train(
            "srgan",
            tiny_options("srgan", data).__class__(data=(str(tmp_path / "empty"),)),
            LoopOptions(steps=1),
            tmp_path / "run",
        )
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
    options = dataclasses.replace(tiny_options("srgan", data), gan=True, init=str(stage1.exported[0]), name="tiny-gan")
    stage2 = train(
        "srgan", options, LoopOptions(steps=3, log_every=1, sample_every=100, workers=0, threads=2), tmp_path / "s2"
    )
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


@pytest.mark.slow  # x4 with the real-degradation pipeline, a U-Net discriminator and the perceptual loss
def test_srgan_real_degradation_gan_stage_with_unet_discriminator(data, tmp_path):
    """A few real-degradation GAN steps: finite, changing losses; the export records the pipeline."""
    import dataclasses

    from i2i.checkpoint import load_model

    options = dataclasses.replace(
        tiny_options("srgan", data), scale=4, degradation="real", sharpen_hr=True, gan=True, discriminator="unet"
    )
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


# ---- the run directory agrees with the checkpoint a run resumes from (issue 17, item 13) ----


def test_resume_after_a_kill_before_the_first_checkpoint_starts_clean(data, tmp_path):
    """Killed at step 3 with no checkpoint yet: the resumed run starts over, its metrics.jsonl
    holds each step once, and a stale checkpoint .part is gone."""
    from i2i.training.api import resume

    script = KILLER.replace('kind == "checkpoint" and data["step"] == 3', 'kind == "log" and data["step"] == 3')
    loop = dict(steps=5, log_every=1, sample_every=2, threads=1, workers=0, checkpoint_minutes=60, seed=1)
    run = tmp_path / "run"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            script.format(tests=str(ROOT / "tests"), loop=loop, method="dcgan", data=str(data), run=str(run)),
        ],
        capture_output=True,
        cwd=ROOT,
    )
    assert r.returncode == -9, r.stderr.decode()[-2000:]
    assert [rec["step"] for rec in records(run)] == [1, 2, 3]
    assert (run / "samples/step_0000002.png").is_file()
    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints/.step_0000002.pt.part").write_bytes(b"half a checkpoint")
    seen = {}

    def on_event(kind, info):
        if kind == "log" and info["step"] == 1:  # the directory as the resumed run found it
            seen["steps"] = [rec["step"] for rec in records(run)]
            seen["grids"] = sorted(p.name for p in (run / "samples").glob("*.png"))
            seen["samples.png"] = (run / "samples.png").exists()

    result = resume(run, on_event=on_event)
    assert result.finished and result.step == 5
    assert seen == {"steps": [1], "grids": [], "samples.png": False}
    assert [rec["step"] for rec in records(run)] == [1, 2, 3, 4, 5]
    assert not list((run / "checkpoints").glob(".*.part"))


def test_resume_rewrites_what_lies_past_the_checkpoint(data, tmp_path):
    """Metrics, sample grids, exports and partial checkpoints from steps after the checkpoint
    (a kill between checkpoints) are truncated or removed before training goes on."""
    import shutil

    from i2i.training.api import resume

    loop = LoopOptions(steps=3, log_every=1, sample_every=100, threads=1, workers=0, device="cpu")
    run = tmp_path / "run"
    first = train("dcgan", tiny_options("dcgan", data), loop, run)
    # What a process killed at step 5, after a checkpoint at 3, would have left behind.
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 4, "time": 1.0, "d": 9.0}) + "\n" + '{"step": 5, "ti')
    shutil.copy(run / "samples/step_0000003.png", run / "samples/step_0000005.png")
    (run / "checkpoints/.step_0000005.pt.part").write_bytes(b"")
    later = run / "later.safetensors"
    from i2i.checkpoint import ModelInfo, load_model, save_model

    model = load_model(first.exported[0])
    save_model(
        later,
        model.module,
        ModelInfo(arch=model.info.arch, options=model.info.options, task=model.task, training={"steps": 5}),
    )
    seen = {}

    def on_event(kind, info):
        if kind == "log" and info["step"] == 4:
            seen["steps"] = [rec["step"] for rec in records(run)]
            seen["grids"] = sorted(p.name for p in (run / "samples").glob("*.png"))
            seen["later"] = later.exists()

    result = resume(run, steps=4, checkpoint_minutes=60, on_event=on_event)
    assert result.finished and result.step == 4
    assert seen == {"steps": [1, 2, 3, 4], "grids": ["step_0000003.png"], "later": False}
    assert not list((run / "checkpoints").glob(".*.part"))
    assert json.loads((run / "run.json").read_text())["loop"]["checkpoint_minutes"] == 60


def test_resume_loads_training_state_without_running_code(data, tmp_path):
    """A crafted checkpoint whose pickle would run a command is refused, naming the file."""
    import torch

    from i2i.errors import CheckpointError
    from i2i.training.api import resume

    loop = LoopOptions(steps=1, sample_every=100, threads=1, workers=0, device="cpu")
    run = tmp_path / "run"
    train("dcgan", tiny_options("dcgan", data), loop, run)
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = run / "checkpoints/step_0000002.pt"
    torch.save({"step": 2, "recipe": {}, "rng": {}, "train_seconds": 0.0, "records": [], "x": Payload()}, evil)
    with pytest.raises(
        CheckpointError, match="step_0000002.pt: not a training checkpoint that loads without running code"
    ):
        resume(run, steps=3)
    assert not marker.exists()
    torch.save({"step": 2, "recipe": {}, "rng": {}, "train_seconds": 0.0, "records": []}, evil)
    with pytest.raises(CheckpointError, match="step_0000002.pt: does not fit this run's dcgan recipe"):
        resume(run, steps=3)
    (run / "run.json").write_text('{"method": "dcgan", "options": ')
    with pytest.raises(UsageError, match="run.json: not a readable run description"):
        resume(run)


def test_checkpoints_written_before_tensor_rng_state_still_resume(data, tmp_path):
    """Older checkpoints pickled numpy's RNG state as an array: allow-listed, they resume."""
    import numpy as np
    import torch

    from i2i.training.api import resume
    from i2i.training.state import load_state

    loop = LoopOptions(steps=2, log_every=1, sample_every=100, threads=1, workers=0, device="cpu")
    run = tmp_path / "run"
    train("dcgan", tiny_options("dcgan", data), loop, run)
    path = run / "checkpoints/step_0000002.pt"
    state = load_state(path)
    state["rng"]["numpy"] = np.random.get_state()
    torch.save(state, path)
    result = resume(run, steps=3)
    assert result.finished and [r["step"] for r in records(run)] == [1, 2, 3]


# ---- how a run ends: exit codes and one closing line (issue 17, item 17) ----


def _start_training(cli_args, run: Path, new_session: bool = False) -> subprocess.Popen:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "i2i", "train", *map(str, cli_args), "--run-dir", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=new_session,
    )


def _wait_for_steps(proc, run: Path, n: int) -> None:
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "metrics.jsonl").is_file() and len((run / "metrics.jsonl").read_text().splitlines()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {n} logged steps: {proc.communicate()[1].decode()[-2000:]}")


def _tiny_dcgan_args(data: Path, steps: int) -> list:
    return [
        "dcgan",
        "--data",
        data / "monet2photo/testB",
        "--size",
        "32",
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--batch-size",
        "2",
        "--steps",
        steps,
        "--workers",
        "0",
        "--threads",
        "1",
        "--sample-every",
        "1000",
        "--checkpoint-minutes",
        "60",
        "--quiet",
    ]


@pytest.mark.parametrize(
    "signame,code",
    [("SIGINT", 130), pytest.param("SIGTERM", 143, marks=pytest.mark.slow)],  # one path, two signals
)
def test_a_signal_stops_training_with_a_checkpoint_and_its_own_exit_code(signame, code, data, tmp_path, cli):
    import signal

    run = tmp_path / "run"
    proc = _start_training(_tiny_dcgan_args(data, 100000), run)
    _wait_for_steps(proc, run, 2)
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err.decode()
    last = err.decode().strip().splitlines()[-1]
    assert f"interrupted by {signame} at step" in last and f"--resume {run}" in last
    assert (run / "dcgan-testB.safetensors").is_file() and out.decode().strip() == str(run / "dcgan-testB.safetensors")
    checkpoint = sorted(run.glob("checkpoints/step_*.pt"))[-1]
    stopped = int(checkpoint.stem.removeprefix("step_"))
    assert f"at step {stopped} of 100000" in last
    r = cli("train", "dcgan", "--resume", run, "--steps", stopped + 1, "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"finished at step {stopped + 1} of {stopped + 1}".encode() in r.stderr
    steps = [rec["step"] for rec in records(run)]
    assert steps == sorted(set(steps)) and steps[-1] == stopped + 1


def test_a_signal_to_the_whole_process_group_stops_training_with_a_checkpoint(data, tmp_path):
    """systemd, docker stop, SLURM and `kill -TERM -PGID` signal every process of the job, the
    data-loader workers too: the run still stops after its step with a checkpoint (the workers
    leave stopping to the main process instead of dying under its feet)."""
    import os
    import signal

    run = tmp_path / "run"
    args = _tiny_dcgan_args(data, 100000)
    args[args.index("--workers") + 1] = "1"
    proc = _start_training(args, run, new_session=True)
    _wait_for_steps(proc, run, 2)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err.decode()
    assert "interrupted by SIGTERM at step" in err.decode().strip().splitlines()[-1]
    assert list(run.glob("checkpoints/step_*.pt"))
    with pytest.raises(ProcessLookupError):  # no worker left behind in the group
        os.killpg(proc.pid, 0)


@pytest.mark.slow  # waits out PyTorch's own shutdown of the stuck worker (5 s) first
def test_a_data_worker_stuck_in_a_photo_is_killed_when_the_run_ends(data, tmp_path):
    """Workers ignore SIGTERM (they leave stopping to the main process), so PyTorch's own fallback
    for a worker that does not answer its shutdown, terminate(), cannot end it: the run kills such
    a worker itself rather than leave it behind (or the interpreter's exit waiting on it)."""
    import multiprocessing
    import time

    import torch

    from i2i.training.loop import Trainer

    _, recipe_cls = recipe_classes("dcgan")
    recipe = recipe_cls(tiny_options("dcgan", data))
    real = recipe.dataset()

    class StuckAfterTheFirstBatch(torch.utils.data.Dataset):
        def __len__(self):
            return len(real)

        def __getitem__(self, index):
            if index >= 2:  # every prefetched item after the first batch of two
                time.sleep(3600)
            return real[index]

        def fixed_items(self, n):
            return real.fixed_items(n)

    recipe.dataset = StuckAfterTheFirstBatch
    loop = LoopOptions(steps=100, threads=1, workers=1, checkpoint_minutes=60, sample_every=100, max_minutes=1e-6)
    before = set(multiprocessing.active_children())
    started = time.monotonic()
    result = Trainer(recipe, loop, tmp_path / "run", batch_size=2).run()
    assert result.stopped_by == "max_minutes" and result.step == 1
    assert not set(multiprocessing.active_children()) - before
    assert time.monotonic() - started < 60


def test_a_second_signal_aborts_without_a_checkpoint(data, tmp_path):
    """The first SIGTERM asks for a stop after the step; a second one ends the run at once and
    leaves no checkpoint of the interrupted (possibly half-updated) step."""
    import os
    import signal
    import time

    from i2i.training.loop import Trainer, TrainingAborted

    _, recipe_cls = recipe_classes("dcgan")
    recipe = recipe_cls(tiny_options("dcgan", data))
    step_fn = recipe.train_step

    def train_step(batch, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the handler runs: stop requested
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        return step_fn(batch, step)

    recipe.train_step = train_step
    loop = LoopOptions(steps=100, threads=1, workers=0, checkpoint_minutes=60, sample_every=100)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingAborted, match="SIGTERM"):
        Trainer(recipe, loop, tmp_path / "run", batch_size=2).run()
    assert signal.getsignal(signal.SIGTERM) is previous
    assert not list((tmp_path / "run").glob("checkpoints/step_*.pt"))


def test_a_run_stopped_by_its_time_budget_exits_3(data, tmp_path, cli):
    r = cli("train", *_tiny_dcgan_args(data, 100000), "--max-minutes", "0.0001", "--run-dir", tmp_path / "run")
    assert r.returncode == 3, r.stderr
    assert b"stopped by --max-minutes at step 1 of 100000" in r.stderr.strip().splitlines()[-1]


# ---- pictures and event files a person can read (issue 22, item 6) ----


def test_curves_have_one_panel_per_series_and_matplotlib_loads_lazily(tmp_path):
    from PIL import Image

    from i2i.training.plots import PANEL_HEIGHT, save_curves, series, smooth

    recs = [{"step": s, "time": s * 0.1, "g": 3.0 / s, "d": 0.5 + (s % 3) * 0.1} for s in range(1, 60)]
    recs += [{"step": 30, "kind": "eval", "psnr_Set5": 28.5}, {"step": 59, "kind": "eval", "psnr_Set5": 29.0}]
    train, val = series(recs)
    assert sorted(train) == ["d", "g"] and val == {"psnr_Set5": [(30, 28.5), (59, 29.0)]}
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # debiased: no pull toward 0
    save_curves(recs, tmp_path / "curves.png")
    assert Image.open(tmp_path / "curves.png").size == (900, round(3 * PANEL_HEIGHT * 100))
    r = subprocess.run(
        [sys.executable, "-c", "import sys, i2i.cli.train, i2i.training.loop; print('matplotlib' in sys.modules)"],
        capture_output=True,
        cwd=ROOT,
    )
    assert r.stdout.strip() == b"False", r.stderr


def test_tensorboard_event_files_follow_the_checkpoint(data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    from i2i.training.api import resume

    run = tmp_path / "run"
    loop = LoopOptions(steps=3, log_every=1, sample_every=2, threads=1, workers=0, tensorboard=True)
    train("dcgan", tiny_options("dcgan", data), loop, run)
    with SummaryWriter(str(run / "tensorboard")) as lost:  # a killed run's steps past the checkpoint
        lost.add_scalar("train/d", 99.0, 4)
        lost.add_scalar("train/d", 99.0, 5)
    resume(run, steps=4)
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    d = events.Scalars("train/d")
    assert [e.step for e in d] == [1, 2, 3, 4] and d[-1].value != 99.0
    assert [e.value for e in d] == pytest.approx([r["d"] for r in records(run)])
    assert [e.step for e in events.Images("samples")] == [2, 3, 4]


def test_sample_grid_pixels_equal_the_former_tiling(tmp_path):
    """save_grid (torchvision's make_grid) draws the pixels the former cat-and-pad tiling drew,
    for the training grids' shape: equal rows of equal-size images."""
    import numpy as np
    import torch
    from PIL import Image

    from i2i.training.plots import save_grid

    def former(rows):
        cells = [torch.cat([t.float().clamp(0, 1) for t in row], dim=2) for row in rows]
        width = max(c.shape[2] for c in cells)
        cells = [torch.nn.functional.pad(c, (0, width - c.shape[2])) for c in cells]
        return (torch.cat(cells, dim=1).permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")

    g = torch.Generator().manual_seed(0)
    rows = [[torch.rand(3, 24, 20, generator=g) * 1.2 - 0.1 for _ in range(3)] for _ in range(4)]
    picture = save_grid(rows, tmp_path / "grid.png")
    assert picture.shape == (96, 60, 3)
    assert (picture == former(rows)).all()
    assert (np.asarray(Image.open(tmp_path / "grid.png")) == picture).all()


def test_colorize_validates_on_held_out_photos_and_keeps_the_best_model(data, tmp_path):
    """--holdout photos never reach training; each evaluation scores them (PSNR gain over gray,
    median colourfulness ratio) and the best one by the recipe's key is exported to RUN/best/."""
    from i2i.checkpoint import load_model
    from i2i.training.colorize import ColorizeRecipe

    options = tiny_options("colorize", data)
    options = type(options)(**{**options.__dict__, "holdout": 5, "rebalance": 0.5})
    loop = LoopOptions(steps=4, log_every=1, sample_every=100, eval_every=2, workers=0, threads=2)
    result = train("colorize", options, loop, tmp_path / "run")
    evals = [r for r in records(tmp_path / "run") if r.get("kind") == "eval"]
    assert [r["step"] for r in evals] == [2, 4]  # the final evaluation is the step-4 one, not a repeat
    for r in evals:
        assert math.isfinite(r["psnr_gain"]) and 0 <= r["colourfulness"] < 5
    recipe = ColorizeRecipe(options)
    best = max(evals, key=recipe.selection_key)
    chosen = load_model(tmp_path / "run/best/colorize.safetensors").info.training
    assert chosen["steps"] == best["step"] and result.finished
    train_set = recipe.dataset()
    assert len(train_set.held) == 5 and len(train_set.base) + 5 + train_set.excluded == 50  # testB: 50 photos


def test_a_photo_given_twice_is_held_out_whole_and_the_split_ignores_the_repeats(data, tmp_path):
    """A folder of links that oversamples some photos (e.g. the ones with people) leaves the
    held-out split as it was without it, and a held-out photo is not trained on through its link."""
    from i2i.data.datasets import PhotoCrops, list_images

    photos = data / "monet2photo/testB"
    plain = PhotoCrops([photos], crop=64, resize=64, seed=0, holdout=5)
    repeats = tmp_path / "repeats"
    repeats.mkdir()
    for f in list_images(photos)[:20]:  # holds two of the five held-out photos (every 10th from the 5th)
        (repeats / f.name).symlink_to(f.resolve())
    linked = PhotoCrops([photos, repeats], crop=64, resize=64, seed=0, holdout=5)
    assert [im.tobytes() for im in linked.held] == [im.tobytes() for im in plain.held]
    assert len(linked.base) == len(plain.base) + 18
    held = {im.tobytes() for im in linked.held}
    assert not any(im.tobytes() in held for im in linked.base)


def test_colorize_trains_a_decoder_on_the_frozen_imagenet_encoder(data, tmp_path):
    """--arch lite0_unet (issue 35): the export is a colorizer whose encoder still holds
    EfficientNet-Lite0's ImageNet weights (frozen) and whose decoder has left its gray start;
    the colorize engine runs it on a photo of any size at that photo's full resolution."""
    import torch

    from i2i.checkpoint import load_model
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import ColorizeAdapter
    from i2i.engine.engine import Engine
    from i2i.lossnet import efficientnet_lite0
    from i2i.training.colorize import ColorizeRecipe

    options = tiny_options("colorize", data)
    values = {**options.__dict__, "arch": "lite0_unet", "rebalance": 0.2, "gan": False, "ngf": 4}
    with pytest.raises(UsageError, match="multiple of 32"):
        ColorizeOptions(**{**values, "crop": 48})
    # The recipe without the loop (test_recipe_trains_and_exports runs the loop): one step, export.
    recipe = ColorizeRecipe(ColorizeOptions(**values))
    photos = recipe.dataset()
    recipe.setup(torch.device("cpu"), total_steps=1)
    recipe.train_step(torch.utils.data.default_collate([photos[0], photos[1]]), 0)
    model = load_model(recipe.export(tmp_path, {})[0])
    assert model.info.arch == "lite0_unet" and model.task.kind == "colorize" and model.config.width == 4
    encoder = model.module.encoder.state_dict()
    assert all(torch.equal(encoder[k], v) for k, v in efficientnet_lite0().state_dict().items())
    assert model.module.out.weight.abs().sum() > 0
    img = read_image(data / "sr/val/Set5/woman.png")  # 228 x 344: not a multiple of 32
    adapter = ColorizeAdapter(task=model.task, multiple=model.spec.size_multiple(model.config))
    out = Engine(model, adapter, device="cpu", backend="torch").run_image(img)
    assert out.pixels.shape == img.pixels.shape[:2] + (3,)


def test_class_rebalancing_weighs_rare_colours_up_and_averages_one():
    """Zhang et al. 2016 eq. 4: weights 1/((1-l) p + l/Q), E_p[w] = 1; a common colour gets less than one."""
    import torch

    from i2i.data.color import AB_BINS, ab_bin, ab_prior, rebalancing_weights

    gray = torch.full((1, 3, 8, 8), 0.5)
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1
    prior = ab_prior([gray] * 9 + [red])
    assert prior.shape == (AB_BINS**2,) and abs(prior.sum().item() - 1) < 1e-9
    w = rebalancing_weights(prior, 0.5)
    assert abs((prior.float() * w).sum().item() - 1) < 1e-5
    from i2i.data.color import rgb_to_lab

    gray_cell, red_cell = (ab_bin(rgb_to_lab(x)[:, 1:])[0, 0, 0].item() for x in (gray, red))
    assert w[gray_cell] < 1 < w[red_cell]


def _baboon_ab_classes(data):
    """Set14's baboon (1, 3, H, W), its ab cell counts, its gamut (the classes) and their centres."""
    from i2i.data.color import ab_cell_centres, ab_counts, ab_gamut
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    photo = rgb_of(read_image(data / "sr/val/Set14/baboon.png"))[None]
    counts = ab_counts([photo])
    gamut = ab_gamut(counts)
    return photo, counts, gamut, ab_cell_centres()[gamut]


def test_ab_classes_soft_encoding_and_annealed_mean_round_trip(data):
    """Zhang et al. 2016 on a real photo: its pixels' cells are the classes; each soft target holds
    5 classes summing to 1, led by the pixel's own cell; decoding the targets gives the true ab
    back within half a cell at T = 1 (the mean) and within the cell at T -> 0 (the mode), exactly
    for a colour at a cell's centre; the rebalancing weights are finite, positive, 1 on average
    under the prior, and larger for rarer classes."""
    import torch

    from i2i.data.color import AB_BIN, ab_bin, annealed_mean, gamut_class_weights, gamut_prior, rgb_to_lab, soft_encode

    photo, counts, gamut, centres = _baboon_ab_classes(data)
    assert len(gamut) == int((counts > 0).sum()) and (centres.abs() < 110).all()
    ab = rgb_to_lab(photo)[:, 1:]
    target, nearest = soft_encode(ab, centres)
    assert target.shape == (1, len(gamut), *ab.shape[2:])
    assert torch.allclose(target.sum(1), torch.ones(()), atol=1e-5) and ((target > 0).sum(1) == 5).all()
    off_edges = ((ab / AB_BIN) - (ab / AB_BIN).round()).abs().amin(1) > 1e-3  # a cell's edge is a tie
    assert (gamut[nearest] == ab_bin(ab))[off_edges].all()
    logits = target.clamp(min=1e-30).log()
    assert (annealed_mean(logits, centres, 1.0) - ab).abs().max() < AB_BIN / 2
    assert (annealed_mean(logits, centres, 0.01) - ab).abs().max() < AB_BIN
    # A colour at the centre of a cell whose four neighbours are classes too comes back exactly.
    index = {int(c): i for i, c in enumerate(gamut)}
    inner = next(i for i, c in enumerate(gamut.tolist()) if all(c + d in index for d in (-1, 1, -22, 22)))
    known = centres[inner].view(1, 2, 1, 1)
    exact, _ = soft_encode(known, centres)
    for t in (1.0, 0.6, 0.38):
        assert torch.allclose(annealed_mean(exact.clamp(min=1e-30).log(), centres, t), known, atol=1e-3)

    weights = gamut_class_weights(counts, gamut, rebalance=0.5)
    prior = gamut_prior(counts, gamut)
    assert weights.shape == (len(gamut),) and torch.isfinite(weights).all() and (weights > 0).all()
    assert abs((prior.float() * weights).sum().item() - 1) < 1e-5
    assert weights[prior.argmin()] > 1 > weights[prior.argmax()]
    assert torch.allclose(gamut_class_weights(counts, gamut, rebalance=0.0), torch.ones(len(gamut)))


def test_a_prior_correction_is_folded_into_the_classifier_and_undoes_the_prior(data):
    """Logit adjustment (Menon et al. 2021): the offsets -s log p(class) of a real photo's prior
    are 0 at s = 0, larger for rarer classes, and leave the annealed mean alone for a uniform prior;
    at s = 1 a classifier that answers only the prior answers the uniform distribution. Folded into
    lite0_unet's last bias, every position's logits move by exactly the offsets."""
    import torch

    from i2i.archs.lite0_unet import Lite0UNet, Lite0UNetConfig
    from i2i.data.color import AB_SCALE, annealed_mean, gamut_prior, prior_correction

    _, counts, gamut, centres = _baboon_ab_classes(data)
    prior = gamut_prior(counts, gamut)
    q = len(gamut)
    assert prior.shape == (q,) and abs(prior.sum().item() - 1) < 1e-9 and (prior > 0).all()
    assert torch.equal(prior_correction(prior, 0.0), torch.zeros(q))
    offsets = prior_correction(prior, 0.5)
    assert offsets[prior.argmin()] > offsets[prior.argmax()]
    logits = torch.randn(1, q, 3, 3)
    flat = prior_correction(torch.full((q,), 1 / q), 0.5)
    assert torch.allclose(
        annealed_mean(logits + flat[None, :, None, None], centres, 0.6), annealed_mean(logits, centres, 0.6)
    )
    knows_only_the_prior = prior.log().float()[None, :, None, None].expand(1, q, 3, 3)
    uniform = annealed_mean(knows_only_the_prior + prior_correction(prior, 1.0)[None, :, None, None], centres, 1.0)
    assert torch.allclose(uniform, centres.mean(0).view(1, 2, 1, 1).expand(1, 2, 3, 3), atol=1e-3)

    torch.manual_seed(0)
    net = Lite0UNet(Lite0UNetConfig(width=4, bins=q, temperature=0.6)).eval()
    net.ab_centres.copy_(centres)
    torch.nn.init.normal_(net.classify[-1].weight)
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        _, before = net(x, return_logits=True)
        net.offset_logits(offsets)
        ab, after = net(x, return_logits=True)
    assert torch.allclose(after, before + offsets[:, None, None], atol=1e-5)
    expected = annealed_mean(before + offsets[:, None, None], centres, 0.6) / AB_SCALE
    assert torch.allclose(ab, torch.nn.functional.interpolate(expected, scale_factor=4, mode="bilinear"), atol=1e-5)
    with pytest.raises(ValueError, match="offsets"):
        net.offset_logits(offsets[:-1])


def test_colorize_classification_exports_a_model_that_decodes_ab_and_runs_through_the_cli(data, tmp_path, cli):
    """--loss classification (issue 35): the export holds the training photos' in-gamut cells and
    the decode temperature; `i2i colorize` runs it on a real photo at full resolution; the
    cross-entropy is refused without --l1-only or on pix2pix's U-Net."""
    import numpy as np
    import torch
    from PIL import Image

    from i2i.checkpoint import load_model
    from i2i.data.color import ab_cell_centres, ab_counts, ab_gamut, prior_correction
    from i2i.data.datasets import to_tensor
    from i2i.training.colorize import ColorizeRecipe, with_decoding

    options = tiny_options("colorize", data)
    values = {**options.__dict__, "arch": "lite0_unet", "loss": "classification", "rebalance": 0.5, "gan": False}
    values.update(ngf=4, temperature=0.6)
    for bad in ({"gan": True}, {"arch": "unet"}, {"temperature": 0.0}):
        with pytest.raises(UsageError):
            ColorizeOptions(**{**values, **bad})
    recipe = ColorizeRecipe(ColorizeOptions(**values))
    recipe.setup(torch.device("cpu"), total_steps=1)
    photos = recipe.dataset()
    losses = recipe.train_step(torch.utils.data.default_collate([photos[0], photos[1]]), 0)
    assert math.isfinite(losses["ce"]) and losses["ce"] > 0
    path = recipe.export(tmp_path, {})[0]
    model = load_model(path)
    assert model.config.bins == len(recipe.ab_classes) and model.config.temperature == 0.6
    assert recipe.class_prior.shape == (model.config.bins,) and abs(recipe.class_prior.sum().item() - 1) < 1e-9
    assert torch.equal(model.module.ab_centres, ab_cell_centres()[recipe.ab_classes])
    assert model.info.training["loss"] == "classification" and "T = 0.6" in model.info.description
    assert model.module.classify[-1].weight.abs().sum() > 0  # the head left its zero start

    # The export keeps its photos' prior, so it can be prior-corrected and re-decoded without its
    # run (with_decoding): the logits move by exactly the correction, the file given does not.
    stored = torch.tensor(model.info.training["ab_prior"], dtype=torch.float64)
    assert torch.allclose(stored, recipe.class_prior, rtol=1e-3)
    variant = with_decoding(model, 0.4, 0.1)
    assert variant.config.temperature == 0.4 and variant.module.temperature == 0.4
    assert variant.info.training["prior_correction"] == 0.1 and variant.info.options["temperature"] == 0.4
    assert "T = 0.4 after a prior correction of 0.1" in variant.info.description
    x = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        _, before = model.module(x, return_logits=True)
        _, after = variant.module(x, return_logits=True)
    assert torch.allclose(after, before + prior_correction(stored, 0.1)[:, None, None], atol=1e-5)
    model.info.training["metrics"] = {"psnr_gain": 1.0}
    moved = with_decoding(model, 0.5).info.training
    assert "metrics" not in moved and moved["decoded_from"]["metrics"] == {"psnr_gain": 1.0}
    assert moved["decoded_from"]["temperature"] == 0.6
    again = with_decoding(variant, 0.6, 0.05)  # corrections add up
    assert again.info.training["prior_correction"] == pytest.approx(0.15) and model.module.temperature == 0.6

    # Fine-tuned on other photos (--init), the model keeps its classes, which theirs would change;
    # an --init that predicts no classes is refused by name.
    paintings = {**values, "data": (str(data / "monet2photo/testA"),)}
    other = ColorizeRecipe(ColorizeOptions(**{**paintings, "init": str(path)}))
    other.setup(torch.device("cpu"), total_steps=1)
    own_gamut = ab_gamut(ab_counts(to_tensor(im)[None] for im in other.dataset().base))
    assert not torch.equal(own_gamut, recipe.ab_classes) and torch.equal(other.ab_classes, recipe.ab_classes)
    regression = ColorizeRecipe(options)  # the tiny unet of L1 regression: a colorizer without ab classes
    regression.setup(torch.device("cpu"), total_steps=1)
    (tmp_path / "l1").mkdir()
    l1_model = str(regression.export(tmp_path / "l1", {})[0])
    with pytest.raises(UsageError, match="no ab classes"):
        ColorizeRecipe(ColorizeOptions(**{**paintings, "init": l1_model})).setup(torch.device("cpu"), total_steps=1)
    with pytest.raises(UsageError, match="not a classification colorizer"):
        with_decoding(load_model(l1_model), 0.6)
    del model.info.training["ab_prior"]
    with pytest.raises(UsageError, match="no ab_prior"):
        with_decoding(model, 0.6, 0.1)
    assert with_decoding(model, 0.6, 0.1, recipe.class_prior).info.training["ab_prior"]  # a prior given is kept

    photo = data / "sr/val/Set5/woman.png"  # 228 x 344: not a multiple of 32
    result = cli("colorize", photo, "--model", path, "-o", tmp_path / "woman.png")
    assert result.returncode == 0, result.stderr.decode()
    out = np.asarray(Image.open(tmp_path / "woman.png"))
    assert out.shape == np.asarray(Image.open(photo)).shape[:2] + (3,)
    # The decode is in the graph: the ONNX export answers ab, as torch does, at any size.
    ort = pytest.importorskip("onnxruntime")
    result = cli("export", path, "-o", tmp_path / "c.onnx", "--image", photo, "--json")
    assert result.returncode == 0, result.stderr.decode()
    x = torch.rand(2, 1, 64, 96) * 2 - 1
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        expected = model.module.eval()(x).numpy()
    assert got.shape == (2, 2, 64, 96) and np.abs(got - expected).max() < 1e-4


def test_style_activation_smoothing_multi_scale_targets_and_upsampling_train(data, tmp_path, cli):
    """--smooth-activations, --style-scale, --upsample and --grid-weight reach the recipe from the
    command line, are stored in run.json (and the x2 mode in the model), and the style loss stays
    finite; out-of-range values are refused before a run directory is made."""
    run = tmp_path / "run"
    common = ("train", "style", "--style", str(data / "styles/great_wave.jpg"), "--data", str(data / "monet2photo/testB"),
              "--width", "8", "--crop", "64", "--style-size", "128", "--batch-size", "2", "--steps", "2",
              "--threads", "1", "--workers", "0", "--quiet")  # fmt: skip
    r = cli(
        *common, "--style-scale", "1", "--style-scale", "0.5", "--smooth-activations",
        "--upsample", "resize", "--grid-weight", "0.5", "--name", "tiny", "--run-dir", str(run),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    options = json.loads((run / "run.json").read_text())["options"]
    assert options["style_scales"] == [1.0, 0.5] and options["smooth_activations"] is True
    assert options["upsample"] == "resize" and options["grid_weight"] == 0.5  # resize: pytorch/examples' x2
    assert all(math.isfinite(rec["style"]) and math.isfinite(rec["grid"]) for rec in records(run) if "style" in rec)
    info = json.loads(cli("info", run / "style-tiny.safetensors", "--json").stdout)
    assert info["options"]["upsample"] == "resize"
    for bad, message in (
        (("--style-scale", "0"), b"--style-scale must be positive"),
        (("--upsample", "transposed"), b"--upsample must be resize or bilinear for a style"),
        (("--grid-weight", "-1"), b"--grid-weight"),
    ):
        r = cli(*common, *bad, "--run-dir", str(tmp_path / "bad"))
        assert r.returncode == 2 and message in r.stderr, (bad, r.stderr)
        assert not (tmp_path / "bad").exists()
