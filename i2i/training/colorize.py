"""Colorization recipe: pix2pix on Lab, L (1 channel) -> ab (2 channels), self-supervised."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from ..checkpoint import ModelInfo, save_model
from ..data.color import AB_SCALE, l_from_net, l_to_net, lab_to_rgb, rgb_to_lab
from ..data.datasets import PhotoCrops, is_grayish
from ..task import Task
from .common import unwrap
from .pix2pix import Pix2PixRecipe


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
        info = ModelInfo(
            arch="unet",
            options=asdict(self.g_config),
            task=self.task(),
            name=o.name,
            description="colorization: Lab L -> ab (pix2pix-style cGAN)"
            if o.gan
            else "colorization: Lab L -> ab (L1 only)",
            training={
                **provenance,
                "data": list(o.data),
                "gan": o.gan,
                "skipped_grayscale": getattr(self, "skipped_gray", None),
            },
        )
        path = Path(run_dir) / f"{o.name}.safetensors"
        save_model(path, unwrap(self.g), info)
        return [path]
