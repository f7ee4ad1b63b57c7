"""DCGAN recipe (Radford et al., ICLR 2016) and the latent encoder trained on its samples.

`dcgan`: an unconditional generator from a folder of photos, with the paper's defaults (Adam
lr 2e-4, beta1 0.5, batch 128, N(0, 0.02) init, the non-saturating generator loss).
`dcgan-encoder`: an image -> latent network for a trained generator, fitted on generated pairs
(G(z), z) with a latent and a reconstruction loss, as the learned initialiser of GAN inversion
(Zhu et al., ECCV 2016); `i2i invert` refines its guesses by optimisation.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..archs.dcgan import (
    DCGANDiscriminator,
    DCGANDiscriminatorConfig,
    DCGANEncoderConfig,
    DCGANGenerator,
    DCGANGeneratorConfig,
    init_weights,
)
from ..checkpoint import ModelInfo, load_model, save_model
from ..data.datasets import PhotoCrops
from ..errors import UsageError
from ..losses import gan_loss, set_requires_grad
from ..task import Task
from .common import adam, unwrap
from .recipe import Recipe

GRID_SIDE = 8  # the fixed-z sample grid is 8 x 8 images


def fixed_latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """(n, z_dim) latents from their own generator: the same grid at every step and on resume."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed + 12345))


@torch.no_grad()
def calibrated(
    generator: torch.nn.Module, z_dim: int, *, batches: int = 16, batch: int = 128, seed: int = 0
) -> torch.nn.Module:
    """A copy of `generator` in eval mode whose batch-norm statistics are exact averages over
    `batches` x `batch` samples ("precise BN"): the running averages a short run leaves lag the
    weights, and eval-mode samples drawn with them can differ visibly from training-mode ones."""
    net = copy.deepcopy(unwrap(generator))
    device = next(net.parameters()).device
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over every batch below
    net.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        net(torch.randn(batch, z_dim, generator=g).to(device))
    for m in norms:
        m.momentum = 0.1
    return net.eval().requires_grad_(False)


def generate_task() -> Task:
    return Task(kind="generate", value_range="-1,1")


