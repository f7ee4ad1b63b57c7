"""Colorization recipe: pix2pix on Lab, L (1 channel) -> ab (2 channels), self-supervised."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..checkpoint import ModelInfo, save_model
from ..data.color import AB_SCALE, l_from_net, l_to_net, lab_to_rgb, rgb_to_lab
from ..data.datasets import PhotoCrops, is_grayish
from ..task import Task
from .common import check_upsample, unwrap
from .pix2pix import Pix2PixRecipe


@dataclass(frozen=True, kw_only=True)
class ColorizeOptions:
    data: tuple[str, ...]
    """Folders of colour photos (grayscale ones are skipped)."""
    num_downs: int = 7
    """U-Net depth (7 = unet_128: crops must be multiples of 128)."""
    ngf: int = 32
    """Generator filters."""
    ndf: int = 32
    """Discriminator filters."""
    n_layers: int = 3
    """PatchGAN layers."""
    norm: str = "instance"
    """instance or batch."""
    dropout: bool = False
    """Dropout in the U-Net decoder."""
    upsample: str = "transposed"
    """Generator x2 steps: transposed convolutions (the reference's; they leave a checkerboard)
    or resize (nearest x2 then a 3x3 convolution, Odena et al. 2016)."""
    load_size: int = 256
    """Photos are resized to this short side before cropping (match `colorize --render-size`)."""
    crop: int = 128
    """Random crop."""
    batch_size: int = 4
    """Photos per step."""
    lr: float = 2e-4
    """Adam learning rate."""
    lambda_l1: float = 100.0
    """L1 weight on ab."""
    gan: bool = True
    """False: L1 alone (the desaturated baseline)."""
    gan_mode: str = "vanilla"
    """vanilla or lsgan."""
    name: str = "colorize"
    """Exported model name."""
    init: str = ""
    """Start the generator from this exported model (same architecture); the discriminator starts fresh."""

    def __post_init__(self):
        check_upsample(self.upsample)


class ColorizeRecipe(Pix2PixRecipe):
    method = "colorize"
    in_channels, out_channels = 1, 2

    def dataset(self):
        o = self.options
        data = PhotoCrops(o.data, crop=o.crop, resize=o.load_size, seed=self.seed, exclude=is_grayish)
        self.skipped_gray = data.excluded
        return data

    def net_io(self, batch):
        """(B, 3, H, W) RGB in [0, 1] -> L as L/50 - 1, ab as ab/110."""
        lab = rgb_to_lab(batch["image"].to(self.device))
        return l_to_net(lab[:, :1]), lab[:, 1:] / AB_SCALE

    def to_display(self, l_net, ab_net):
        lab = torch.cat([l_from_net(l_net), ab_net * AB_SCALE], 1)
        return l_from_net(l_net).expand(-1, 3, -1, -1) / 100, lab_to_rgb(lab)

    def task(self) -> Task:
        return Task(kind="colorize", in_space="L", out_space="ab", value_range="-1,1")

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        info = ModelInfo(arch="unet", options=asdict(self.g_config), task=self.task(), name=o.name,
                         description="colorization: Lab L -> ab (pix2pix-style cGAN)" if o.gan
                         else "colorization: Lab L -> ab (L1 only)",
                         training={**provenance, "data": list(o.data), "gan": o.gan,
                                   "skipped_grayscale": getattr(self, "skipped_gray", None)})
        path = Path(run_dir) / f"{o.name}.safetensors"
        save_model(path, unwrap(self.g), info)
        return [path]
