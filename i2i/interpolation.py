"""Network interpolation: blend the weights of two models of one architecture.

ESRGAN (Wang et al., ECCV Workshops 2018, section 3.4) interpolates a PSNR-oriented network and
its GAN fine-tuned version, theta = (1 - alpha) * theta_GAN + alpha * theta_PSNR, to trade
perceptual texture for cleanliness continuously and without retraining; Real-ESRGAN's `-dn`
does the same between a denoising model and a weakly denoising one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .checkpoint import LoadedModel
from .errors import CheckpointError, UsageError


def interpolate(a: LoadedModel, b: LoadedModel, alpha: float) -> LoadedModel:
    """A model with weights (1 - alpha) * a + alpha * b; alpha 0 is `a` exactly, 1 is `b` exactly.

    Both must share architecture and options. Raises CheckpointError otherwise, UsageError for
    alpha outside [0, 1].
    """
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"the interpolation weight must be within 0..1, not {alpha}")
    return blend([a, b], [1 - alpha, alpha])


def with_denoise(model: LoadedModel, denoise: float, find) -> LoadedModel:
    """The real-world GAN model blended towards its PSNR stage: denoise 0 is the GAN model
    (most texture), 1 its PSNR stage (cleanest). `find(name)` resolves the PSNR stage's name,
    which the GAN model records in its metadata (training.psnr_stage)."""
    partner = model.info.training.get("psnr_stage", "")
    if not partner:
        raise UsageError(
            f"--denoise needs a real-world GAN model that names its PSNR stage; "
            f"{model.path} does not (use upscale-x4-real)"
        )
    from .checkpoint import load_model

    return interpolate(model, load_model(stage_path(model.path, partner, find)), denoise)


def stage_path(model_path, name: str, find) -> Path:
    """The file of a model that another names in its metadata (its psnr_stage, portrait_stage):
    the file NAME.safetensors beside it (a pair of candidates in one folder), else find(name)
    (models.resolve: weights/). Raises CheckpointError when neither has it."""
    beside = Path(model_path).with_name(f"{name}.safetensors")
    return beside if model_path and beside.is_file() else Path(find(name))


# The shipped x4 models that `i2i upscale --denoise` blends, as (clean, psnr, gan): the clean
# bicubic-trained model (most detail on clean inputs), the real-world PSNR stage (removes blur,
# noise and JPEG) and its GAN stage (texture). All three share one architecture, so any weighted
# sum of them is a network.
SR_BLEND = ("upscale-x4", "upscale-x4-real-psnr", "upscale-x4-real")
# Blend weights are rounded to this step, so that a folder of photos needs a few blended networks
# (each exported and measured once by the engine), not one per photo.
WEIGHT_STEP = 0.125


def blend(models, weights) -> LoadedModel:
    """The network sum(w * model) over models of one architecture and options (weights >= 0,
    summing to 1; a weight of 1 returns that model itself): with checkpoints of one run, a model
    soup (Wortsman et al., ICML 2022); with a model and its fine-tune, WiSE-FT (Wortsman et al.,
    CVPR 2022). Its metadata is the first model's, but training.metrics gives way to
    training.blend, each part's name, weight, command and figures. Raises CheckpointError for
    models that cannot be blended."""
    import copy

    first = models[0]
    for m in models[1:]:
        if m.info.arch != first.info.arch or m.config != first.config:
            raise CheckpointError(
                f"{m.path}: a {m.info.arch} {m.config} cannot be interpolated with {first.path} "
                f"({first.info.arch} {first.config})"
            )
    pairs = [(m, w) for m, w in zip(models, weights) if w > 0]
    if len(pairs) == 1:
        return pairs[0][0]
    states = [(m.module.state_dict(), w) for m, w in pairs]
    blended = {
        k: sum(w * state[k] for state, w in states) if v.is_floating_point() else v for k, v in states[0][0].items()
    }
    base = pairs[0][0]
    module = copy.deepcopy(base.module)
    module.load_state_dict(blended)
    name = " + ".join(f"{m.info.name} ({w:g})" for m, w in pairs)
    # The first model's provenance stays (its data, options, psnr_stage, ...), but not its figures:
    # they measured that model, not the blend. Each part's command and figures are kept with it.
    training = {k: v for k, v in base.info.training.items() if k != "metrics"}
    training["blend"] = [
        {
            "name": m.info.name,
            "weight": w,
            **{k: m.info.training[k] for k in ("command", "metrics") if k in m.info.training},
        }
        for m, w in pairs
    ]
    info = dataclasses.replace(base.info, name=name, training=training)
    return dataclasses.replace(base, module=module, info=info)


def round_weights(weights) -> tuple[float, ...]:
    """Weights rounded to WEIGHT_STEP, still summing to 1 (the rounding's remainder goes to the
    largest)."""
    rounded = [round(w / WEIGHT_STEP) * WEIGHT_STEP for w in weights]
    largest = max(range(len(rounded)), key=rounded.__getitem__)
    rounded[largest] += 1 - sum(rounded)
    return tuple(round(w, 6) for w in rounded)


class ModelBlends:
    """Models of one architecture (by default SR_BLEND's), loaded once, and their blends, each made
    once per rounded weights. find(name) -> path resolves the names (models.resolve)."""

    def __init__(self, find, names: tuple[str, ...] = SR_BLEND, models: list[LoadedModel] | None = None):
        from .checkpoint import load_model

        self.names = names
        self.models = models if models is not None else [load_model(find(name)) for name in names]
        self._made: dict[tuple[float, ...], LoadedModel] = {}

    @classmethod
    def of(cls, models: list[LoadedModel], names: tuple[str, ...]) -> ModelBlends:
        """Blends of models already loaded, called `names` (in -v and --json)."""
        return cls(None, names, models)

    def model(self, weights) -> LoadedModel:
        weights = round_weights(weights)
        if weights not in self._made:
            self._made[weights] = blend(self.models, weights)
        return self._made[weights]

    def shares(self, weights) -> dict[str, float]:
        """{model name: weight} of the nonzero weights, as rounded for model()."""
        return {n: w for n, w in zip(self.names, round_weights(weights)) if w > 0}


def denoise_weights(denoise: float) -> tuple[float, float, float]:
    """--denoise 0..1 as SR_BLEND weights: 0 is the real-world GAN model, 1 its PSNR stage."""
    return (0.0, denoise, 1.0 - denoise)


# --denoise auto: the real-world models' share of the blend for a photo's JPEG quality (IJG scale)
# and for its noise reading (8-bit levels, data/degradation_estimate.py), linear between these
# points, read off `python scripts/calibrate_denoise_auto.py --images 16` (its "chosen" column: of
# the shares 0, 1/4 .. 1, the one of least perceptual distance among those within 0.1 dB PSNR-Y of
# the best, on quarter-size crops of SR training photos). PSNR-Y alone would stop a quarter lower
# on about half the degradations and leave JPEG crackle and noise on skin and sky that the
# perceptual distance, and the eye, count against it.
AUTO_JPEG_SHARES = ((60.0, 1.0), (70.0, 0.75), (80.0, 0.5), (85.0, 0.5), (90.0, 0.25), (95.0, 0.25), (100.0, 0.0))
# The noise term starts at 4.5, past the calibration's choice (a quarter from about 3.5): the
# finest band of a small, densely textured clean photo reads up to 4.6 (Set14's zebra, Set5's
# butterfly 4.3 at quarter size), and even an eighth of the real-world PSNR stage cost the
# butterfly about 0.5 dB (Set5's mean fell 0.10 dB in benchmarks/sr_real.py).
AUTO_NOISE_SHARES = ((4.5, 0.0), (6.0, 0.5), (8.5, 0.75), (11.0, 1.0))
# The most the real-world models get: 7/8, not the rule's 1 for JPEG 60 and below, since PSNR-Y
# peaks at 3/4 there and falls faster past 7/8 (on the benchmark's blurred, noisy JPEG 50 set the
# pair alone ends below its PSNR stage alone in both PSNR-Y and perceptual distance).
AUTO_REAL_MAX = 0.875
# Of the real-world share, how much is the GAN stage (texture) rather than the PSNR stage.
AUTO_GAN_SHARE = 0.5
# Clips (no per-frame estimate; the GAN stage's texture would flicker): this much of the real-world
# PSNR stage, the rest the clean model.
CLIP_REAL_SHARE = 0.75


def _share_at(value: float, points) -> float:
    return float(np.interp(value, [x for x, _ in points], [y for _, y in points]))


def real_share(estimate) -> float:
    """0 (the clean model alone) .. 1 (the real-world models alone) for a
    data.degradation_estimate.DegradationEstimate: its JPEG and noise terms combined as independent
    chances, 1 - (1 - jpeg)(1 - noise), since a noisy photo saved as JPEG needs more than either
    alone (the calibration's noise-then-JPEG-90 rows); at most AUTO_REAL_MAX."""
    jpeg = 0.0 if estimate.jpeg_quality is None else _share_at(estimate.jpeg_quality, AUTO_JPEG_SHARES)
    noise = _share_at(estimate.noise, AUTO_NOISE_SHARES)
    return min(1 - (1 - jpeg) * (1 - noise), AUTO_REAL_MAX)


def auto_weights(estimate, gan_share: float = AUTO_GAN_SHARE) -> tuple[float, float, float]:
    """SR_BLEND weights (clean, psnr, gan) that --denoise auto gives a photo with this estimate:
    all clean model for a clean photo; for a degraded one the real_share, split between its PSNR
    and GAN stages by gan_share. Already on WEIGHT_STEP: where the split falls between steps,
    the PSNR stage gets the odd step (less texture, never more than asked for)."""
    steps = round(real_share(estimate) / WEIGHT_STEP)
    gan = int(steps * gan_share) * WEIGHT_STEP
    real = steps * WEIGHT_STEP
    return (1 - real, real - gan, gan)


# `i2i colorize`'s per-photo portrait blend: the default colorizer's share goes to its portrait
# model (training.portrait_stage, an encoder fine-tune with the photos of people oversampled, whose
# skin is right and whose landscapes are tinted warm) as the photo's people score rises
# (data/people_estimate.py), linearly from the first point to the second. Both points are read off
# the training photos (`python scripts/calibrate_portrait_auto.py`), not the photos the colorizer
# is judged on: the first is the 95th percentile of the photos without people, the second the
# median of those with people.
PORTRAIT_SCORE_RAMP = (0.06, 0.18)
PORTRAIT_STEP = 0.25  # so that a folder of photos needs at most five blended networks


def portrait_share(score: float) -> float:
    """0 (the colorizer alone) .. 1 (its portrait model alone) for a people score, on PORTRAIT_STEP."""
    lo, hi = PORTRAIT_SCORE_RAMP
    share = min(1.0, max(0.0, (score - lo) / (hi - lo)))
    return round(share / PORTRAIT_STEP) * PORTRAIT_STEP
