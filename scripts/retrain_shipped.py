"""Retrain the shipped models with their full-size recipes, each within a time budget, and
measure every candidate with its benchmark beside the shipped model (issue 19).

Meant for a CUDA machine with ../shared/data copied beside the checkout; it runs on the CPU too
(slowly; `--smoke` shrinks everything to a few steps, for the tests). It only writes under
--out; it never touches weights/: shipping a candidate is a person's decision, made from the
figures and the contact sheets (copy the file into weights/, store it as fp16 with
`i2i convert --half` where weights/README.md says so, and document it there).

For each model (in this order, so that chained stages start from this run's candidates; an
assembled model, one blended from candidates, is made and benchmarked without training):
  1. a short calibration run measures seconds per step on this machine (unless --smoke);
  2. `i2i train METHOD ...` with the recipe below; the planned steps are the recipe's full
     schedule, shortened so that the run fits 85 % of --minutes (so the learning-rate schedule
     completes instead of being cut off), and --max-minutes MINUTES as the hard stop;
  3. the export is copied to OUT/NAME.safetensors and the model's benchmark script is run on
     it with --candidate (old vs new), its output kept in OUT/NAME.benchmark.txt;
  4. OUT/summary.json and OUT/summary.md are rewritten.
A rerun skips models whose OUT/NAME.safetensors exists and resumes an interrupted run
(OUT/NAME/run) with `i2i train --resume`.

What "full size" means here (where a recipe departs from the paper it says why):
  styles     TransformerNet width 32 (Johnson et al., pytorch/examples), 256 px crops, batch 16,
             bilinear x2 steps and the 4-pixel grid penalty (without them the net draws a
             periodic hatching, weights/README.md); SWAG
             activation smoothing (style weight 1.5, grid weight 0.01: its painting holds texture
             at that period) for starry-night, style weight 4 for the other four (each where it
             measured better, weights/README.md)
  facades    pix2pix's 256 px crops and 200 epochs (Isola et al.), batch 4; the shipped width
             (unet_128 layout, ngf 32) kept: paper width (unet_256, ngf 64) is 54M parameters,
             over the 25 MB a file in weights/ may have; the paper's losses (stage1), then the
             shipped fine-tune from it (25 x L1, half the learning rate, --grid-weight 1
             --spectrum-weight 1); and the paper's stage with resize upsampling
             (`facades-label2photo-resize`)
  colorize   the shipped recipe (weights/README.md), its three runs: the ab classifier on the
             ImageNet EfficientNet-Lite0 (colorize-base; one 9000-step schedule where the shipped
             base was 6000 steps extended to 9000), its encoder fine-tune (colorize-finetune) and
             its EMA continuation (colorize-ema, its best held-out evaluation); the photos with
             people given 3x and the five close-ups of faces 6x more, from folders of links made
             under OUT/subsets. Then, trained nothing more, the shipped model is assembled from
             them (colorize): 0.85 x the soup of base and EMA (the shipped soup also held the
             base at 6000 steps, which one schedule has no export of) + 0.15 x the fine-tune,
             decoded at T = 0.6 after a prior correction of 0.06, and its portrait model
             (colorize-portrait: the fine-tune alone, decoded the same way), which `i2i colorize`
             blends in per photo as far as the photo shows people
  photo2monet / monet2photo
             one CycleGAN run (Zhu et al.) at the paper's sizes: 256 px crops of photos loaded at
             286, ngf 64, 9 residual blocks, 200 epochs of the 400 photos at batch 1; the
             shipped model's losses and additions (input skip, Projected GAN + PatchGAN
             discriminators, EMA): the shipped pair is ngf 16, 6 blocks, 128 px crops, what
             two CPU cores could train
  upscale-*  MSRResNet width (64 channels, 16 blocks, Wang et al. / BasicSR; 1.5M parameters),
             batch 16 of 48 px LR crops; GAN and real-degradation stages start from this run's
             candidates (else the shipped files), with the shipped stages' loss settings
  dcgan      DCGAN paper widths (ngf = ndf = 64, batch 128, Radford et al.)

Run: python scripts/retrain_shipped.py [--models NAME ...] [--minutes 60] [--device auto]
         [--data ../shared/data] [--out runs/retrain-CANDIDATES] [--precision auto] [--smoke]
     python scripts/retrain_shipped.py --list
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
CALIBRATION_STEPS = 12
BUDGET_SHARE = 0.85  # of --minutes for the planned schedule: evaluation, samples and checkpoints take the rest
REAL_DEGRADATION = (
    '{"first": {"noise_range": [1, 15], "poisson_scale_range": [0.05, 1.5], "jpeg_range": [40, 95]}, '
    '"second": {"noise_range": [1, 10], "poisson_scale_range": [0.05, 1.0], "jpeg_range": [40, 95]}}'
)
SR_DATA = {
    "--data": ["{DATA}/sr/train/T91", "{DATA}/sr/train/BSD200"],
    "--val": ["{DATA}/sr/val/Set5", "{DATA}/sr/val/Set14"],
}
SR_SMOKE = {"--channels": 8, "--blocks": 2, "--crop": 16, "--batch-size": 2, "--eval-every": 0}


@dataclass(frozen=True)
class Retrain:
    """One shipped model's full-size recipe."""

    name: str
    """Key for --models, and the candidate's file name (OUT/NAME.safetensors)."""
    method: str
    """i2i train METHOD."""
    flags: dict
    """Flag -> value (a list repeats the flag; True is a bare switch); {DATA} is the data folder."""
    steps: int
    """The full schedule; shortened to fit the budget."""
    export: str
    """The file name the run exports."""
    benchmark: tuple[str, ...] = ()
    """Benchmark script and arguments ({CANDIDATE}, {OUT}); empty: none takes a candidate."""
    shipped: str = ""
    """The shipped model it would replace (default: name)."""
    init: str = ""
    """Another model this one starts from: its candidate here, else its shipped file."""
    init_flag: str = "--init"
    smoke: dict = field(default_factory=dict)
    """Overrides that make the run tiny (--smoke)."""
    smoke_benchmark: tuple[str, ...] = ()
    """Extra benchmark arguments under --smoke."""
    best: bool = False
    """The candidate is the run's best held-out evaluation (best/), not its final export."""
    also: dict = field(default_factory=dict)
    """Other candidates the run exports: name -> the exported file (a CycleGAN run's other
    direction), copied to OUT/NAME.safetensors beside the main one."""

    @property
    def replaces(self) -> str:
        return self.shipped or self.name


