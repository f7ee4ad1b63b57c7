"""CycleGAN recipe: two ResNet generators, two PatchGANs, LSGAN, cycle and identity losses,
and a history pool of generated images for the discriminators (Zhu et al.).

With `discriminator="projected"` each PatchGAN is replaced by a Projected GAN discriminator
(Sauer et al. 2021: trainable heads on a frozen ImageNet EfficientNet-Lite0,
archs/projected_discriminator.py), trained with the hinge loss on DiffAugment-ed images (Zhao et
al. 2020), as the paper does; the four scales' losses are averaged, each over its positions.
`projected+patchgan` keeps the PatchGAN beside it (ProjectedWithPatchGAN)."""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..archs.patchgan import PatchGAN, PatchGANConfig
from ..archs.projected_discriminator import ProjectedDiscriminator, ProjectedDiscriminatorConfig, load_imagenet_backbone
from ..archs.resnet import ResnetConfig, ResnetGenerator
from ..checkpoint import ModelInfo, save_model
from ..data.datasets import UnpairedCrops
from ..losses import gan_loss, set_requires_grad
from ..task import Task
from .common import EMA, adam, constant_then_linear, unwrap
from .diffaugment import diff_augment
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


class ProjectedWithPatchGAN(nn.Module):
    """A projected discriminator and a pixel PatchGAN side by side, as Kumari et al. keep the
    original discriminator beside the pretrained-feature ones ("Ensembling Off-the-shelf Models for
    GAN Training", CVPR 2022): the frozen ImageNet features judge content and style, the PatchGAN
    pixel texture, which the generator can otherwise fill with patterns that only fool the frozen
    network. (B, 3, H, W) in [-1, 1] -> [PatchGAN logits, then the projected one's four scales]."""

    def __init__(self, projected: ProjectedDiscriminator, patch: PatchGAN):
        super().__init__()
        self.projected, self.patch = projected, patch

    def trainable_parameters(self) -> list[nn.Parameter]:
        return self.projected.trainable_parameters() + list(self.patch.parameters())

    def forward(self, x, per_scale: bool = True):
        return [self.patch(x), *self.projected(x, per_scale=True)]


def ramped(weight: float, warmup: int, step: int) -> float:
    """`weight` times (step + 1) / warmup during the first `warmup` steps (step counts from 0), then `weight`."""
    return weight * min(1.0, (step + 1) / warmup) if warmup > 0 else weight


