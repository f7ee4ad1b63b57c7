"""pix2pix recipe: U-Net generator, conditional PatchGAN, L1 + cGAN (Isola et al.)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..archs.patchgan import PatchGAN, PatchGANConfig
from ..archs.unet import UNetConfig, UNetGenerator
from ..checkpoint import ModelInfo, save_model
from ..data.datasets import PairedCrops, load_pairs
from ..losses import gan_loss, grid_excess, set_requires_grad, spectrum_distance
from ..task import Task
from .common import adam, constant_then_linear, unwrap, warm_start
from .recipe import Recipe


class Pix2PixRecipe(Recipe):
    method = "pix2pix"
    in_channels, out_channels = 3, 3
    state_attributes = ("g", "d", "opt_g", "opt_d", "sched_g", "sched_d")

    def dataset(self):
        o = self.options
        pairs = load_pairs(o.data, o.direction, o.holdout)
        return PairedCrops(pairs, load_size=o.load_size, crop=o.crop, seed=self.seed)

    g_arch = "unet"
    """Registry id of the generator (what export() records)."""

    def build_generator(self) -> torch.nn.Module:
        """The generator, built (sets self.g_config); setup() then initialises it (init_generator)."""
        o = self.options
        self.g_config = UNetConfig(
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            num_downs=o.num_downs,
            ngf=o.ngf,
            norm=o.norm,
            dropout=o.dropout,
            upsample=o.upsample,
            full_res_channels=o.full_res_channels,
        )
        return UNetGenerator(self.g_config)

    def init_generator(self, g: torch.nn.Module) -> None:
        _init_weights(g)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        self.g = self.build_generator().to(device)
        self.d = PatchGAN(
            PatchGANConfig(
                in_channels=self.in_channels + self.out_channels, ndf=o.ndf, n_layers=o.n_layers, norm=o.norm
            )
        ).to(device)
        self.init_generator(self.g)
        _init_weights(self.d)
        if o.init:
            warm_start(self.g, self.g_arch, self.g_config, o.init)
        self.opt_g = adam(self.g.parameters(), o.lr, (0.5, 0.999))
        self.opt_d = adam(self.d.parameters(), o.lr, (0.5, 0.999))
        rule = constant_then_linear(total_steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule)

    def wrap_distributed(self, wrap):
        self.g, self.d = wrap(self.g), wrap(self.d)

    # (B, C, H, W) in [0, 1] from the dataset -> the networks' [-1, 1]
    def net_io(self, batch):
        return batch["input"].to(self.device) * 2 - 1, batch["target"].to(self.device) * 2 - 1

    def train_step(self, batch, step):
        o = self.options
        real_a, real_b = self.net_io(batch)
        fake_b = self.g(real_a)
        losses = {}
        if o.gan:
            set_requires_grad(self.d, True)
            d_fake = self.d(torch.cat([real_a, fake_b.detach()], 1))
            d_real = self.d(torch.cat([real_a, real_b], 1))
            d_loss = 0.5 * (gan_loss(d_fake, False, o.gan_mode) + gan_loss(d_real, True, o.gan_mode))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizer_step(self.opt_d)
            set_requires_grad(self.d, False)
            g_gan = gan_loss(self.d(torch.cat([real_a, fake_b], 1)), True, o.gan_mode)
            losses.update(d=d_loss.item(), g_gan=g_gan.item())
        else:
            g_gan = torch.zeros((), device=self.device)
        l1 = self.reconstruction_loss(fake_b, real_b)
        g_loss = g_gan + o.lambda_l1 * l1
        for name, (weight, term) in self.spectral_terms(fake_b, real_b).items():
            g_loss = g_loss + weight * term
            losses[name] = term.item()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer_step(self.opt_g)
        self.sched_g.step()
        self.sched_d.step()
        losses["l1"] = l1.item()
        return losses

    def reconstruction_loss(self, fake_b, real_b):
        """The L1 term (weighted by --lambda-l1)."""
        return F.l1_loss(fake_b, real_b)

    def spectral_terms(self, fake_b, real_b) -> dict[str, tuple[float, torch.Tensor]]:
        """The generator's optional spectral terms, {name: (weight, loss)}: with --grid-weight the
        outputs' excess power at the harmonics of the --grid-period grid over the ground truth's
        (losses.grid_excess), with --spectrum-weight the
        distance of their azimuthal power spectra (losses.spectrum_distance)."""
        o = self.options
        fake, real = (fake_b + 1) / 2, (real_b + 1) / 2  # [-1, 1] -> [0, 1]
        terms = {}
        if o.grid_weight:
            terms["grid"] = o.grid_weight, grid_excess(fake, real, o.grid_period)
        if o.spectrum_weight:
            terms["spectrum"] = o.spectrum_weight, spectrum_distance(fake, real)
        return terms

    def to_display(self, a, b):
        """Network tensors -> (3, H, W) RGB in [0, 1] for the sample grid."""
        return (a + 1) / 2, (b + 1) / 2

    def sample_grid(self, batch):
        """Rows: input | output | target, as to_display shows them (colorize: L, L + ab, truth)."""
        real_a, real_b = self.net_io(batch)
        self.g.eval()
        fake_b = self.g(real_a)
        self.g.train()
        rows = []
        for a, f, b in zip(real_a, fake_b, real_b):
            shown_a, shown_f = self.to_display(a[None], f[None])
            _, shown_b = self.to_display(a[None], b[None])
            rows.append([shown_a[0], shown_f[0], shown_b[0]])
        return rows

    def task(self) -> Task:
        return Task(kind="translate", value_range="-1,1")

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        name = o.name or f"{Path(o.data).name}-{o.direction}"
        info = ModelInfo(
            arch="unet",
            options=asdict(self.g_config),
            task=self.task(),
            name=name,
            description=f"{self.method} generator trained on {Path(o.data).name} ({o.direction})",
            training={**provenance, "data": o.data, "holdout": o.holdout, "direction": o.direction, "gan": o.gan},
        )
        path = Path(run_dir) / f"{name}.safetensors"
        save_model(path, unwrap(self.g), info)
        return [path]


def _init_weights(net, gain: float = 0.02) -> None:
    """Normal(0, 0.02) init of the reference implementation."""
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, gain)
            torch.nn.init.zeros_(m.bias)
