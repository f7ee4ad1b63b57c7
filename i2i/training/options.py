"""Every training option, declared once: its type, default and help text (torch-free).

Each method's options are a frozen dataclass; the loop's are LoopOptions. A field's metadata
carries its help text, and `i2i train METHOD` builds its command-line options from these fields
(cli/train.py), so a default or a help line is changed here and nowhere else. Metadata keys:

    help   the help text (the command line's, and the field's documentation)
    cli    False: a library-only option, not on the command line
    flag   the command-line spelling when it is not --field-name; for a bool field, a switch
           that flips the default (--l1-only sets gan=False)
    path   a str field given as a file or folder path
    json   a nested options dataclass given as JSON overrides of its defaults
    resume on the command line, None means "the default, or with --resume the run's"
    min    the smallest value the command line accepts

The options are stored in run.json (resume) and in exported models' metadata.
"""

from dataclasses import dataclass
from typing import Literal, get_args

from ..engine.options import option


def _real_degradation():
    from ..data.degradations import RealDegradation  # imports torch: only when an SRGANOptions is made

    return RealDegradation()


# archs/upsampling.py's Upsample, repeated here so that option parsing does not import torch.
Upsample = Literal["transposed", "resize", "bilinear"]
ColorizeGenerator = Literal["unet", "lite0_unet"]  # registry ids of the generators colorize trains
ColorizeLoss = Literal["l1", "classification"]
CycleGANDiscriminator = Literal[
    "patchgan", "projected", "projected+patchgan"
]  # archs: patchgan, projected_discriminator


def _check_upsample(value: str) -> None:
    """The U-Net and ResNet generators' x2 steps (archs/upsampling.py's UPSAMPLE_MODES)."""
    if value not in get_args(Upsample):
        from ..errors import UsageError

        raise UsageError(f"--upsample must be one of {', '.join(get_args(Upsample))}, not {value!r}")


def upsample_option():
    """The U-Net and ResNet generators' x2 steps (pix2pix, cyclegan, colorize)."""
    return option(
        "transposed",
        "Generator x2 steps: transposed (the reference's), resize (nearest x2 + 3x3 conv, no "
        "checkerboard; Odena et al. 2016) or bilinear (bilinear x2 + 3x3 conv).",
    )


def full_res_option():
    """The U-Net's hidden full-resolution layer (archs/unet.py; pix2pix, colorize)."""
    return option(
        0,
        "Channels of a hidden full-resolution layer before the U-Net's output convolution, e.g. the "
        "--ngf value (0: none, as in the pix2pix paper's U-Net); lets resize/bilinear decoders draw "
        "pixel-level texture.",
    )


def grid_weight_option(default: float, used: str):
    """The spectral penalty on a generator's periodic upsampling grid (losses.grid_excess; pix2pix,
    srgan). `used`: what the shipped models used, for the help."""
    return option(
        default,
        "Weight of a penalty on a periodic grid in the output (the artifact of the generator's x2 or "
        "pixel-shuffle steps): its spectral power at the --grid-period grid's frequencies divided by the "
        f"ground truth's, less 1, 0 when it holds no more than the truth (after Durall et al., CVPR 2020). {used}",
        min=0.0,
    )


def grid_period_option():
    return option(
        8,
        "Period in pixels of the grid that --grid-weight penalises; its harmonics include those of every "
        "even period dividing it: 2 is the checkerboard of the last x2 step, 8 the grids of the last three.",
    )


def _check_grid_period(period: int) -> None:
    if period < 2 or period % 2:
        from ..errors import UsageError

        raise UsageError(f"--grid-period must be even and 2 or more, not {period}")


def _check_unet_options(upsample: str, full_res_channels: int) -> None:
    _check_upsample(upsample)
    if full_res_channels < 0:
        from ..errors import UsageError

        raise UsageError(f"--full-res-channels must be 0 or more, not {full_res_channels}")


