"""Fast style transfer recipe (Johnson et al.): TransformerNet, perceptual content + Gram style + TV."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..archs.transformer_net import TransformerNet, TransformerNetConfig
from ..checkpoint import ModelInfo, save_model
from ..data.datasets import PhotoCrops, to_tensor
from ..data.image_io import load_rgb
from ..losses import gram, grid_excess, smoothed_activations, total_variation
from ..task import Task
from .common import adam, unwrap
from .recipe import Recipe


class StyleRecipe(Recipe):
    state_attributes = ("net", "opt")
    method = "style"

    def dataset(self):
        o = self.options
        return PhotoCrops(o.data, crop=o.crop, resize=o.crop, seed=self.seed)

    def setup(self, device, total_steps):
        from ..lossnet import loss_network

        o = self.options
        self.device = device
        self.config = TransformerNetConfig(width=o.width, res_blocks=o.res_blocks, upsample=o.upsample)
        self.net = TransformerNet(self.config).to(device)
        self.opt = adam(self.net.parameters(), o.lr)
        self.lossnet = loss_network(o.loss_net, o.loss_weights or None).to(device)
        self.style_grams = self.style_targets(load_rgb(o.style))  # computed once: the target never changes

    def style_grams_of(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The loss network's features -> one (B, C, C) Gram matrix per tapped layer."""
        if self.options.smooth_activations:
            features = [smoothed_activations(f) for f in features]
        return [gram(f) for f in features]

    @torch.no_grad()
    def style_targets(self, painting) -> list[torch.Tensor]:
        """The painting's Gram matrices, averaged over its sizes (--style-scale: fractions of --style-size).

        Several sizes put brush strokes at several scales relative to the training crops into
        one target, so strokes neither shrink to grain nor swell to blotches on photos of other sizes."""
        o = self.options
        per_scale = []
        for scale in o.style_scales:
            s = o.style_size * scale / max(painting.size)
            sized = painting.resize((max(1, round(painting.size[0] * s)), max(1, round(painting.size[1] * s))))
            per_scale.append(self.style_grams_of(self.lossnet(to_tensor(sized)[None].to(self.device))))
        return [torch.stack(layer).mean(0) for layer in zip(*per_scale)]

    def wrap_distributed(self, wrap):
        self.net = wrap(self.net)

    def losses(self, x):
        """x: (B, 3, H, W) in [0, 1] -> (stylized in [0, 1], dict of loss tensors)."""
        o = self.options
        y = self.net(x * 255) / 255
        fy = self.lossnet(y)
        with torch.no_grad():
            fc = self.lossnet(x)[o.content_layer]
        content = F.mse_loss(fy[o.content_layer], fc) / fc.pow(2).mean().clamp(min=1e-8)
        style = sum(
            F.mse_loss(gy, g.expand(gy.shape[0], -1, -1)) / g.pow(2).mean()
            for gy, g in zip(self.style_grams_of(fy), self.style_grams)
        ) / len(fy)
        tv = total_variation(y * 255)
        parts = {"content": content, "style": style, "tv": tv}
        if o.grid_weight:
            parts["grid"] = grid_excess(y, x, 4)  # the 4-pixel grid of the net's 1/4-resolution blocks
        return y, parts

    def train_step(self, batch, step):
        o = self.options
        _, parts = self.losses(batch["image"].to(self.device))
        loss = o.content_weight * parts["content"] + o.style_weight * parts["style"] + o.tv_weight * parts["tv"]
        if o.grid_weight:
            loss = loss + o.grid_weight * parts["grid"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_step(self.opt)
        return {k: v.item() for k, v in parts.items()}

    def sample_grid(self, batch):
        """Rows: photo | stylized."""
        x = batch["image"].to(self.device)
        y = (self.net(x * 255) / 255).clamp(0, 1)
        return [[a, b] for a, b in zip(x, y)]

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        name = o.name or Path(o.style).stem.replace("_", "-")
        info = ModelInfo(
            arch="transformer_net",
            options=asdict(self.config),
            task=Task(kind="stylize", value_range="0,255"),
            name=f"style-{name}",
            description=f"fast style transfer; painting: {Path(o.style).name}",
            training={**provenance, "data": list(o.data), "style": o.style},
        )
        path = Path(run_dir) / f"style-{name}.safetensors"
        save_model(path, unwrap(self.net), info)
        return [path]
