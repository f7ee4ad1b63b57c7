"""Losses: GAN objectives (vanilla, lsgan), Gram matrices, total variation, perceptual features."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from .metrics import grid_share, radial_power_spectrum

GanMode = Literal["vanilla", "lsgan"]


def gan_loss(logits: torch.Tensor, real: bool, mode: GanMode) -> torch.Tensor:
    """Discriminator-output loss against an all-real or all-fake target."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix normalised by C*H*W (Johnson et al.)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def smoothed_activations(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> same shape: softmax over each sample's C*H*W activations, times C*H*W.

    SWAG's "activation smoothing" (Wang et al., CVPR 2021, "Rethinking and Improving the
    Robustness of Image Style Transfer"): the softmax flattens the peaky, low-entropy activations
    of residual networks, whose Gram matrices otherwise match on a few dominant channels and carry
    palette but little texture. The factor C*H*W (the mean becomes 1) keeps the values independent
    of the map's size, so the painting's targets at one size compare with training crops at another.
    """
    b = features.shape[0]
    n = features[0].numel()
    return torch.softmax(features.reshape(b, -1), dim=1).reshape(features.shape) * n


def grid_excess(output: torch.Tensor, reference: torch.Tensor, period: int, band: float | None = None) -> torch.Tensor:
    """How far each output's share of spectral power at the harmonics of a `period`-pixel grid
    exceeds its reference's, as a multiple of the reference's share (0 at or below it), mean over
    the batch: a spectral penalty on a generator's periodic upsampling artifact (after Durall et
    al., CVPR 2020, "Watch your Up-Convolution"), measured as metrics.grid_share does.

    output, reference: (B, C, H, W) in [0, 1] (the reference is the photo a style restyles, or
    pix2pix's ground truth); band in cycles/pixel, default 1.5 frequency bins of the shorter side
    (each grid frequency's bin and its neighbours). Returns a scalar tensor, differentiable in output.
    """
    band = 1.5 / min(reference.shape[-2:]) if band is None else band
    with torch.no_grad():
        own = grid_share(reference, period, band).clamp(min=1e-6)
    return F.relu(grid_share(output.clamp(0, 1), period, band) / own - 1).mean()


def spectrum_distance(output: torch.Tensor, target: torch.Tensor, bins: int = 32) -> torch.Tensor:
    """Mean absolute difference of the log azimuthally averaged luma power spectra of output and
    target (metrics.radial_power_spectrum), over `bins` rings and the batch: Durall et al.'s
    spectral regularisation (CVPR 2020) in log form, so every frequency counts alike and the
    finest scales, where a generator's detail falls short, are not drowned by the coarse ones.

    output, target: (B, C, H, W) in [0, 1]. Returns a scalar tensor, differentiable in output.
    """
    with torch.no_grad():
        want = radial_power_spectrum(target, bins).clamp(min=1e-12).log()
    return (radial_power_spectrum(output.clamp(0, 1), bins).clamp(min=1e-12).log() - want).abs().mean()


def total_variation(img: torch.Tensor) -> torch.Tensor:
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + (img[..., :, 1:] - img[..., :, :-1]).abs().mean()


def set_requires_grad(params, flag: bool) -> None:
    """Switch gradients of a module's parameters, or of a list of parameters, on or off."""
    for p in params.parameters() if hasattr(params, "parameters") else params:
        p.requires_grad_(flag)
