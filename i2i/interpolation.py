"""Network interpolation: blend the weights of two models of one architecture.

ESRGAN (Wang et al., ECCV Workshops 2018, section 3.4) interpolates a PSNR-oriented network and
its GAN fine-tuned version, theta = (1 - alpha) * theta_GAN + alpha * theta_PSNR, to trade
perceptual texture for cleanliness continuously and without retraining; Real-ESRGAN's `-dn`
does the same between a denoising model and a weakly denoising one.
"""

from __future__ import annotations

import dataclasses

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

    return interpolate(model, load_model(find(partner)), denoise)


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
    summing to 1; a weight of 1 returns that model itself). Raises CheckpointError for models
    that cannot be blended."""
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
    return dataclasses.replace(base, module=module, info=dataclasses.replace(base.info, name=name))


def round_weights(weights) -> tuple[float, ...]:
    """Weights rounded to WEIGHT_STEP, still summing to 1 (the rounding's remainder goes to the
    largest)."""
    rounded = [round(w / WEIGHT_STEP) * WEIGHT_STEP for w in weights]
    largest = max(range(len(rounded)), key=rounded.__getitem__)
    rounded[largest] += 1 - sum(rounded)
    return tuple(round(w, 6) for w in rounded)


class SRBlends:
    """The SR_BLEND models, loaded once, and their blends, each made once per rounded weights.
    find(name) -> path resolves the names (models.resolve)."""

    def __init__(self, find, names: tuple[str, ...] = SR_BLEND):
        from .checkpoint import load_model

        self.names = names
        self.models = [load_model(find(name)) for name in names]
        self._made: dict[tuple[float, ...], LoadedModel] = {}

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


# --denoise auto. The degradation level runs from 0 (clean) to 1 between these: JPEG quality
# (IJG scale) from JPEG_CLEAN down to JPEG_DEGRADED, noise (8-bit levels) from NOISE_CLEAN up to
# NOISE_DEGRADED; the worse of the two counts. Read off scripts/calibrate_denoise_auto.py (PSNR-Y
# of every blend on crops of the SR training photos, single degradations), not off the benchmark:
# clean and JPEG 95 inputs score best on the clean model, JPEG 90 with an eighth to a quarter of
# the real-world model, JPEG 80 and noise 10 with half, JPEG 50 with three quarters.
JPEG_CLEAN, JPEG_DEGRADED = 95.0, 50.0
NOISE_CLEAN, NOISE_DEGRADED = 4.0, 10.0
# The real-world models' share at degradation level 1: PSNR-Y peaks with a quarter of the clean
# model left in (the real-world models smooth a little more than JPEG 50 needs).
AUTO_REAL_MAX = 0.75
# Of the real-world share, how much is the GAN stage (texture) rather than the PSNR stage.
AUTO_GAN_SHARE = 0.5


def _ramp(value: float, clean: float, degraded: float) -> float:
    return min(max((value - clean) / (degraded - clean), 0.0), 1.0)


def degradation_level(estimate) -> float:
    """0 (clean) .. 1 (as degraded as JPEG_DEGRADED or NOISE_DEGRADED) from a
    data.degradation_estimate.DegradationEstimate: the worse of its JPEG and noise terms."""
    jpeg = 0.0 if estimate.jpeg_quality is None else _ramp(estimate.jpeg_quality, JPEG_CLEAN, JPEG_DEGRADED)
    return max(jpeg, _ramp(estimate.noise, NOISE_CLEAN, NOISE_DEGRADED))


def auto_weights(estimate) -> tuple[float, float, float]:
    """SR_BLEND weights (clean, psnr, gan) that --denoise auto gives a photo with this estimate:
    all clean model for a clean photo; for a degraded one a real-world share of up to
    AUTO_REAL_MAX, split between its PSNR and GAN stages by AUTO_GAN_SHARE."""
    real = AUTO_REAL_MAX * degradation_level(estimate)
    return (1 - real, real * (1 - AUTO_GAN_SHARE), real * AUTO_GAN_SHARE)