@dataclass(frozen=True)
class Assembled:
    """A shipped model made from other candidates of this run, trained no further: their weighted
    sum (interpolation.blend: a soup of one recipe's runs, Wortsman et al. 2022, with a share of
    a fine-tune, WiSE-FT), for a classification colorizer then re-decoded (training/colorize.py's
    with_decoding: annealed-mean temperature, prior correction with the first part's stored
    training prior)."""

    name: str
    parts: dict
    """Candidate name -> weight (summing to 1)."""
    temperature: float | None = None
    prior_correction: float = 0.0
    training: dict = field(default_factory=dict)
    """Fields added to its training metadata (a colorizer's portrait_stage)."""
    benchmark: tuple[str, ...] = ()
    shipped: str = ""
    smoke_benchmark: tuple[str, ...] = ()

    @property
    def replaces(self) -> str:
        return self.shipped or self.name


def _style(
    name: str, painting: str, smooth: bool = False, style_weight: float = 1.5, grid_weight: float = 0.05
) -> Retrain:
    return Retrain(
        name=f"style-{name}",
        method="style",
        steps=10000,
        export=f"style-{name}.safetensors",
        flags={
            "--style": f"{{DATA}}/styles/{painting}",
            "--data": ["{DATA}/monet2photo/trainB"],
            "--name": name,
            "--width": 32,
            "--upsample": "bilinear",
            "--grid-weight": grid_weight,
            "--crop": 256,
            "--batch-size": 16,
            "--style-weight": style_weight,
            "--tv-weight": 5e-3,
            "--smooth-activations": smooth,
            "--sample-every": 500,
        },
        benchmark=(
            "style_quality.py",
            "--styles",
            name,
            "--candidate",
            f"{name}={{CANDIDATE}}",
            "--sheet",
            f"{{OUT}}/style-{name}.sheet.png",
        ),
        smoke={"--width": 8, "--crop": 64, "--style-size": 128, "--batch-size": 2},
        smoke_benchmark=("--photos", "2"),
    )


