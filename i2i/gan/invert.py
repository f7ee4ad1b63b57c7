"""GAN inversion: find z' with G(z') close to a real image, by optimisation from several starts.

Optimisation-based inversion (Zhu et al., "Generative Visual Manipulation on the Natural Image
Manifold", ECCV 2016; Creswell & Bharath 2018): minimise a pixel MSE plus a perceptual feature
distance over z with Adam. The result depends on where z starts, so every random start and,
when given, a learned encoder's guess are optimised together for the first quarter of the
budget; the best of them is then refined alone. The encoder (`i2i train dcgan-encoder`) is the
"hybrid" initialiser of Zhu et al.: a guess near the answer that optimisation sharpens.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from ..errors import UsageError
from .generator import LatentGenerator
from .options import InversionOptions  # noqa: F401  (declared without torch, for the command line)


@dataclass
class Inversion:
    z: torch.Tensor
    """(z_dim,) the latent found."""
    image: torch.Tensor
    """(3, size, size) G(z) in [0, 1]."""
    psnr: float
    """dB between G(z) and the target over RGB in [0, 1]."""
    start: str
    """Which start won: "encoder" or "random N"."""
    threads: int
    """CPU threads of the last steps (torch's on a GPU)."""


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [0, 1] over all channels and pixels."""
    mse = F.mse_loss(a.clamp(0, 1), b.clamp(0, 1)).item()
    return 10 * math.log10(1 / max(mse, 1e-12))


def square_image(im: Image.Image, size: int) -> torch.Tensor:
    """PIL image -> (3, size, size) in [0, 1]: the centred square, resized (Lanczos)."""
    from ..data.datasets import to_tensor

    im = ImageOps.exif_transpose(im).convert("RGB")
    return to_tensor(ImageOps.fit(im, (size, size), Image.LANCZOS))


class Inverter:
    """Inverts images for one generator; holds the loss network and the optional encoder."""

    def __init__(self, generator: LatentGenerator, options: InversionOptions = InversionOptions(), encoder=None):  # noqa: B008  (frozen)
        if options.starts < 0 or options.steps < 1 or (options.starts == 0 and encoder is None):
            raise UsageError("inversion needs --steps >= 1 and at least one start (--starts or --encoder)")
        self.g, self.options, self.encoder = generator, options, encoder
        self.threads = None  # StepThreads when the CPU's thread count is chosen by timing
        if generator.device.type == "cpu" and options.threads == 0:
            from ..devices import StepThreads

            self.threads = StepThreads()
        self.lossnet = None
        if options.perceptual_weight > 0:
            from ..lossnet import loss_network

            self.lossnet = loss_network().to(generator.device)
        if encoder is not None:
            self.encoder = encoder.eval().requires_grad_(False).to(generator.device)

    def _loss(self, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(n,) loss of each candidate image against the one target."""
        loss = ((images - target) ** 2).flatten(1).mean(1)
        if self.lossnet is not None:
            feats, goal = self.lossnet(images), self.lossnet(target)
            perceptual = sum(((a - b) ** 2).flatten(1).mean(1) for a, b in zip(feats, goal)) / len(feats)
            loss = loss + self.options.perceptual_weight * perceptual
        return loss

    def _starts(self, target: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        from .latents import sample_latents

        z = sample_latents(self.options.starts, self.g.z_dim, self.options.seed).to(self.g.device)
        names = [f"random {i}" for i in range(self.options.starts)]
        if self.encoder is not None:
            with torch.no_grad():
                guess = self.encoder(target * 2 - 1)
            z, names = torch.cat([guess, z]), ["encoder", *names]
        return z, names

    def invert(self, image: torch.Tensor, on_step=None) -> Inversion:
        """image: (3, size, size) in [0, 1]. The best latent after the whole budget.
        on_step(step, steps) is called after each Adam step (step counts from 1)."""
        before = torch.get_num_threads()
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        elif self.threads:
            self.threads.restart()  # from here on at its count: the encoder's guess and the last pass too
        target = image[None].to(self.g.device)
        try:
            z, names = self._optimise(target, on_step)
            with torch.no_grad():
                losses = self._loss(self.g.forward_differentiable(z), target)
                best = int(losses.argmin())
                result = self.g(z[best : best + 1].detach())[0]
            threads = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
        return Inversion(
            z=z[best].detach().cpu(), image=result, psnr=psnr(result, image), start=names[best], threads=threads
        )

    def _optimise(self, target: torch.Tensor, on_step) -> tuple[torch.Tensor, list[str]]:
        """(latents, their start names) after o.steps Adam steps: a quarter on every start
        together, the rest on the best alone."""
        o = self.options
        z, names = self._starts(target)
        z = z.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=o.lr)
        explore = max(1, o.steps // 4) if len(z) > 1 else 0
        for step in range(o.steps):
            if step == explore and len(z) > 1:
                with torch.no_grad():
                    best = int(self._loss(self.g.forward_differentiable(z), target).argmin())
                z = z[best : best + 1].detach().clone().requires_grad_(True)
                names = [names[best]]
                opt = torch.optim.Adam([z], lr=o.lr)
                if self.threads and self.threads.chosen not in (None, 1):
                    # One latent instead of all: less work per operation, so more threads may no
                    # longer pay. (Had one thread won, it would win again: no second trial.)
                    self.threads.restart()
            with self.threads.timing() if self.threads else nullcontext():
                loss = self._loss(self.g.forward_differentiable(z), target)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
            if on_step is not None:
                on_step(step + 1, o.steps)
        return z, names