@dataclass(frozen=True, kw_only=True)
class LoopOptions:
    """The one training loop's options, shared by every method (training/loop.py)."""

    steps: int = option(
        1000, "Total training steps (default: the method's); with --resume, extends the run to this many.", resume=True
    )
    seed: int = option(0, "Random seed (weights, data order, augmentation).")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps (auto = CUDA when present).")
    precision: str = option("auto", "auto (bf16 autocast on CUDA GPUs that have it, else fp32), fp32 or bf16.")
    deterministic: bool = option(
        False, "Deterministic kernels (can be slower on CUDA): a resumed run repeats an uninterrupted one exactly."
    )
    workers: int = option(1, "Data loading worker processes.")
    threads: int = option(0, "CPU threads for torch (0 = torch's default).")
    max_minutes: float | None = option(None, "Stop cleanly with a checkpoint after this many minutes.")
    sample_every: int = option(200, "Steps between sample grids and curve refreshes.")
    eval_every: int = option(0, "Steps between validations (0 = at the end only).")
    checkpoint_minutes: float = option(
        3.0,
        "Minutes between resumable checkpoints (default 3; 0 = after every step); with --resume, replaces the run's.",
        resume=True,
        min=0.0,
    )
    tensorboard: bool = option(
        False,
        "Also write TensorBoard event files to RUN_DIR/tensorboard (needs: pip "
        "install 'i2i[tensorboard]'); with --resume, default: as the run did.",
        resume=True,
        flag="--tensorboard/--no-tensorboard",
    )
    keep_checkpoints: int = option(3, "Resumable checkpoints kept in the run directory.", cli=False)
    log_every: int = option(10, "Steps between metrics.jsonl lines.", cli=False)


@dataclass(frozen=True, kw_only=True)
class SRGANOptions:
    """Super-resolution: stage 1 SRResNet with L1, stage 2 (gan=True) SRGAN (training/srgan.py)."""

    data: tuple[str, ...] = option(help="Folder of HR training images (repeatable).")
    val: tuple[str, ...] = option((), "Folder of HR validation images (repeatable).")
    scale: int = option(4, "Upscaling factor: 2, 3 or 4.")
    channels: int = option(48, "Generator feature channels.")
    blocks: int = option(8, "Generator residual blocks.")
    upsampler: str = option("direct", "direct (fast) or progressive (MSRResNet).")
    crop: int = option(32, "Low-resolution patch size.")
    batch_size: int = option(16, "Patches per step.")
    lr: float = option(1e-3, "Peak learning rate (cosine decay).")
    gan: bool = option(False, "Stage 2: adversarial + perceptual loss.")
    ema: float = option(0.999, "Decay of the exported EMA weights (lower for short runs).")
    init: str = option("", "Stage-1 checkpoint for --gan.", path=True)
    name: str = option("", "Name of the exported model.")
    pixel_weight: float = option(1.0, "L1 weight (stage 2 keeps some to stay tied to the target).", cli=False)
    adv_weight: float = option(0.005, "--gan: adversarial loss weight.")
    perceptual_weight: float = option(1.0, "--gan: perceptual loss weight.")
    perceptual_loss: Literal["l1", "lpips"] = option(
        "l1",
        "--gan: how loss-network features are compared: l1 (SRGAN/ESRGAN's feature L1) or lpips (each "
        "position's features unit-normalised over channels, squared difference: LPIPS's form, Zhang et "
        "al. CVPR 2018, which weighs every layer alike whatever its activation scale).",
    )
    loss_net: str = option("efficientnet_lite0", "Perceptual loss network.", cli=False)
    degradation: Literal["bicubic", "real"] = option(
        "bicubic", "bicubic (clean downscales) or real (Real-ESRGAN's blur, noise, JPEG pipeline)."
    )
    real_degradation: "RealDegradation" = option(  # noqa: F821 (data/degradations.py; imports torch)
        help="JSON overrides of the real pipeline's ranges (see i2i/data/degradations.py), e.g. "
        '\'{"first": {"noise_range": [1, 15]}}\'.',
        default_factory=_real_degradation,
        flag="--degradation-options",
        json=True,
    )
    sharpen_hr: bool = option(False, "Unsharp-mask the HR targets (Real-ESRGAN's USM).")
    discriminator: Literal["patchgan", "unet"] = option(
        "patchgan", "--gan discriminator: patchgan, or unet (U-Net with spectral norm, Real-ESRGAN)."
    )
    grid_weight: float = grid_weight_option(
        1.0,
        "Without it a GAN stage paints a dot grid at the pixel shuffle's 2- and 4-pixel periods (its "
        "loss networks are blind to it); 0 turns it off.",
    )
    grid_period: int = grid_period_option()

    def __post_init__(self):
        from ..errors import UsageError

        if self.degradation not in ("bicubic", "real"):
            raise UsageError(f"--degradation must be bicubic or real, not {self.degradation!r}")
        if self.discriminator not in ("patchgan", "unet"):
            raise UsageError(f"--discriminator must be patchgan or unet, not {self.discriminator!r}")
        _check_grid_period(self.grid_period)
        if self.perceptual_loss not in ("l1", "lpips"):
            raise UsageError(f"--perceptual-loss must be l1 or lpips, not {self.perceptual_loss!r}")
        if isinstance(self.real_degradation, dict):  # read back from run.json on resume
            from ..data.degradations import RealDegradation

            object.__setattr__(self, "real_degradation", RealDegradation.from_dict(self.real_degradation))