FACADES = {
    "--data": "{DATA}/facades",
    "--direction": "BtoA",
    "--holdout": 40,
    "--num-downs": 7,
    "--ngf": 32,
    "--ndf": 32,
    "--norm": "instance",
    "--load-size": 286,
    "--crop": 256,
    "--batch-size": 4,
    "--name": "facades-label2photo",
    "--sample-every": 1000,
}
FACADES_SMOKE = {"--num-downs": 6, "--ngf": 8, "--ndf": 8, "--load-size": 72, "--crop": 64, "--batch-size": 2}

# The colorize training photos with people in them (stop 51, by eye): 24 of BSD200 and the five
# T91 close-ups of faces (t55 is not a face; t53 is held out by the split, so it is never trained).
FACES = tuple(f"sr/train/T91/{n}.png" for n in ("t53", "t54", "t56", "t57", "t58"))
PEOPLE = (
    tuple(
        f"sr/train/BSD200/{i}.png"
        for i in (
            "122048 145014 145053 147021 15004 151087 153077 153093 170054 181018 181079 181091 "
            "187029 187083 189003 189011 198004 198023 198054 23025 23080 55075 65019 65074"
        ).split()
    )
    + FACES
)
SUBSETS = {"PEOPLE": PEOPLE, "FACES": FACES}
"""Folders of links to some photos of --data, made under OUT/subsets, named in flags as {NAME}:
given as --data more than once, they oversample those photos (a photo given twice is held out or
trained as one, datasets.PhotoCrops)."""

COLORIZE = {
    "--arch": "lite0_unet",
    "--loss": "classification",
    "--l1-only": True,
    "--temperature": 1,
    "--data": ["{DATA}/sr/train/T91", "{DATA}/sr/train/BSD200", "{DATA}/monet2photo/trainB"]
    + ["{PEOPLE}"] * 3
    + ["{FACES}"] * 6,
    "--holdout": 60,
    "--crop": 192,
    "--sample-every": 1000,
}
COLORIZE_SMOKE = {"--ngf": 8, "--crop": 64, "--load-size": 72, "--batch-size": 2, "--eval-every": 1}


def _colorize_run(name: str, steps: int, flags: dict, **kwargs) -> Retrain:
    """One of the shipped colorize's three runs (COLORIZE with its own flags)."""
    return Retrain(
        name=name,
        method="colorize",
        steps=steps,
        shipped="colorize",
        export="colorize.safetensors",
        flags={**COLORIZE, **flags},
        smoke=COLORIZE_SMOKE,
        **kwargs,
    )


def _colorize_benchmark(name: str) -> tuple[str, ...]:
    return ("colorize_quality.py", "--candidate", "{CANDIDATE}", "--sheet", f"{{OUT}}/{name}.sheet.png")


