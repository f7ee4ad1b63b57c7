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
from ..losses import gram, total_variation
from ..task import Task
from .common import adam, unwrap
from .recipe import Recipe


class StyleRecipe(Recipe):
    method = "style"

    def dataset(self):
        o = self.options
        return PhotoCrops(o.data, crop=o.crop, resize=o.crop, seed=self.seed)

    def setup(self, device, total_steps):
        from ..lossnet import loss_network

        o = self.options
        self.device = device
        self.config = TransformerNetConfig(width=o.width, res_blocks=o.res_blocks)
        self.net = TransformerNet(self.config).to(device)
        self.opt = adam(self.net.parameters(), o.lr)
        self.lossnet = loss_network(o.loss_net, o.loss_weights or None).to(device)
        painting = load_rgb(o.style)
        s = o.style_size / max(painting.size)
        painting = painting.resize((round(painting.size[0] * s), round(painting.size[1] * s)))
        with torch.no_grad():
            feats = self.lossnet(to_tensor(painting)[None].to(device))
        self.style_grams = [gram(f) for f in feats]  # computed once: the target never changes

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
            F.mse_loss(gram(f), g.expand(f.shape[0], -1, -1)) / g.pow(2).mean() for f, g in zip(fy, self.style_grams)
        ) / len(fy)
        tv = total_variation(y * 255)
        return y, {"content": content, "style": style, "tv": tv}

    def train_step(self, batch, step):
        o = self.options
        _, parts = self.losses(batch["image"].to(self.device))
        loss = o.content_weight * parts["content"] + o.style_weight * parts["style"] + o.tv_weight * parts["tv"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_step(self.opt)
        return {k: v.item() for k, v in parts.items()}

    def state_dict(self):
        return {"net": unwrap(self.net).state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state):
        unwrap(self.net).load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])

    def sample_grid(self, batch):
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
