"""`i2i train METHOD`: parse options into the method's dataclass, run the one training loop."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import (BatchSize, Deterministic, Device, EvalEvery, MaxMinutes, Quiet, Resume, RunDir,
                      SampleEvery, Seed, Steps, Threads, TrainPrecision, Workers)

train_app = typer.Typer(help="Train a model. Example: i2i train srgan --data photos/ --scale 4",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")


def _command() -> str:
    return shlex.join(["i2i", *sys.argv[1:]])


def _run(method: str, options, *, steps, default_steps, seed, device, precision, deterministic,
         workers, threads,
         max_minutes, run_dir, resume, sample_every, eval_every, quiet,
         checkpoint_minutes: float = 3.0):
    from ..training.api import resume as resume_run
    from ..training.api import train
    from ..training.loop import LoopOptions
    from .render import TrainingDisplay, err

    with TrainingDisplay(quiet) as display:
        if resume is not None:
            result = resume_run(resume, max_minutes=max_minutes, steps=steps,
                                command=_command(), on_event=display)
        else:
            run_dir = run_dir or Path("runs") / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"
            loop = LoopOptions(steps=steps or default_steps, seed=seed, device=device, precision=precision,
                               deterministic=deterministic, workers=workers,
                               max_minutes=max_minutes, threads=threads, sample_every=sample_every,
                               eval_every=eval_every, checkpoint_minutes=checkpoint_minutes)
            result = train(method, options, loop, run_dir, command=_command(), on_event=display)
    state = "finished" if result.finished else "stopped (resume with --resume)"
    err.print(f"{method}: {state} at step {result.step}; run directory {result.run_dir}")
    for path in result.exported:
        print(path)


def _tuple(paths: list[Path] | None) -> tuple[str, ...]:
    return tuple(str(p) for p in paths or ())


def _real_degradation(overrides: str):
    import json

    from ..data.degradations import RealDegradation

    if not overrides:
        return RealDegradation()
    try:
        return RealDegradation().with_overrides(json.loads(overrides))
    except (ValueError, TypeError, AttributeError) as e:
        raise typer.BadParameter(f"--degradation-options: {e}") from None


@train_app.command("srgan")
def srgan(
    data: Annotated[Optional[list[Path]], typer.Option(help="Folder of HR training images (repeatable).")] = None,
    val: Annotated[Optional[list[Path]], typer.Option(help="Folder of HR validation images (repeatable).")] = None,
    scale: Annotated[int, typer.Option(help="Upscaling factor: 2, 3 or 4.")] = 4,
    channels: Annotated[int, typer.Option(help="Generator feature channels.")] = 48,
    blocks: Annotated[int, typer.Option(help="Generator residual blocks.")] = 8,
    upsampler: Annotated[str, typer.Option(help="direct (fast) or progressive (MSRResNet).")] = "direct",
    crop: Annotated[int, typer.Option(help="Low-resolution patch size.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 1e-3,
    gan: Annotated[bool, typer.Option("--gan", help="Stage 2: adversarial + perceptual loss.")] = False,
    ema: Annotated[float, typer.Option(help="Decay of the exported EMA weights (lower for short runs).")] = 0.999,
    init: Annotated[Optional[Path], typer.Option(help="Stage-1 checkpoint for --gan.")] = None,
    name: Annotated[str, typer.Option(help="Name of the exported model.")] = "",
    adv_weight: Annotated[float, typer.Option(help="--gan: adversarial loss weight.")] = 0.005,
    perceptual_weight: Annotated[float, typer.Option(help="--gan: perceptual (feature L1) loss weight.")] = 1.0,
    degradation: Annotated[str, typer.Option(help="bicubic (clean downscales) or real (Real-ESRGAN's blur, noise, JPEG pipeline).")] = "bicubic",
    degradation_options: Annotated[str, typer.Option(help="JSON overrides of the real pipeline's ranges (see i2i/data/degradations.py), e.g. '{\"first\": {\"noise_range\": [1, 15]}}'.")] = "",
    sharpen_hr: Annotated[bool, typer.Option("--sharpen-hr", help="Unsharp-mask the HR targets (Real-ESRGAN's USM).")] = False,
    discriminator: Annotated[str, typer.Option(help="--gan discriminator: patchgan, or unet (U-Net with spectral norm, Real-ESRGAN).")] = "patchgan",
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 500,
    eval_every: EvalEvery = 2000, quiet: Quiet = False,
):
    """Train an SR generator: SRResNet with L1, then (--gan) SRGAN.

    Example: i2i train srgan --data hr_photos/ --val Set5/ --scale 4 --max-minutes 90
    """
    from ..training.srgan import SRGANOptions

    options = None
    if resume is None:
        if not data:
            raise typer.BadParameter("--data is required (a folder of high-resolution images)")
        if gan and init is None:
            raise typer.BadParameter("--gan starts from a stage-1 model: pass --init FILE")
        options = SRGANOptions(data=_tuple(data), val=_tuple(val), scale=scale, channels=channels,
                               blocks=blocks, upsampler=upsampler, crop=crop, lr=lr, gan=gan,
                               init=str(init or ""), name=name, ema=ema, batch_size=batch_size or 16,
                               adv_weight=adv_weight, perceptual_weight=perceptual_weight,
                               degradation=degradation, sharpen_hr=sharpen_hr, discriminator=discriminator,
                               real_degradation=_real_degradation(degradation_options))
    _run("srgan", options, steps=steps, default_steps=20000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, quiet=quiet)


@train_app.command("style")
def style(
    style: Annotated[Optional[Path], typer.Option(help="The painting to imitate.")] = None,
    data: Annotated[Optional[list[Path]], typer.Option(help="Folder of content photos (repeatable).")] = None,
    width: Annotated[int, typer.Option(help="TransformerNet base width.")] = 16,
    crop: Annotated[int, typer.Option(help="Training crop size.")] = 192,
    style_size: Annotated[int, typer.Option(help="Long side of the painting for the Gram targets.")] = 384,
    content_weight: Annotated[float, typer.Option(help="Content loss weight.")] = 1.0,
    style_weight: Annotated[float, typer.Option(help="Style loss weight.")] = 10.0,
    tv_weight: Annotated[float, typer.Option(help="Total variation weight.")] = 1e-4,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-3,
    loss_net: Annotated[str, typer.Option(help="efficientnet_lite0 or vgg16.")] = "efficientnet_lite0",
    loss_weights: Annotated[Optional[Path], typer.Option(help="VGG16 weights file for --loss-net vgg16.")] = None,
    name: Annotated[str, typer.Option(help="Style name (model is saved as style-NAME).")] = "",
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 100,
    eval_every: EvalEvery = 0, quiet: Quiet = False,
):
    """Train a fast style-transfer network for one painting.

    Example: i2i train style --style starry_night.jpg --data photos/ --steps 600
    """
    from ..training.style import StyleOptions

    options = None
    if resume is None:
        if style is None or not data:
            raise typer.BadParameter("--style PAINTING and --data PHOTOS are required")
        if not style.is_file():
            raise typer.BadParameter(f"{style}: no such painting file")
        options = StyleOptions(style=str(style), data=_tuple(data), width=width, crop=crop,
                               style_size=style_size, content_weight=content_weight,
                               style_weight=style_weight, tv_weight=tv_weight, lr=lr,
                               loss_net=loss_net, loss_weights=str(loss_weights or ""), name=name,
                               batch_size=batch_size or 4)
    _run("style", options, steps=steps, default_steps=600, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, quiet=quiet)


@train_app.command("pix2pix")
def pix2pix(
    data: Annotated[Optional[Path], typer.Option(help="Aligned dataset (train/ of A|B images) or A/ + B/ folders.")] = None,
    direction: Annotated[str, typer.Option(help="AtoB or BtoA.")] = "AtoB",
    holdout: Annotated[int, typer.Option(help="Hold back the last N images for evaluation.")] = 0,
    num_downs: Annotated[int, typer.Option(help="U-Net depth: 8 = unet_256, 7 = unet_128.")] = 8,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 64,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 64,
    norm: Annotated[str, typer.Option(help="batch or instance.")] = "batch",
    load_size: Annotated[int, typer.Option(help="Resize before the random crop.")] = 286,
    crop: Annotated[int, typer.Option(help="Random crop size.")] = 256,
    lambda_l1: Annotated[float, typer.Option(help="L1 weight.")] = 100.0,
    l1_only: Annotated[bool, typer.Option("--l1-only", help="No adversarial term (the blur baseline).")] = False,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    name: Annotated[str, typer.Option(help="Exported model name.")] = "",
    init: Annotated[Optional[Path], typer.Option(help="Start the generator from this exported model (same architecture).")] = None,
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, quiet: Quiet = False,
):
    """Train pix2pix (U-Net + conditional PatchGAN, L1 + cGAN) on paired images.

    Example: i2i train pix2pix --data facades/ --direction BtoA --ngf 32 --ndf 32 --norm instance
    """
    from ..training.pix2pix import Pix2PixOptions

    options = None
    if resume is None:
        if data is None:
            raise typer.BadParameter("--data is required")
        options = Pix2PixOptions(data=str(data), direction=direction, holdout=holdout,
                                 num_downs=num_downs, ngf=ngf, ndf=ndf, norm=norm,
                                 load_size=load_size, crop=crop, lambda_l1=lambda_l1,
                                 gan=not l1_only, lr=lr, name=name, init=str(init or ""),
                                 batch_size=batch_size or 1)
    _run("pix2pix", options, steps=steps, default_steps=20000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, quiet=quiet)


@train_app.command("cyclegan")
def cyclegan(
    data: Annotated[Optional[Path], typer.Option(help="Folder with trainA/ and trainB/.")] = None,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 64,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 64,
    blocks: Annotated[int, typer.Option(help="Residual blocks (9 or 6).")] = 9,
    load_size: Annotated[int, typer.Option(help="Resize before the random crop.")] = 286,
    crop: Annotated[int, typer.Option(help="Random crop size.")] = 256,
    lambda_cycle: Annotated[float, typer.Option(help="Cycle loss weight.")] = 10.0,
    lambda_identity: Annotated[float, typer.Option(help="Identity weight (relative to cycle).")] = 0.5,
    pool_size: Annotated[int, typer.Option(help="Image history pool size.")] = 50,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    name: Annotated[str, typer.Option(help="Exported name prefix.")] = "",
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, quiet: Quiet = False,
):
    """Train CycleGAN (unpaired, LSGAN, cycle + identity loss, image pool).

    Example: i2i train cyclegan --data monet2photo/ --ngf 16 --blocks 6 --crop 128
    """
    from ..training.cyclegan import CycleGANOptions

    options = None
    if resume is None:
        if data is None:
            raise typer.BadParameter("--data is required")
        options = CycleGANOptions(data=str(data), ngf=ngf, ndf=ndf, blocks=blocks, load_size=load_size,
                                  crop=crop, lambda_cycle=lambda_cycle, lambda_identity=lambda_identity,
                                  pool_size=pool_size, lr=lr, name=name, batch_size=batch_size or 1)
    _run("cyclegan", options, steps=steps, default_steps=20000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, quiet=quiet)


@train_app.command("colorize")
def colorize(
    data: Annotated[Optional[list[Path]], typer.Option(help="Folder of colour photos (repeatable).")] = None,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 32,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 32,
    crop: Annotated[int, typer.Option(help="Random crop size (a multiple of 2**num_downs).")] = 128,
    load_size: Annotated[int, typer.Option(help="Short side photos are resized to.")] = 256,
    num_downs: Annotated[int, typer.Option(help="U-Net depth: 7 = unet_128, 8 = unet_256.")] = 7,
    lambda_l1: Annotated[float, typer.Option(help="L1 weight on ab.")] = 100.0,
    l1_only: Annotated[bool, typer.Option("--l1-only", help="No adversarial term (the desaturated baseline).")] = False,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    name: Annotated[str, typer.Option(help="Exported model name.")] = "colorize",
    init: Annotated[Optional[Path], typer.Option(help="Start the generator from this exported model (same architecture).")] = None,
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, quiet: Quiet = False,
):
    """Train a colorizer (Lab L -> ab, L1 + cGAN) from any folder of colour photos.

    Example: i2i train colorize --data photos/ --max-minutes 120
    """
    from ..training.colorize import ColorizeOptions

    options = None
    if resume is None:
        if not data:
            raise typer.BadParameter("--data is required")
        options = ColorizeOptions(data=_tuple(data), ngf=ngf, ndf=ndf, crop=crop, load_size=load_size,
                                  num_downs=num_downs,
                                  lambda_l1=lambda_l1, gan=not l1_only, lr=lr, name=name,
                                  init=str(init or ""), batch_size=batch_size or 4)
    _run("colorize", options, steps=steps, default_steps=6000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, quiet=quiet)
