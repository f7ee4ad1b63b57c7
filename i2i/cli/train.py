"""`i2i train METHOD`: parse options into the method's dataclass, run the one training loop."""
from __future__ import annotations

import json
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import (BatchSize, CheckpointMinutes, Deterministic, Device, EvalEvery, MaxMinutes, Quiet,
                      Resume, RunDir, SampleEvery, Seed, Steps, TensorBoard, Threads, TrainPrecision,
                      Workers)

train_app = typer.Typer(help="Train a model. Example: i2i train srgan --data photos/ --scale 4\n\n"
                             "Exit code 0: all steps done; 3: stopped by --max-minutes first; "
                             "128 + the signal's number when stopped by a signal (130 Ctrl-C, "
                             "143 SIGTERM, 129 SIGHUP); 2: usage or data error. A stopped run "
                             "keeps its checkpoint and exported model: --resume RUN_DIR continues.",
                        no_args_is_help=True, rich_markup_mode=None)
# Exit code of a run that reached its --max-minutes budget before its last step.
STOPPED_BY_BUDGET = 3
app.add_typer(train_app, name="train")


def _command() -> str:
    return shlex.join(["i2i", *sys.argv[1:]])


def _run(method: str, options, *, steps, default_steps, seed, device, precision, deterministic,
         workers, threads,
         max_minutes, run_dir, resume, sample_every, eval_every, quiet,
         checkpoint_minutes: float | None = None, tensorboard: bool | None = None):
    from ..training.api import resume as resume_run
    from ..training.api import train
    from ..training.loop import LoopOptions, TrainingAborted
    from .render import TrainingDisplay

    run_dir = resume or run_dir or Path("runs") / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        with TrainingDisplay(quiet) as display:
            if resume is not None:
                result = resume_run(resume, max_minutes=max_minutes, steps=steps,
                                    checkpoint_minutes=checkpoint_minutes, tensorboard=tensorboard,
                                    command=_command(), on_event=display)
            else:
                loop = LoopOptions(steps=steps or default_steps, seed=seed, device=device, precision=precision,
                                   deterministic=deterministic, workers=workers,
                                   max_minutes=max_minutes, threads=threads, sample_every=sample_every,
                                   eval_every=eval_every,
                                   checkpoint_minutes=3.0 if checkpoint_minutes is None else checkpoint_minutes,
                                   tensorboard=bool(tensorboard))
                result = train(method, options, loop, run_dir, command=_command(), on_event=display)
    except TrainingAborted as e:
        _stop(f"interrupted by a second {e}: stopped at once, this step not saved; "
              f"--resume {run_dir} continues from the last checkpoint", 128 + e.signum)
    for path in result.exported:
        print(path)
    where = f"step {result.step} of {_planned(result.run_dir)}"
    if result.finished:
        _stop(f"{method}: finished at {where}; run directory {result.run_dir}", 0)
    again = f"continue with: i2i train {method} --resume {result.run_dir}"
    if result.stopped_by == "max_minutes":
        _stop(f"{method}: stopped by --max-minutes at {where}; model exported; {again}", STOPPED_BY_BUDGET)
    if result.stopped_by in signal.Signals.__members__:
        _stop(f"{method}: interrupted by {result.stopped_by} at {where}; checkpoint and model saved; {again}",
              128 + signal.Signals[result.stopped_by])
    # A torchrun process that stopped because another one did.
    _stop(f"{method}: stopped with the other processes at {where}; {again}", 1)


def _planned(run_dir: Path) -> int:
    return json.loads((run_dir / "run.json").read_text())["loop"]["steps"]