@dataclass(frozen=True, kw_only=True)
class StyleOptions:
    """Fast style transfer: a TransformerNet for one painting (training/style.py)."""

    style: str = option(help="The painting to imitate.", path=True)
    data: tuple[str, ...] = option(help="Folder of content photos (repeatable).")
    width: int = option(16, "TransformerNet base width.")  # pytorch/examples uses 32; 16 is ~4x cheaper
    res_blocks: int = option(5, "Residual blocks.", cli=False)
    upsample: str = option(
        "bilinear",
        "TransformerNet x2 steps: bilinear (bilinear x2 + 3x3 conv) or resize (nearest x2 + 3x3 conv, "
        "pytorch/examples' layer).",
    )
    crop: int = option(192, "Training crop size.")
    style_size: int = option(384, "Long side of the painting for the Gram targets.")
    style_scales: tuple[float, ...] = option(
        (1.0,),
        "Sizes of the painting for the Gram targets, as fractions of --style-size (repeatable); "
        "several give a multi-scale target, the mean of their Gram matrices.",
        flag="--style-scale",
    )
    grid_weight: float = option(
        0.05,
        "Weight of a penalty on a 4-pixel grid in the output: its spectral power at that grid's "
        "frequencies divided by the photo's, less 1, 0 when it holds no more than the photo (after Durall "
        "et al., CVPR 2020). The TransformerNet otherwise buys fine Gram statistics with a periodic "
        "hatching; lower it for a painting whose own texture has that period (starry-night used 0.01).",
        min=0.0,
    )
    smooth_activations: bool = option(
        False,
        "Softmax each loss-network feature map before its Gram matrix (SWAG, Wang et al., CVPR 2021): "
        "transfers texture through non-VGG loss networks.",
    )
    batch_size: int = option(4, "Photos per step.")
    content_weight: float = option(1.0, "Content loss weight.")
    style_weight: float = option(10.0, "Style loss weight.")
    tv_weight: float = option(1e-4, "Total variation weight.")  # on 0-255 images
    lr: float = option(2e-3, "Adam learning rate.")
    content_layer: int = option(2, "Index of the loss network feature used for content.", cli=False)
    loss_net: str = option("efficientnet_lite0", "efficientnet_lite0 or vgg16.")
    loss_weights: str = option("", "VGG16 weights file for --loss-net vgg16.", path=True)
    name: str = option("", "Style name (model is saved as style-NAME).")

    def __post_init__(self):
        if self.upsample not in ("resize", "bilinear"):
            from ..errors import UsageError

            raise UsageError(f"--upsample must be resize or bilinear for a style, not {self.upsample!r}")


