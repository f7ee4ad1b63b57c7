"""Norm layers shared by the pix2pix/CycleGAN family, in the reference implementation's flavours."""

from __future__ import annotations

from typing import Literal

from torch import nn

Norm = Literal["batch", "instance", "none"]


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # affine=False, no running stats: the reference CycleGAN/pix2pix setting.
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(kind: Norm) -> bool:
    """A conv followed by batch norm needs no bias; the reference keeps it for instance norm."""
    return kind != "batch"
