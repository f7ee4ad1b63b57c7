"""CycleGAN recipe: two ResNet generators, two PatchGANs, LSGAN, cycle and identity losses,
and a history pool of generated images for the discriminators (Zhu et al.)."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..archs.patchgan import PatchGAN, PatchGANConfig
from ..archs.resnet import ResnetConfig, ResnetGenerator
from ..checkpoint import ModelInfo, save_model
from ..data.datasets import UnpairedCrops
from ..losses import gan_loss, set_requires_grad
from ..task import Task
from .common import adam, constant_then_linear, unwrap
from .pix2pix import _init_weights
from .recipe import Recipe


class ImagePool:
    """Return the new images or, half the time once full, older ones (Shrivastava et al.)."""

    def __init__(self, size: int, device="cpu"):
        self.size, self.images, self.rng, self.device = size, [], random.Random(0), device

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img[None]
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif self.rng.random() > 0.5:
                i = self.rng.randrange(self.size)
                out.append(self.images[i].clone())
                self.images[i] = img
            else:
                out.append(img)
        return torch.cat(out)

    def state_dict(self):
        return {"images": [t.cpu() for t in self.images], "rng": self.rng.getstate()}

    def load_state_dict(self, state):
        self.images = [t.to(self.device) for t in state["images"]]
        self.rng.setstate(state["rng"])


class CycleGANRecipe(Recipe):
    method = "cyclegan"
    state_attributes = ("g_ab", "g_ba", "d_a", "d_b", "opt_g", "opt_d", "sched_g", "sched_d", "pool_a", "pool_b")

    def dataset(self):
        o = self.options
        return UnpairedCrops(o.data, load_size=o.load_size, crop=o.crop, seed=self.seed)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        self.g_config = ResnetConfig(ngf=o.ngf, blocks=o.blocks, norm=o.norm, upsample=o.upsample)
        d_config = PatchGANConfig(in_channels=3, ndf=o.ndf, n_layers=o.n_layers, norm=o.norm)
        self.g_ab, self.g_ba = (ResnetGenerator(self.g_config).to(device) for _ in range(2))
        self.d_a, self.d_b = (PatchGAN(d_config).to(device) for _ in range(2))
        for net in (self.g_ab, self.g_ba, self.d_a, self.d_b):
            _init_weights(net)
        g_params = list(self.g_ab.parameters()) + list(self.g_ba.parameters())
        d_params = list(self.d_a.parameters()) + list(self.d_b.parameters())
        self.opt_g = adam(g_params, o.lr, (0.5, 0.999))
        self.opt_d = adam(d_params, o.lr, (0.5, 0.999))
        rule = constant_then_linear(total_steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule)
        self.pool_a, self.pool_b = ImagePool(o.pool_size, device), ImagePool(o.pool_size, device)

    def wrap_distributed(self, wrap):
        self.g_ab, self.g_ba = wrap(self.g_ab), wrap(self.g_ba)
        self.d_a, self.d_b = wrap(self.d_a), wrap(self.d_b)

    def train_step(self, batch, step):
        o = self.options
        a = batch["A"].to(self.device) * 2 - 1  # (B, 3, H, W) in [-1, 1]
        b = batch["B"].to(self.device) * 2 - 1
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        rec_a, rec_b = self.g_ba(fake_b), self.g_ab(fake_a)
        for d in (self.d_a, self.d_b):
            set_requires_grad(d, False)
        lam, lam_id = o.lambda_cycle, o.lambda_cycle * o.lambda_identity
        idt = torch.zeros((), device=self.device)
        if lam_id > 0:
            idt = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
        g_adv = gan_loss(self.d_b(fake_b), True, "lsgan") + gan_loss(self.d_a(fake_a), True, "lsgan")
        cycle = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        self.opt_g.zero_grad(set_to_none=True)
        (g_adv + lam * cycle + lam_id * idt).backward()
        self.optimizer_step(self.opt_g)
        for d in (self.d_a, self.d_b):
            set_requires_grad(d, True)
        d_b_loss = self._d_loss(self.d_b, b, self.pool_b.query(fake_b))
        d_a_loss = self._d_loss(self.d_a, a, self.pool_a.query(fake_a))
        self.opt_d.zero_grad(set_to_none=True)
        (d_a_loss + d_b_loss).backward()
        self.optimizer_step(self.opt_d)
        self.sched_g.step()
        self.sched_d.step()
        return {
            "g_adv": g_adv.item(),
            "cycle": cycle.item(),
            "idt": idt.item(),
            "d_a": d_a_loss.item(),
            "d_b": d_b_loss.item(),
        }

    @staticmethod
    def _d_loss(d, real, fake):
        return 0.5 * (gan_loss(d(real), True, "lsgan") + gan_loss(d(fake.detach()), False, "lsgan"))

    def sample_grid(self, batch):
        """Rows: A | G(A) | F(G(A)) and B | F(B) | G(F(B))."""
        rows = []
        for key, g, f in (("A", self.g_ab, self.g_ba), ("B", self.g_ba, self.g_ab)):
            x = batch[key].to(self.device) * 2 - 1
            y = g(x)
            z = f(y)
            rows += [[(u + 1) / 2, (v + 1) / 2, (w + 1) / 2] for u, v, w in zip(x, y, z)]
        return rows

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        prefix = o.name or Path(o.data).name
        paths = []
        for direction, g in (("AtoB", self.g_ab), ("BtoA", self.g_ba)):
            name = f"{prefix}-{direction}"
            info = ModelInfo(
                arch="resnet",
                options=asdict(self.g_config),
                task=Task(kind="translate", value_range="-1,1"),
                name=name,
                description=f"CycleGAN generator {direction} on {Path(o.data).name}",
                training={**provenance, "data": o.data, "direction": direction},
            )
            path = Path(run_dir) / f"{name}.safetensors"
            save_model(path, unwrap(g), info)
            paths.append(path)
        return paths