RECIPES = [
    _style("starry-night", "starry_night.jpg", smooth=True, grid_weight=0.01),
    _style("great-wave", "great_wave.jpg", style_weight=4),
    _style("scream", "the_scream.jpg", style_weight=4),
    _style("monet", "water_lilies.jpg", style_weight=4),
    _style("composition-vii", "composition_vii.jpg", style_weight=4),
    # 360 training pairs x 200 epochs / batch 4: the paper's losses, then the shipped model's
    # fine-tune (GAN weighted up, the spectral terms that took the grids out, weights/README.md)
    Retrain(
        name="facades-label2photo-stage1",
        method="pix2pix",
        steps=18000,
        shipped="facades-label2photo",
        export="facades-label2photo.safetensors",
        flags=FACADES,
        benchmark=("pix2pix_quality.py", "--candidate", "{CANDIDATE}"),
        smoke=FACADES_SMOKE,
    ),
    Retrain(
        name="facades-label2photo",
        method="pix2pix",
        steps=8000,
        export="facades-label2photo.safetensors",
        init="facades-label2photo-stage1",
        flags={**FACADES, "--lambda-l1": 25, "--lr": 1e-4, "--grid-weight": 1, "--spectrum-weight": 1},
        benchmark=("pix2pix_quality.py", "--candidate", "{CANDIDATE}"),
        smoke=FACADES_SMOKE,
    ),
    Retrain(
        name="facades-label2photo-resize",
        method="pix2pix",
        steps=18000,
        shipped="facades-label2photo",
        export="facades-label2photo.safetensors",
        flags={**FACADES, "--upsample": "resize"},
        benchmark=("pix2pix_quality.py", "--candidate", "{CANDIDATE}"),
        smoke=FACADES_SMOKE,
    ),
    # The shipped colorize (weights/README.md): three runs and their assembly.
    _colorize_run("colorize-base", 9000, {"--rebalance": 0, "--eval-every": 1000}),
    _colorize_run(
        "colorize-finetune",
        1200,
        {"--rebalance": 0.15, "--finetune-encoder": True, "--lr": 1e-4, "--eval-every": 300},
        init="colorize-base",
    ),
    _colorize_run(
        "colorize-ema",
        10000,
        {"--rebalance": 0, "--seed": 1, "--ema": 0.999, "--eval-every": 1000},
        init="colorize-base",
        best=True,  # the average overfits the 635 photos once the rate decays (weights/README.md)
    ),
    Assembled(
        name="colorize-portrait",
        parts={"colorize-finetune": 1.0},
        temperature=0.6,
        prior_correction=0.06,
    ),
    Assembled(  # benchmarked with the portrait model beside it, blended per photo as shipped
        name="colorize",
        parts={"colorize-base": 0.425, "colorize-ema": 0.425, "colorize-finetune": 0.15},
        temperature=0.6,
        prior_correction=0.06,
        training={"portrait_stage": "colorize-portrait"},
        benchmark=_colorize_benchmark("colorize"),
    ),
    # 400 photos x 200 epochs at batch 1 (Zhu et al.'s schedule for monet2photo's larger side).
    Retrain(
        name="monet2photo",
        method="cyclegan",
        steps=80000,
        export="monet-AtoB.safetensors",
        also={"photo2monet": "monet-BtoA.safetensors"},
        flags={
            "--data": "{DATA}/monet2photo",
            "--discriminator": "projected+patchgan",
            "--ngf": 64,
            "--ndf": 64,
            "--blocks": 9,
            "--upsample": "resize",
            "--input-skip": True,
            "--load-size": 286,
            "--crop": 256,
            "--adv-weight": 0.5,
            "--adv-warmup": 500,
            "--ema": 0.999,
            "--name": "monet",
            "--sample-every": 2000,
        },
        benchmark=(
            "cyclegan_quality.py",
            "--monet2photo",
            "{CANDIDATE}",
            "--photo2monet",
            "{OUT}/photo2monet.safetensors",
        ),
        smoke={"--ngf": 4, "--ndf": 8, "--blocks": 1, "--load-size": 40, "--crop": 32},
    ),
    # BasicSR's MSRResNet schedule is 1M iterations; the budget sets how far it gets.
    Retrain(
        name="upscale-x4",
        method="srgan",
        steps=1_000_000,
        export="upscale-x4.safetensors",
        flags={
            **SR_DATA,
            "--scale": 4,
            "--channels": 64,
            "--blocks": 16,
            "--crop": 48,
            "--batch-size": 16,
            "--name": "upscale-x4",
            "--eval-every": 5000,
            "--sample-every": 5000,
        },
        benchmark=("sr_quality.py", "--candidate", "{CANDIDATE}"),
        smoke=SR_SMOKE,
    ),
    Retrain(
        name="upscale-x2",
        method="srgan",
        steps=1_000_000,
        export="upscale-x2.safetensors",
        flags={
            **SR_DATA,
            "--scale": 2,
            "--channels": 64,
            "--blocks": 16,
            "--crop": 48,
            "--batch-size": 16,
            "--name": "upscale-x2",
            "--eval-every": 5000,
            "--sample-every": 5000,
        },
        benchmark=("sr_quality.py", "--candidate", "{CANDIDATE}"),
        smoke={**SR_SMOKE, "--scale": 2},
    ),
    Retrain(
        name="upscale-x4-gan",
        method="srgan",
        steps=100_000,
        export="upscale-x4-gan.safetensors",
        init="upscale-x4",
        flags={
            **SR_DATA,
            "--scale": 4,
            "--gan": True,
            "--grid-weight": 1,
            "--grid-period": 8,
            "--crop": 48,
            "--batch-size": 16,
            "--lr": 2e-4,
            "--ema": 0.999,
            "--name": "upscale-x4-gan",
            "--eval-every": 5000,
            "--sample-every": 5000,
        },
        benchmark=("sr_quality.py", "--candidate", "{CANDIDATE}"),
        smoke=SR_SMOKE,
    ),
    Retrain(
        name="upscale-x4-real-psnr",
        method="srgan",
        steps=400_000,
        export="upscale-x4-real-psnr.safetensors",
        init="upscale-x4",
        flags={
            **SR_DATA,
            "--scale": 4,
            "--degradation": "real",
            "--degradation-options": REAL_DEGRADATION,
            "--crop": 48,
            "--batch-size": 16,
            "--lr": 5e-4,
            "--name": "upscale-x4-real-psnr",
            "--eval-every": 5000,
            "--sample-every": 5000,
        },
        benchmark=("sr_real.py", "--candidate", "{CANDIDATE}"),
        smoke=SR_SMOKE,
    ),
    Retrain(
        name="upscale-x4-real",
        method="srgan",
        steps=100_000,
        export="upscale-x4-real.safetensors",
        init="upscale-x4-real-psnr",
        flags={
            **SR_DATA,
            "--scale": 4,
            "--degradation": "real",
            "--degradation-options": REAL_DEGRADATION,
            "--gan": True,
            "--adv-weight": 0.01,
            "--crop": 48,
            "--batch-size": 16,
            "--lr": 1e-4,
            "--ema": 0.999,
            "--name": "upscale-x4-real",
            "--eval-every": 5000,
            "--sample-every": 5000,
        },
        benchmark=("sr_real.py", "--candidate", "{CANDIDATE}"),
        smoke=SR_SMOKE,
    ),
    Retrain(
        name="dcgan-landscapes",
        method="dcgan",
        steps=20000,
        export="dcgan-landscapes.safetensors",
        flags={
            "--data": ["{DATA}/monet2photo/trainB"],
            "--size": 64,
            "--ngf": 64,
            "--ndf": 64,
            "--batch-size": 128,
            "--name": "dcgan-landscapes",
            "--sample-every": 1000,
        },
        smoke={"--size": 32, "--ngf": 8, "--ndf": 8, "--batch-size": 4},
    ),
    Retrain(
        name="dcgan-landscapes-encoder",
        method="dcgan-encoder",
        steps=20000,
        export="dcgan-landscapes-encoder.safetensors",
        init="dcgan-landscapes",
        init_flag="--generator",
        flags={"--ndf": 64, "--batch-size": 128, "--name": "dcgan-landscapes-encoder", "--sample-every": 1000},
        smoke={"--ndf": 8, "--batch-size": 4},
    ),
]
BY_NAME = {r.name: r for r in RECIPES}


