"""The one list of architectures. Tests iterate over it."""

from __future__ import annotations

from . import (
    dcgan,
    lite0_unet,
    patchgan,
    projected_discriminator,
    resnet,
    spandrel_models,
    srresnet,
    transformer_net,
    unet,
    unet_discriminator,
)
from .common import ArchSpec, config_from_dict

ARCHS: dict[str, ArchSpec] = {
    spec.id: spec
    for spec in (
        unet.SPEC,
        lite0_unet.SPEC,
        resnet.SPEC,
        patchgan.SPEC,
        srresnet.SPEC,
        transformer_net.SPEC,
        unet_discriminator.SPEC,
        projected_discriminator.SPEC,
        dcgan.GENERATOR,
        dcgan.DISCRIMINATOR,
        dcgan.ENCODER,
        spandrel_models.SPEC,
    )
}


def get_spec(arch_id: str) -> ArchSpec:
    try:
        return ARCHS[arch_id]
    except KeyError:
        raise KeyError(f"unknown architecture {arch_id!r}; known: {', '.join(ARCHS)}") from None


def build(arch_id: str, options: dict | None = None):
    """Build a fresh module from an architecture id and its options dict (not for "spandrel",
    whose modules are built from their weights: see checkpoint.load_model)."""
    spec = get_spec(arch_id)
    cfg = config_from_dict(spec.config, options or {})
    return spec.build(cfg), cfg
