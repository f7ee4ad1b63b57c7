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
    import copy

    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"the interpolation weight must be within 0..1, not {alpha}")
    if a.info.arch != b.info.arch or a.config != b.config:
        raise CheckpointError(
            f"{b.path}: a {b.info.arch} {b.config} cannot be interpolated with {a.path} ({a.info.arch} {a.config})"
        )
    if alpha in (0.0, 1.0):
        return a if alpha == 0.0 else b
    module = copy.deepcopy(a.module)
    theirs = b.module.state_dict()
    blended = {
        k: (1 - alpha) * v + alpha * theirs[k] if v.is_floating_point() else v for k, v in a.module.state_dict().items()
    }
    module.load_state_dict(blended)
    info = dataclasses.replace(a.info, name=f"{a.info.name} ({1 - alpha:g}) + {b.info.name} ({alpha:g})")
    return dataclasses.replace(a, module=module, info=info)


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