class DCGANRecipe(Recipe):
    state_attributes = ("g", "d", "opt_g", "opt_d")
    method = "dcgan"

    def dataset(self):
        o = self.options
        return PhotoCrops(o.data, crop=o.size, seed=self.seed, resize=o.load_size or o.size * 9 // 8)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        self.g_config = DCGANGeneratorConfig(z_dim=o.z_dim, size=o.size, ngf=o.ngf)
        self.g = DCGANGenerator(self.g_config).to(device)
        self.d = DCGANDiscriminator(DCGANDiscriminatorConfig(size=o.size, ndf=o.ndf)).to(device)
        for net in (self.g, self.d):
            init_weights(net)
        self.opt_g = adam(self.g.parameters(), o.lr, (o.beta1, 0.999))
        self.opt_d = adam(self.d.parameters(), o.lr, (o.beta1, 0.999))
        self.fixed_z = fixed_latents(GRID_SIDE**2, o.z_dim, self.seed).to(device)

    def wrap_distributed(self, wrap):
        self.g, self.d = wrap(self.g), wrap(self.d)

    def train_step(self, batch, step):
        real = batch["image"].to(self.device) * 2 - 1  # (B, 3, size, size) in [-1, 1]
        z = torch.randn(real.shape[0], self.options.z_dim, device=self.device)
        fake = self.g(z)
        set_requires_grad(self.d, True)
        d_real, d_fake = self.d(real), self.d(fake.detach())
        d_loss = gan_loss(d_real, True, "vanilla") + gan_loss(d_fake, False, "vanilla")
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer_step(self.opt_d)
        set_requires_grad(self.d, False)
        # The non-saturating loss: maximise log D(G(z)) rather than minimise log(1 - D(G(z))).
        g_loss = gan_loss(self.d(fake), True, "vanilla")
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer_step(self.opt_g)
        return {
            "d": d_loss.item(),
            "g": g_loss.item(),
            "d_real": torch.sigmoid(d_real).mean().item(),
            "d_fake": torch.sigmoid(d_fake).mean().item(),
        }

    def sample_grid(self, batch):
        """8 x 8 samples of the same fixed latents at every refresh (eval mode, precise BN)."""
        net = calibrated(self.g, self.options.z_dim, batches=4, batch=64, seed=self.seed)
        images = (net(self.fixed_z) + 1) / 2
        return [list(images[r * GRID_SIDE : (r + 1) * GRID_SIDE]) for r in range(GRID_SIDE)]

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        name = o.name or f"dcgan-{Path(o.data[0]).name}"
        info = ModelInfo(
            arch="dcgan_generator",
            options=asdict(self.g_config),
            task=generate_task(),
            name=name,
            description=f"DCGAN generator, {o.size}x{o.size} from {o.z_dim}-d latents, "
            f"trained on {', '.join(Path(d).name for d in o.data)}",
            training={**provenance, "data": list(o.data)},
        )
        path = Path(run_dir) / f"{name}.safetensors"
        save_model(path, calibrated(self.g, o.z_dim, seed=self.seed), info)
        return [path]


class LatentSamples(torch.utils.data.Dataset):
    """Item k: {'z': (z_dim,) ~ N(0, I)}, a pure function of (seed, k) like every training set."""

    def __init__(self, z_dim: int, seed: int):
        self.z_dim, self.seed = z_dim, seed

    def __len__(self):
        return 2**62

    def _z(self, *key) -> dict:
        z = np.random.default_rng([self.seed, *key]).standard_normal(self.z_dim)
        return {"z": torch.from_numpy(z.astype(np.float32))}

    def __getitem__(self, k: int):
        return self._z(2, k)

    def fixed_item(self, i: int):
        """Latent i of a sequence apart from the training draws, for comparable sample grids."""
        return self._z(3, i)

    def fixed_items(self, n: int) -> list:
        """The first n fixed latents: the training loop's sample batch."""
        return [self.fixed_item(i) for i in range(n)]


class DCGANEncoderRecipe(Recipe):
    state_attributes = ("e", "opt")
    method = "dcgan-encoder"

    def _generator(self):
        from ..models import resolve

        model = load_model(resolve(self.options.generator))
        if model.info.arch != "dcgan_generator":
            raise UsageError(f"{self.options.generator}: a {model.info.arch}, not a DCGAN generator")
        return model

    def dataset(self):
        return LatentSamples(self._generator().config.z_dim, self.seed)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        loaded = self._generator()
        self.g_info, g_cfg = loaded.info, loaded.config
        self.frozen_g = loaded.module.to(device)  # eval mode, no gradients for its weights
        self.e_config = DCGANEncoderConfig(size=g_cfg.size, ndf=o.ndf, channels=g_cfg.channels, z_dim=g_cfg.z_dim)
        self.e = DCGANDiscriminator(self.e_config).to(device)
        init_weights(self.e)
        self.opt = adam(self.e.parameters(), o.lr, (0.9, 0.999))

    def networks(self):
        return [self.e]

    def wrap_distributed(self, wrap):
        self.e = wrap(self.e)

    def train_step(self, batch, step):
        z = batch["z"].to(self.device)
        with torch.no_grad():
            x = self.frozen_g(z)
        z_hat = self.e(x)
        latent = F.mse_loss(z_hat, z)
        image = F.mse_loss(self.frozen_g(z_hat), x)
        self.opt.zero_grad(set_to_none=True)
        (latent + self.options.image_weight * image).backward()
        self.optimizer_step(self.opt)
        return {"latent": latent.item(), "image": image.item()}

    def sample_grid(self, batch):
        """Rows: G(z) | G(E(G(z))) for fixed latents."""
        z = batch["z"].to(self.device)
        self.e.eval()
        x = self.frozen_g(z)
        rec = self.frozen_g(self.e(x))
        self.e.train()
        return [[(a + 1) / 2, (b + 1) / 2] for a, b in zip(x, rec)]

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        name = o.name or f"{self.g_info.name or 'dcgan'}-encoder"
        info = ModelInfo(
            arch="dcgan_encoder",
            options=asdict(self.e_config),
            task=Task(kind="encode", value_range="-1,1"),
            name=name,
            description=f"latent encoder for {self.g_info.name or o.generator} (the starting guess of i2i invert)",
            training={**provenance, "generator": o.generator, "generator_name": self.g_info.name},
        )
        path = Path(run_dir) / f"{name}.safetensors"
        save_model(path, unwrap(self.e), info)
        return [path]