def subset_folder(out: Path, name: str) -> Path:
    return out / "subsets" / name.lower()


def as_args(flags: dict, data: Path, out: Path) -> list[str]:
    """The flags as `i2i train` arguments: {DATA} the data folder, {NAME} a SUBSETS folder."""
    places = {"{DATA}": data, **{f"{{{name}}}": subset_folder(out, name) for name in SUBSETS}}
    args = []
    for flag, value in flags.items():
        for v in value if isinstance(value, list) else [value]:
            if v is True:
                args.append(flag)
            elif v is not False and v is not None:
                text = str(v)
                for key, path in places.items():
                    text = text.replace(key, str(path))
                args += [flag, text]
    return args


def make_subsets(recipe: Retrain, data: Path, out: Path) -> None:
    """The SUBSETS folders the recipe names, remade as links to their photos in `data`. Raises
    FileNotFoundError naming a photo that is not there."""
    for name, files in SUBSETS.items():
        if f"{{{name}}}" not in json.dumps(recipe.flags):
            continue
        folder = subset_folder(out, name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for file in files:
            photo = data / file
            if not photo.is_file():
                raise FileNotFoundError(f"{photo}: a photo of the {name} subset is not in --data")
            (folder / photo.name).symlink_to(photo)


def init_flags(recipe: Retrain, out: Path, smoke: bool) -> tuple[dict, str]:
    """The --init/--generator flag of a chained stage and, for SR stages, the architecture
    options its starting model has (a warm start needs the same network)."""
    if not recipe.init:
        return {}, ""
    from i2i.checkpoint import read_info

    start = out / f"{recipe.init}.safetensors"
    if not start.is_file():
        start = WEIGHTS / f"{recipe.init}.safetensors"
    if not start.is_file():
        raise FileNotFoundError(
            f"{recipe.name} starts from {recipe.init}: neither {out}/{recipe.init}.safetensors nor {start} exists"
        )
    flags = {recipe.init_flag: str(start)}
    if recipe.method == "srgan":
        options = read_info(start).options
        flags.update({"--channels": options["channels"], "--blocks": options["blocks"]})
        if smoke:  # the stage's own smoke sizes would not match its starting model
            flags["--crop"] = SR_SMOKE["--crop"]
    return flags, str(start)


def seconds_per_step(run_dir: Path) -> float:
    times = [
        json.loads(line)["time"]
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if '"kind"' not in line
    ]
    if len(times) >= 3:  # the first step carries the warm-up
        return (times[-1] - times[0]) / (len(times) - 1)
    return times[-1] / max(1, len(times))


def steps_that_fit(schedule: int, per_step: float, minutes: float) -> int:
    """The schedule's steps, or fewer: as many as BUDGET_SHARE of the budget holds (at least 1)."""
    return max(1, min(schedule, int(BUDGET_SHARE * minutes * 60 / max(per_step, 1e-6))))


def planned_steps(recipe: Retrain, base: list[str], run_dir: Path, minutes: float, log) -> int:
    """The recipe's schedule, shortened to what fits BUDGET_SHARE of the budget here."""
    calibrate = run_dir.parent / "calibrate"
    shutil.rmtree(calibrate, ignore_errors=True)
    r = subprocess.run(
        [
            *base,
            "--steps",
            str(CALIBRATION_STEPS),
            "--run-dir",
            str(calibrate),
            "--quiet",
            "--sample-every",
            "100000",
            "--checkpoint-minutes",
            "100000",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise RuntimeError(f"calibration run failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    per_step = seconds_per_step(calibrate)
    shutil.rmtree(calibrate, ignore_errors=True)
    steps = steps_that_fit(recipe.steps, per_step, minutes)
    log(f"  {per_step:.3f} s/step here: {steps} of the schedule's {recipe.steps} steps fit {minutes:g} min")
    return steps


def figures(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.startswith("FIGURE|"):
            _, name, value, _unit, _target = line.split("|", 4)
            found[name] = value
    return found


def run_benchmark(recipe: Retrain | Assembled, candidate: Path, out: Path, smoke: bool) -> dict:
    if not recipe.benchmark:
        return {"benchmark": "none takes a candidate (benchmarks/gan_toolkit.py measures weights/ only)"}
    script, *args = recipe.benchmark
    args = [a.replace("{CANDIDATE}", str(candidate)).replace("{OUT}", str(out)) for a in args]
    if smoke:
        args += list(recipe.smoke_benchmark)
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, capture_output=True, text=True
    )
    log_path = out / f"{recipe.name}.benchmark.txt"
    log_path.write_text(f"$ python benchmarks/{script} {' '.join(args)}\n{r.stdout}{r.stderr[-3000:]}")
    return {"benchmark": str(log_path), "benchmark_exit": r.returncode, "figures": figures(r.stdout)}


def assemble(recipe: Assembled, args, out: Path, log) -> dict:
    """The weighted sum of this run's candidates `recipe.parts`, re-decoded; benchmarked."""
    from i2i.checkpoint import load_model, save_model
    from i2i.interpolation import blend

    candidate = out / f"{recipe.name}.safetensors"
    missing = [name for name in recipe.parts if not (out / f"{name}.safetensors").is_file()]
    if missing:
        raise FileNotFoundError(f"{recipe.name} is assembled from {', '.join(missing)}: train them first")
    parts = []
    for name in recipe.parts:
        parts.append(load_model(out / f"{name}.safetensors"))
        parts[-1].info.name = name  # how the blend's metadata names each part
    model = blend(parts, list(recipe.parts.values()))
    if recipe.temperature is not None:
        from i2i.training.colorize import with_decoding

        model = with_decoding(model, recipe.temperature, recipe.prior_correction)
    model.info.name = recipe.name
    model.info.training.update(recipe.training)
    save_model(candidate, model.module, model.info)
    parts = " + ".join(f"{w:g} x {name}" for name, w in recipe.parts.items())
    log(f"{recipe.name}: assembled ({parts}) -> {candidate}")
    entry = {
        "replaces": f"weights/{recipe.replaces}.safetensors",
        "status": "assembled",
        "command": f"{parts}, then annealed mean at T = {recipe.temperature:g} after a prior correction of "
        f"{recipe.prior_correction:g}"
        if recipe.temperature is not None
        else parts,
        "candidate": str(candidate),
    }
    if args.benchmark:
        entry.update(run_benchmark(recipe, candidate, out, args.smoke))
    return entry


def retrain(recipe: Retrain | Assembled, args, out: Path, log) -> dict:
    candidate = out / f"{recipe.name}.safetensors"
    if candidate.is_file():
        log(f"{recipe.name}: {candidate} exists; skipped (delete it to retrain)")
        return {"status": "skipped (candidate exists)", "candidate": str(candidate)}
    if isinstance(recipe, Assembled):
        return assemble(recipe, args, out, log)
    run_dir = out / recipe.name / "run"
    started = time.monotonic()
    entry: dict = {"replaces": f"weights/{recipe.replaces}.safetensors"}
    if (run_dir / "run.json").is_file():
        command = [
            sys.executable,
            "-m",
            "i2i",
            "train",
            recipe.method,
            "--resume",
            str(run_dir),
            "--max-minutes",
            str(args.minutes),
            "--quiet",
        ]
        log(f"{recipe.name}: resuming {run_dir}")
    else:
        make_subsets(recipe, args.data, out)
        flags = {**recipe.flags, **(recipe.smoke if args.smoke else {})}
        extra, start = init_flags(recipe, out, args.smoke)
        flags.update(extra)
        if start:
            entry["starts_from"] = start
        base = [
            sys.executable,
            "-m",
            "i2i",
            "train",
            recipe.method,
            *as_args(flags, args.data, out),
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--workers",
            str(args.workers),
        ]
        log(f"{recipe.name}: training on {args.device}")
        steps = 2 if args.smoke else planned_steps(recipe, base, run_dir, args.minutes, log)
        command = [
            *base,
            "--steps",
            str(steps),
            "--max-minutes",
            str(args.minutes),
            "--run-dir",
            str(run_dir),
            "--quiet",
        ]
    entry["command"] = shlex.join(command[2:])  # from "i2i", as a user would type it
    r = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    entry["train_exit"] = r.returncode
    entry["minutes"] = round((time.monotonic() - started) / 60, 2)
    exported = run_dir / recipe.export
    if r.returncode not in (0, 3) or not exported.is_file():
        entry["status"] = f"failed (exit {r.returncode})"
        entry["error"] = r.stderr.strip()[-1500:]
        log(f"{recipe.name}: training failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
        return entry
    entry["status"] = "finished" if r.returncode == 0 else "stopped by --minutes (exported)"
    best = run_dir / "best" / recipe.export  # a recipe that validates on held-out data (--holdout)
    if best.is_file():  # the final export stays the candidate unless the recipe says otherwise
        entry["best_validation"] = str(best)
    shutil.copyfile(best if recipe.best and best.is_file() else exported, candidate)
    entry["candidate"] = str(candidate)
    for name, file in recipe.also.items():
        shutil.copyfile(run_dir / file, out / f"{name}.safetensors")
        entry.setdefault("also", {})[name] = str(out / f"{name}.safetensors")
    log(f"{recipe.name}: {entry['status']} in {entry['minutes']} min -> {candidate}")
    if args.benchmark:
        entry.update(run_benchmark(recipe, candidate, out, args.smoke))
    return entry


def write_summary(out: Path, results: dict, args) -> None:
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": args.device,
        "minutes_per_model": args.minutes,
        "precision": args.precision,
        "smoke": args.smoke,
        "data": str(args.data),
    }
    (out / "summary.json").write_text(json.dumps({**meta, "models": results}, indent=2) + "\n")
    lines = [
        "# Retrained candidates",
        "",
        f"{meta['date']}, device {args.device}, {args.minutes:g} min per model, precision {args.precision}"
        + (" (smoke run: tiny sizes, not candidates to ship)" if args.smoke else "")
        + ".",
        "Nothing here is in weights/: compare the figures (shipped and candidate side by side, from the "
        "benchmark named) and the contact sheets, then copy a winner by hand.",
        "",
    ]
    for name, entry in results.items():
        lines += [
            f"## {name}",
            "",
            f"* status: {entry.get('status')}; candidate: {entry.get('candidate', '-')}; "
            f"replaces {entry.get('replaces', '-')}; {entry.get('minutes', '-')} min",
            f"* command: `{entry.get('command', '-')}`",
            f"* benchmark: {entry.get('benchmark', '-')}",
        ]
        if entry.get("figures"):
            lines += ["", "| figure | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in entry["figures"].items()]
        if entry.get("error"):
            lines += ["", "```", entry["error"], "```"]
        lines.append("")
    (out / "summary.md").write_text("\n".join(lines))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", metavar="NAME", help="default: all (see --list)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget per model (default 60)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cuda, cuda:N or cpu")
    parser.add_argument(
        "--precision",
        default="auto",
        help="passed to i2i train: auto (bf16 autocast on CUDA GPUs that have it), bf16 or fp32",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="data-loading processes (default 6 on CUDA, 1 on CPU)"
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "retrain-CANDIDATES")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny networks, 2 steps, small benchmarks: checks the path"
    )
    parser.add_argument(
        "--no-benchmark",
        dest="benchmark",
        action="store_false",
        help="train only (run the benchmarks later with --candidate)",
    )
    parser.add_argument("--list", action="store_true", help="print the models and their recipes, then exit")
    args = parser.parse_args(argv)
    if args.list:
        for r in RECIPES:
            if isinstance(r, Assembled):
                print(f"{r.name:28} assembled: " + " + ".join(f"{w:g} x {n}" for n, w in r.parts.items()))
                continue
            print(
                f"{r.name:28} i2i train {r.method} {' '.join(as_args(r.flags, args.data, args.out))} "
                f"(schedule {r.steps} steps{'; starts from ' + r.init if r.init else ''})"
            )
        sys.exit(0)
    unknown = [m for m in args.models or [] if m not in BY_NAME]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    out = args.out.resolve()
    if out == WEIGHTS.resolve() or WEIGHTS.resolve() in out.parents:
        parser.error(f"--out {args.out} is inside weights/: candidates go elsewhere, and are shipped by hand")
    if not args.data.is_dir():
        parser.error(f"--data {args.data}: no such folder (copy shared/data beside the checkout)")
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.workers is None:
        args.workers = 6 if args.device.startswith("cuda") else 1
    args.data, args.out = args.data.resolve(), out
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    args.out.mkdir(parents=True, exist_ok=True)
    summary = args.out / "summary.json"
    results = json.loads(summary.read_text())["models"] if summary.is_file() else {}

    def log(message: str) -> None:
        print(message, flush=True)

    chosen = [r for r in RECIPES if not args.models or r.name in args.models]
    for recipe in chosen:
        try:
            results[recipe.name] = retrain(recipe, args, args.out, log)
        except (FileNotFoundError, RuntimeError) as e:
            results[recipe.name] = {"status": "failed", "error": str(e)}
            log(f"{recipe.name}: {e}")
        write_summary(args.out, results, args)
    log(f"summary: {args.out / 'summary.md'}")
    failed = [r.name for r in chosen if str(results[r.name].get("status", "")).startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