@dataclass(frozen=True, kw_only=True)
class Pix2PixOptions:
    """pix2pix: U-Net generator, conditional PatchGAN, L1 + cGAN (training/pix2pix.py)."""

    data: str = option(help="Aligned dataset (train/ of A|B images) or A/ + B/ folders.", path=True)
    direction: str = option("AtoB", "AtoB or BtoA.")
    holdout: int = option(0, "Hold back the last N images for evaluation.")  # natural name order; never trained on
    num_downs: int = option(8, "U-Net depth: 8 = unet_256, 7 = unet_128.")
    ngf: int = option(64, "Generator filters.")
    ndf: int = option(64, "Discriminator filters.")
    n_layers: int = option(
        3,
        "PatchGAN layers: 3 = 70x70 patches (the paper's), 2 = 34x34, 1 = 16x16 (sharper, may tile; "
        "Isola et al. 2017, table 3).",
        flag="--d-layers",
        min=1,
    )
    norm: str = option("batch", "batch or instance.")
    dropout: bool = option(True, "Dropout in the U-Net decoder.", cli=False)
    upsample: Upsample = upsample_option()
    full_res_channels: int = full_res_option()
    load_size: int = option(286, "Resize before the random crop.")
    crop: int = option(256, "Random crop size.")
    batch_size: int = option(1, "Pairs per step.")
    lambda_l1: float = option(100.0, "L1 weight.")
    gan: bool = option(True, "No adversarial term (the blur baseline).", flag="--l1-only")
    gan_mode: str = option("vanilla", "vanilla or lsgan.", cli=False)
    grid_weight: float = grid_weight_option(0.0, "0: the paper's losses alone; the shipped facades model used 1.")
    grid_period: int = grid_period_option()
    spectrum_weight: float = option(
        0.0,
        "Weight of an L1 distance between the log azimuthal power spectra of output and ground truth "
        "(Durall et al., CVPR 2020): asks for the truth's amount of fine detail, not only its place.",
        min=0.0,
    )
    lr: float = option(2e-4, "Adam learning rate.")
    name: str = option("", "Exported model name.")
    init: str = option("", "Start the generator from this exported model (same architecture).", path=True)

    def __post_init__(self):
        _check_unet_options(self.upsample, self.full_res_channels)
        _check_grid_period(self.grid_period)


@dataclass(frozen=True, kw_only=True)
class CycleGANOptions:
    """CycleGAN: unpaired, LSGAN, cycle + identity loss, image pool (training/cyclegan.py)."""

    data: str = option(help="Folder with trainA/ and trainB/.", path=True)
    ngf: int = option(64, "Generator filters.")
    ndf: int = option(64, "Discriminator filters.")
    blocks: int = option(9, "Residual blocks (9 or 6).")
    n_layers: int = option(3, "PatchGAN layers.", cli=False)
    norm: str = option("instance", "instance or batch.", cli=False)
    upsample: Upsample = upsample_option()
    input_skip: bool = option(
        False,
        "The generators' output convolution also sees the input image (archs/resnet.py): the colours "
        "instance norm takes away are one convolution away, so the cycle and identity losses are met "
        "in far fewer steps.",
    )
    discriminator: CycleGANDiscriminator = option(
        "patchgan",
        "patchgan (the paper's 70x70 PatchGAN, LSGAN loss) or projected (small heads on a frozen ImageNet "
        "EfficientNet-Lite0 at four scales, hinge loss, differentiable augmentation: Sauer et al., NeurIPS "
        "2021; archs/projected_discriminator.py) or projected+patchgan (both, their losses added). --ndf is "
        "the width of each.",
    )
    augment: str = option(
        "color,translation,cutout",
        "projected (and projected+patchgan): DiffAugment policy applied to real and generated images before the discriminator "
        "(comma-separated: color, translation, cutout; empty for none; Zhao et al. 2020).",
    )
    load_size: int = option(286, "Resize before the random crop.")
    crop: int = option(256, "Random crop size.")
    batch_size: int = option(1, "Images per domain per step.")
    lambda_cycle: float = option(10.0, "Cycle loss weight.")
    lambda_identity: float = option(0.5, "Identity weight (relative to cycle).")
    adv_weight: float = option(1.0, "Weight of the generators' adversarial loss.")
    adv_warmup: int = option(
        0,
        "Steps over which the adversarial weight ramps linearly from 0 to --adv-weight: the cycle and "
        "identity losses first make each generator copy its input, so the discriminator then changes a "
        "picture's style rather than inventing one from noise.",
        min=0,
    )
    pool_size: int = option(50, "Image history pool size.")
    lr: float = option(2e-4, "Adam learning rate.")
    ema: float = option(
        0.0,
        "Decay of an exponential moving average of each generator's weights, which is then what the "
        "samples show and the export holds (0 = off, the raw weights); e.g. 0.999 against the swings "
        "of a batch-1 GAN between checkpoints (Yazici et al. 2019).",
        min=0.0,
        max=0.9999,
    )
    name: str = option("", "Exported name prefix.")  # NAME-AtoB, NAME-BtoA

    def __post_init__(self):
        from ..errors import UsageError

        _check_upsample(self.upsample)
        if self.discriminator not in get_args(CycleGANDiscriminator):
            choices = ", ".join(get_args(CycleGANDiscriminator))
            raise UsageError(f"--discriminator must be one of {choices}, not {self.discriminator!r}")
        unknown = [p for p in self.augment_policy if p not in ("color", "translation", "cutout")]
        if unknown:
            raise UsageError(f"--augment: unknown {', '.join(unknown)}; use color, translation, cutout")
        if self.discriminator != "patchgan" and self.crop % 32:
            raise UsageError(
                f"--discriminator {self.discriminator} needs a --crop that is a multiple of 32, not {self.crop}"
            )

    @property
    def augment_policy(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.augment.split(",") if p.strip())