def _stop(message: str, code: int):
    """The run's one closing line on stderr, then its exit code (0 only for a finished run).
    SystemExit, not typer.Exit: main() adds its own "interrupted" line to a bare exit code 130."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


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
    eval_every: EvalEvery = 2000, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
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
         sample_every=sample_every, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes,
         tensorboard=tensorboard, quiet=quiet)


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
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
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
         sample_every=sample_every, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes,
         tensorboard=tensorboard, quiet=quiet)


@train_app.command("pix2pix")
def pix2pix(
    data: Annotated[Optional[Path], typer.Option(help="Aligned dataset (train/ of A|B images) or A/ + B/ folders.")] = None,
    direction: Annotated[str, typer.Option(help="AtoB or BtoA.")] = "AtoB",
    holdout: Annotated[int, typer.Option(help="Hold back the last N images for evaluation.")] = 0,
    num_downs: Annotated[int, typer.Option(help="U-Net depth: 8 = unet_256, 7 = unet_128.")] = 8,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 64,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 64,
    norm: Annotated[str, typer.Option(help="batch or instance.")] = "batch",
    upsample: Annotated[str, typer.Option(help="Generator x2 steps: transposed (the reference's) or resize (nearest x2 + 3x3 conv, no checkerboard).")] = "transposed",
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
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
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
                                 num_downs=num_downs, ngf=ngf, ndf=ndf, norm=norm, upsample=upsample,
                                 load_size=load_size, crop=crop, lambda_l1=lambda_l1,
                                 gan=not l1_only, lr=lr, name=name, init=str(init or ""),
                                 batch_size=batch_size or 1)
    _run("pix2pix", options, steps=steps, default_steps=20000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes,
         tensorboard=tensorboard, quiet=quiet)


@train_app.command("cyclegan")
def cyclegan(
    data: Annotated[Optional[Path], typer.Option(help="Folder with trainA/ and trainB/.")] = None,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 64,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 64,
    blocks: Annotated[int, typer.Option(help="Residual blocks (9 or 6).")] = 9,
    upsample: Annotated[str, typer.Option(help="Generator x2 steps: transposed (the reference's) or resize (nearest x2 + 3x3 conv, no checkerboard).")] = "transposed",
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
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
):
    """Train CycleGAN (unpaired, LSGAN, cycle + identity loss, image pool).

    Example: i2i train cyclegan --data monet2photo/ --ngf 16 --blocks 6 --crop 128
    """
    from ..training.cyclegan import CycleGANOptions

    options = None
    if resume is None:
        if data is None:
            raise typer.BadParameter("--data is required")
        options = CycleGANOptions(data=str(data), ngf=ngf, ndf=ndf, blocks=blocks, upsample=upsample,
                                  load_size=load_size,
                                  crop=crop, lambda_cycle=lambda_cycle, lambda_identity=lambda_identity,
                                  pool_size=pool_size, lr=lr, name=name, batch_size=batch_size or 1)
    _run("cyclegan", options, steps=steps, default_steps=20000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes,
         tensorboard=tensorboard, quiet=quiet)


@train_app.command("colorize")
def colorize(
    data: Annotated[Optional[list[Path]], typer.Option(help="Folder of colour photos (repeatable).")] = None,
    ngf: Annotated[int, typer.Option(help="Generator filters.")] = 32,
    ndf: Annotated[int, typer.Option(help="Discriminator filters.")] = 32,
    crop: Annotated[int, typer.Option(help="Random crop size (a multiple of 2**num_downs).")] = 128,
    load_size: Annotated[int, typer.Option(help="Short side photos are resized to.")] = 256,
    num_downs: Annotated[int, typer.Option(help="U-Net depth: 7 = unet_128, 8 = unet_256.")] = 7,
    upsample: Annotated[str, typer.Option(help="Generator x2 steps: transposed (the reference's) or resize (nearest x2 + 3x3 conv, no checkerboard).")] = "transposed",
    lambda_l1: Annotated[float, typer.Option(help="L1 weight on ab.")] = 100.0,
    l1_only: Annotated[bool, typer.Option("--l1-only", help="No adversarial term (the desaturated baseline).")] = False,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    name: Annotated[str, typer.Option(help="Exported model name.")] = "colorize",
    init: Annotated[Optional[Path], typer.Option(help="Start the generator from this exported model (same architecture).")] = None,
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
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
                                  num_downs=num_downs, upsample=upsample,
                                  lambda_l1=lambda_l1, gan=not l1_only, lr=lr, name=name,
                                  init=str(init or ""), batch_size=batch_size or 4)
    _run("colorize", options, steps=steps, default_steps=6000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume,
         sample_every=sample_every, eval_every=eval_every, checkpoint_minutes=checkpoint_minutes,
         tensorboard=tensorboard, quiet=quiet)


@train_app.command("dcgan")
def dcgan(
    data: Annotated[Optional[list[Path]], typer.Option(help="Folder of training photos (repeatable).")] = None,
    size: Annotated[int, typer.Option(help="Image side: 64 or 128 (a power of two, 32 to 256).")] = 64,
    z_dim: Annotated[int, typer.Option(help="Latent vector length.")] = 100,
    ngf: Annotated[int, typer.Option(help="Generator filters in its last hidden layer.")] = 64,
    ndf: Annotated[int, typer.Option(help="Discriminator filters in its first layer.")] = 64,
    load_size: Annotated[int, typer.Option(help="Short side photos are resized to before the random crop (0 = size * 9/8).")] = 0,
    lr: Annotated[float, typer.Option(help="Adam learning rate (beta1 0.5).")] = 2e-4,
    name: Annotated[str, typer.Option(help="Exported model name (default: dcgan-DATAFOLDER).")] = "",
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 1, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
):
    """Train a DCGAN (unconditional: latent vector -> image) on a folder of photos.

    Example: i2i train dcgan --data landscapes/ --size 64 --ngf 32 --ndf 32
    """
    from ..training.dcgan import DCGANOptions

    options = None
    if resume is None:
        if not data:
            raise typer.BadParameter("--data is required (a folder of photos)")
        options = DCGANOptions(data=_tuple(data), size=size, z_dim=z_dim, ngf=ngf, ndf=ndf,
                               load_size=load_size, lr=lr, name=name, batch_size=batch_size or 128)
    _run("dcgan", options, steps=steps, default_steps=5000, seed=seed, device=device, workers=workers,
         precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume, sample_every=sample_every,
         eval_every=eval_every, checkpoint_minutes=checkpoint_minutes, tensorboard=tensorboard,
         quiet=quiet)


@train_app.command("dcgan-encoder")
def dcgan_encoder(
    generator: Annotated[Optional[str], typer.Option(help="The DCGAN generator to invert (file or shipped name).")] = None,
    ndf: Annotated[int, typer.Option(help="Encoder filters in its first layer.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-4,
    image_weight: Annotated[float, typer.Option(help="Weight of the reconstruction MSE beside the latent MSE.")] = 1.0,
    name: Annotated[str, typer.Option(help="Exported model name (default: GENERATOR-encoder).")] = "",
    batch_size: BatchSize = None, steps: Steps = None, seed: Seed = 0, device: Device = "auto",
    precision: TrainPrecision = "auto", deterministic: Deterministic = False,
    workers: Workers = 0, threads: Threads = 0, max_minutes: MaxMinutes = None,
    run_dir: RunDir = None, resume: Resume = None, sample_every: SampleEvery = 200,
    eval_every: EvalEvery = 0, checkpoint_minutes: CheckpointMinutes = None,
    tensorboard: TensorBoard = None, quiet: Quiet = False,
):
    """Train an image -> latent encoder for a DCGAN generator on generated pairs (for i2i invert).

    Example: i2i train dcgan-encoder --generator dcgan-landscapes --steps 2000
    """
    from ..training.dcgan import DCGANEncoderOptions

    options = None
    if resume is None:
        if not generator:
            raise typer.BadParameter("--generator is required (a DCGAN checkpoint or shipped name)")
        options = DCGANEncoderOptions(generator=generator, ndf=ndf, lr=lr, image_weight=image_weight,
                                      name=name, batch_size=batch_size or 64)
    _run("dcgan-encoder", options, steps=steps, default_steps=2000, seed=seed, device=device,
         workers=workers, precision=precision, deterministic=deterministic, threads=threads,
         max_minutes=max_minutes, run_dir=run_dir, resume=resume, sample_every=sample_every,
         eval_every=eval_every, checkpoint_minutes=checkpoint_minutes, tensorboard=tensorboard,
         quiet=quiet)