class CycleGANRecipe(Recipe):
    method = "cyclegan"
    # ema_ab and ema_ba are None without --ema: nothing is saved for them then.
    state_attributes = (
        "g_ab",
        "g_ba",
        "d_a",
        "d_b",
        "opt_g",
        "opt_d",
        "sched_g",
        "sched_d",
        "pool_a",
        "pool_b",
        "ema_ab",
        "ema_ab.updates",
        "ema_ba",
        "ema_ba.updates",
    )

    def dataset(self):
        o = self.options
        return UnpairedCrops(o.data, load_size=o.load_size, crop=o.crop, seed=self.seed)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        self.g_config = ResnetConfig(
            ngf=o.ngf, blocks=o.blocks, norm=o.norm, upsample=o.upsample, input_skip=o.input_skip
        )
        self.g_ab, self.g_ba = (ResnetGenerator(self.g_config).to(device) for _ in range(2))
        for net in (self.g_ab, self.g_ba):
            _init_weights(net)
        self.d_a, self.d_b = (self._discriminator().to(device) for _ in range(2))
        g_params = list(self.g_ab.parameters()) + list(self.g_ba.parameters())
        self.d_params = self._trainable(self.d_a) + self._trainable(self.d_b)
        self.opt_g = adam(g_params, o.lr, (0.5, 0.999))
        self.opt_d = adam(self.d_params, o.lr, (0.5, 0.999))
        rule = constant_then_linear(total_steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule)
        self.pool_a, self.pool_b = ImagePool(o.pool_size, device), ImagePool(o.pool_size, device)
        self.ema_ab, self.ema_ba = (EMA(g, o.ema) if o.ema else None for g in (self.g_ab, self.g_ba))

    def _discriminator(self):
        o = self.options
        d = PatchGAN(PatchGANConfig(in_channels=3, ndf=o.ndf, n_layers=o.n_layers, norm=o.norm))
        _init_weights(d)
        if o.discriminator == "patchgan":
            return d
        projected = load_imagenet_backbone(ProjectedDiscriminator(ProjectedDiscriminatorConfig(ndf=o.ndf)))
        return projected if o.discriminator == "projected" else ProjectedWithPatchGAN(projected, d)

    @staticmethod
    def _trainable(d) -> list:
        """The parameters the discriminator's optimiser updates (not a projected one's frozen backbone)."""
        return unwrap(d).trainable_parameters() if hasattr(unwrap(d), "trainable_parameters") else list(d.parameters())

    def _adv_loss(self, d, x, real: bool, for_generator: bool = False) -> torch.Tensor:
        """LSGAN on the PatchGAN's logits; hinge on the projected one's (the generator's: -D), each
        scale's mean, averaged; projected+patchgan: the sum of both on the same augmented images."""
        o = self.options
        if o.discriminator == "patchgan":
            return gan_loss(d(x), real, "lsgan")
        logits = d(diff_augment(x, o.augment_policy), per_scale=True)
        patch = gan_loss(logits.pop(0), real, "lsgan") if o.discriminator == "projected+patchgan" else 0
        if for_generator:
            losses = [-y.mean() for y in logits]
        else:
            losses = [F.relu(1 - y).mean() if real else F.relu(1 + y).mean() for y in logits]
        return torch.stack(losses).mean() + patch

    def wrap_distributed(self, wrap):
        self.g_ab, self.g_ba = wrap(self.g_ab), wrap(self.g_ba)
        self.d_a, self.d_b = wrap(self.d_a), wrap(self.d_b)

    def train_step(self, batch, step):
        o = self.options
        a = batch["A"].to(self.device) * 2 - 1  # (B, 3, H, W) in [-1, 1]
        b = batch["B"].to(self.device) * 2 - 1
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        rec_a, rec_b = self.g_ba(fake_b), self.g_ab(fake_a)
        set_requires_grad(self.d_params, False)
        lam, lam_id = o.lambda_cycle, o.lambda_cycle * o.lambda_identity
        idt = torch.zeros((), device=self.device)
        if lam_id > 0:
            idt = F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a)
        g_adv = self._adv_loss(self.d_b, fake_b, True, for_generator=True) + self._adv_loss(
            self.d_a, fake_a, True, for_generator=True
        )
        cycle = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        self.opt_g.zero_grad(set_to_none=True)
        (self._adv_weight(step) * g_adv + lam * cycle + lam_id * idt).backward()
        self.optimizer_step(self.opt_g)
        set_requires_grad(self.d_params, True)
        d_b_loss = self._d_loss(self.d_b, b, self.pool_b.query(fake_b))
        d_a_loss = self._d_loss(self.d_a, a, self.pool_a.query(fake_a))
        self.opt_d.zero_grad(set_to_none=True)
        (d_a_loss + d_b_loss).backward()
        self.optimizer_step(self.opt_d)
        self.sched_g.step()
        self.sched_d.step()
        for ema, g in ((self.ema_ab, self.g_ab), (self.ema_ba, self.g_ba)):
            if ema:
                ema.update(g)
        return {
            "g_adv": g_adv.item(),
            "cycle": cycle.item(),
            "idt": idt.item(),
            "d_a": d_a_loss.item(),
            "d_b": d_b_loss.item(),
        }

    def _adv_weight(self, step: int) -> float:
        return ramped(self.options.adv_weight, self.options.adv_warmup, step)

    def _d_loss(self, d, real, fake):
        return 0.5 * (self._adv_loss(d, real, True) + self._adv_loss(d, fake.detach(), False))

    @property
    def generators(self) -> tuple[nn.Module, nn.Module]:
        """(A->B, B->A) as sampled and exported: the EMA weights with --ema, else the trained ones."""
        return tuple(
            ema.module if ema else unwrap(g) for ema, g in ((self.ema_ab, self.g_ab), (self.ema_ba, self.g_ba))
        )

    def sample_grid(self, batch):
        """Rows: A | G(A) | F(G(A)) and B | F(B) | G(F(B))."""
        rows = []
        g_ab, g_ba = self.generators
        for key, g, f in (("A", g_ab, g_ba), ("B", g_ba, g_ab)):
            x = batch[key].to(self.device) * 2 - 1
            y = g(x)
            z = f(y)
            rows += [[(u + 1) / 2, (v + 1) / 2, (w + 1) / 2] for u, v, w in zip(x, y, z)]
        return rows

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        prefix = o.name or Path(o.data).name
        paths = []
        for direction, g in zip(("AtoB", "BtoA"), self.generators):
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
            save_model(path, g, info)
            paths.append(path)
        return paths