@dataclass(frozen=True, kw_only=True)
class ColorizeOptions:
    """Colorization: Lab L -> ab with pix2pix's networks, L1 + cGAN (training/colorize.py)."""

    data: tuple[str, ...] = option(help="Folder of colour photos (repeatable).")  # grayscale ones are skipped
    arch: ColorizeGenerator = option(
        "unet",
        "Generator: unet (pix2pix's U-Net, trained from scratch; --num-downs, --upsample, "
        "--full-res-channels) or lite0_unet (a U-Net decoder on the ImageNet EfficientNet-Lite0, "
        "frozen unless --finetune-encoder; archs/lite0_unet.py, issue 35).",
    )
    ngf: int = option(32, "Generator filters (unet: its first layer; lite0_unet: the decoder's width).")
    ndf: int = option(32, "Discriminator filters.")
    finetune_encoder: bool = option(False, "lite0_unet: train the ImageNet encoder too (default: frozen).")
    global_features: bool = option(
        True,
        "lite0_unet: no fusion of the classifier head's image-wide features into the bottleneck (Iizuka et al. 2016).",
        flag="--no-global-features",
    )
    crop: int = option(128, "Random crop size (a multiple of 2**num_downs, of 32 for lite0_unet).")
    load_size: int = option(256, "Short side photos are resized to.")  # match `colorize --render-size`
    num_downs: int = option(7, "U-Net depth: 7 = unet_128, 8 = unet_256.")
    n_layers: int = option(3, "PatchGAN layers.", cli=False)
    norm: str = option("instance", "instance or batch.", cli=False)
    dropout: bool = option(False, "Dropout in the U-Net decoder.", cli=False)
    upsample: Upsample = upsample_option()
    full_res_channels: int = full_res_option()
    batch_size: int = option(4, "Photos per step.")
    loss: ColorizeLoss = option(
        "l1",
        "l1: regress ab (L1, + cGAN unless --l1-only); classification (lite0_unet, --l1-only): "
        "cross-entropy over the training photos' in-gamut ab cells of 10x10, soft-encoded targets, "
        "decoded by the annealed mean at --temperature (Zhang et al., ECCV 2016).",
    )
    temperature: float = option(
        0.38,
        "--loss classification: the exported model's annealed-mean temperature, 1 (the mean: "
        "faithful, duller) to near 0 (the mode: colourful); the paper's 0.38.",
    )
    lambda_l1: float = option(100.0, "L1 weight on ab.")
    rebalance: float = option(
        0.0,
        "Class rebalancing of the L1 term (or of the cross-entropy with --loss classification), 0 (off) "
        "to 1 (full): each pixel weighted by 1 / (r p(ab) + (1-r)/Q), p the training photos' ab "
        "distribution over Q cells, so rare saturated colours count more than common dull ones "
        "(Zhang et al., ECCV 2016, use r = 0.5).",
    )
    ema: float = option(
        0.0,
        "Decay of an exponential moving average of the generator's weights, which is then what is "
        "validated and exported (0 = off, the raw weights).",
    )
    holdout: int = option(
        0,
        "Photos held out of training (N spread evenly over the folders) to validate on; the run keeps "
        "the best evaluation's model in RUN/best/ (see --eval-every).",
    )
    gan: bool = option(True, "No adversarial term (the desaturated baseline).", flag="--l1-only")
    gan_mode: str = option("vanilla", "vanilla or lsgan.", cli=False)
    lr: float = option(2e-4, "Adam learning rate.")
    name: str = option("colorize", "Exported model name.")
    init: str = option(
        "",
        "Start the generator from this exported model (same architecture; a classifier keeps its ab classes).",
        path=True,
    )

    def __post_init__(self):
        _check_unet_options(self.upsample, self.full_res_channels)
        if self.arch not in get_args(ColorizeGenerator):
            from ..errors import UsageError

            raise UsageError(f"--arch must be one of {', '.join(get_args(ColorizeGenerator))}, not {self.arch!r}")
        if self.arch == "lite0_unet" and self.crop % 32:
            from ..errors import UsageError

            raise UsageError(f"--crop must be a multiple of 32 for lite0_unet, not {self.crop}")
        if self.loss not in get_args(ColorizeLoss):
            from ..errors import UsageError

            raise UsageError(f"--loss must be one of {', '.join(get_args(ColorizeLoss))}, not {self.loss!r}")
        if self.loss == "classification" and (self.arch != "lite0_unet" or self.gan):
            from ..errors import UsageError

            raise UsageError("--loss classification needs --arch lite0_unet and --l1-only (it has no cGAN term)")
        if not self.temperature > 0:
            from ..errors import UsageError

            raise UsageError(f"--temperature must be above 0, not {self.temperature}")


@dataclass(frozen=True, kw_only=True)
class DCGANOptions:
    """DCGAN: latent vector -> image, unconditional (training/dcgan.py)."""

    data: tuple[str, ...] = option(help="Folder of training photos (repeatable).")
    size: int = option(64, "Image side: 64 or 128 (a power of two, 32 to 256).")
    z_dim: int = option(100, "Latent vector length.")
    ngf: int = option(64, "Generator filters in its last hidden layer.")
    ndf: int = option(64, "Discriminator filters in its first layer.")
    load_size: int = option(0, "Short side photos are resized to before the random crop (0 = size * 9/8).")
    batch_size: int = option(128, "Images per step (the paper's 128).")
    lr: float = option(2e-4, "Adam learning rate (beta1 0.5).")
    beta1: float = option(0.5, "Adam beta1 (the paper lowers it from 0.9 for stability).", cli=False)
    name: str = option("", "Exported model name (default: dcgan-DATAFOLDER).")


@dataclass(frozen=True, kw_only=True)
class DCGANEncoderOptions:
    """An image -> latent encoder for a trained DCGAN generator (training/dcgan.py)."""

    generator: str = option(help="The DCGAN generator to invert (file or shipped name).")
    ndf: int = option(64, "Encoder filters in its first layer.")
    batch_size: int = option(64, "Generated pairs per step.")
    lr: float = option(2e-4, "Adam learning rate.")
    image_weight: float = option(1.0, "Weight of the reconstruction MSE beside the latent MSE.")
    name: str = option("", "Exported model name (default: GENERATOR-encoder).")
