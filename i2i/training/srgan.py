"""Super-resolution recipe: stage 1 SRResNet (L1), stage 2 SRGAN (adversarial + perceptual).

degradation="bicubic" trains on clean bicubic downscales (the classic benchmarks);
degradation="real" makes every LR patch with Real-ESRGAN's second-order degradation model
(blur, resize, noise, JPEG, twice, then sinc + JPEG), so the model learns to undo what web and
phone photos suffer, and validates on Set5/Set14 degraded by the fixed FixedDegradation.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..archs.patchgan import PatchGAN, PatchGANConfig
from ..archs.srresnet import SRResNet, SRResNetConfig
from ..archs.unet_discriminator import UNetDiscriminatorConfig, UNetDiscriminatorSN
from ..checkpoint import ModelInfo, save_model
from ..data.datasets import SRPatches, list_images, to_tensor
from ..data.degradations import FixedDegradation
from ..data.image_io import load_rgb
from ..losses import gan_loss, grid_excess, set_requires_grad
from ..metrics import feature_distance, psnr_y, ssim_y
from ..task import Task
from .common import EMA, adam, cosine_lambda, warm_start
from .recipe import Recipe


class SRGANRecipe(Recipe):
    method = "srgan"
    # d, opt_d and sched_d exist only with --gan
    state_attributes = ("g", "ema", "ema.updates", "opt_g", "sched_g", "d", "opt_d", "sched_d")

    def dataset(self):
        o = self.options
        degrade = o.real_degradation if o.degradation == "real" else None
        return SRPatches(o.data, scale=o.scale, crop=o.crop, seed=self.seed, degrade=degrade, sharpen_hr=o.sharpen_hr)

    def setup(self, device, total_steps):
        o = self.options
        self.device = device
        self.g_config = SRResNetConfig(scale=o.scale, channels=o.channels, blocks=o.blocks, upsampler=o.upsampler)
        self.g = SRResNet(self.g_config).to(device)
        if o.init:
            warm_start(self.g, "srresnet", self.g_config, o.init)
        self.ema = EMA(self.g, o.ema)
        self.opt_g = adam(self.g.parameters(), o.lr, (0.9, 0.99))
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(
            self.opt_g, cosine_lambda(total_steps, warmup=min(200, total_steps // 20))
        )
        self.nets = {"g": self.g}
        if o.gan:
            from ..lossnet import loss_network

            self.d = self._discriminator().to(device)
            self.opt_d = adam(self.d.parameters(), o.lr, (0.9, 0.99))
            self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, cosine_lambda(total_steps))
            self.lossnet = loss_network(o.loss_net).to(device)
            self.nets["d"] = self.d
        self._val = None

    def _discriminator(self):
        if self.options.discriminator == "unet":
            return UNetDiscriminatorSN(UNetDiscriminatorConfig(in_channels=3, ndf=32))
        return PatchGAN(PatchGANConfig(in_channels=3, ndf=32, n_layers=3, norm="none"))

    def wrap_distributed(self, wrap):
        self.g = wrap(self.g)
        if self.options.gan:
            self.d = wrap(self.d)

    def train_step(self, batch, step):
        o = self.options
        lr, hr = batch["lr"].to(self.device), batch["hr"].to(self.device)
        sr = self.g(lr)
        losses = {}
        loss = o.pixel_weight * F.l1_loss(sr, hr)
        losses["l1"] = F.l1_loss(sr.detach(), hr).item()
        if o.grid_weight:
            grid = grid_excess(sr, hr, o.grid_period)
            loss = loss + o.grid_weight * grid
            losses["grid"] = grid.item()
        if o.gan:
            fs, fh = self.lossnet(sr), self.lossnet(hr)
            compare = feature_distance if o.perceptual_loss == "lpips" else F.l1_loss
            perc = sum(compare(a, b) for a, b in zip(fs, fh)) / len(fs)
            set_requires_grad(self.d, False)
            adv = gan_loss(self.d(sr), True, "vanilla")
            loss = loss + o.perceptual_weight * perc + o.adv_weight * adv
            losses.update(perceptual=perc.item(), g_adv=adv.item())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_step(self.opt_g)
        self.sched_g.step()
        self.ema.update(self.g)
        if o.gan:
            set_requires_grad(self.d, True)
            d_loss = 0.5 * (gan_loss(self.d(hr), True, "vanilla") + gan_loss(self.d(sr.detach()), False, "vanilla"))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizer_step(self.opt_d)
            self.sched_d.step()
            losses["d"] = d_loss.item()
        return losses

    def sample_grid(self, batch):
        """Rows: bicubic upscale | the EMA network's output | HR truth."""
        lr, hr = batch["lr"].to(self.device), batch["hr"].to(self.device)
        sr = self.ema.module(lr).clamp(0, 1)
        up = F.interpolate(lr, scale_factor=self.options.scale, mode="bicubic").clamp(0, 1)
        return [[u, s, h] for u, s, h in zip(up, sr, hr)]

    # ---- validation: PSNR/SSIM on Y, `scale` pixels shaved; LR made with PIL bicubic, or with
    # the fixed degradation of benchmarks/sr_real.py for a real-degradation model ----
    def _validation_images(self):
        if self._val is None:
            s, self._val = self.options.scale, []
            for folder in self.options.val:
                for f in list_images(folder):
                    hr = load_rgb(f)
                    w, h = hr.size[0] - hr.size[0] % s, hr.size[1] - hr.size[1] % s
                    hr = hr.crop((0, 0, w, h))
                    if self.options.degradation == "real":
                        lr = FixedDegradation()(hr, s, seed=FixedDegradation.seed_for(f))
                    else:
                        lr = hr.resize((w // s, h // s), Image.BICUBIC)
                    gray = Image.open(f).mode in ("L", "I;16", "1")
                    self._val.append((Path(folder).name, to_tensor(lr)[None], to_tensor(hr)[None], gray))
        return self._val

    @torch.no_grad()
    def evaluate(self):
        results: dict[str, list[tuple[float, float]]] = {}
        net = self.ema.module
        for set_name, lr, hr, gray in self._validation_images():
            sr = net(lr.to(self.device)).cpu().clamp(0, 1)
            if gray:
                sr, hr = sr.mean(1, keepdim=True), hr[:, :1]
            s = self.options.scale
            results.setdefault(set_name, []).append((psnr_y(sr, hr, s), ssim_y(sr, hr, s)))
        out = {}
        for name, vals in results.items():
            out[f"psnr_{name}"] = sum(v[0] for v in vals) / len(vals)
            out[f"ssim_{name}"] = sum(v[1] for v in vals) / len(vals)
        return out

    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        o = self.options
        real = o.degradation == "real"
        name = o.name or f"upscale-x{o.scale}" + (
            ("-real" if o.gan else "-real-psnr") if real else ("-gan" if o.gan else "")
        )
        kind = "SRGAN" if o.gan else "SRResNet, L1"
        if real:
            kind += ", trained on real-world degradations (blur, noise, JPEG)"
        training = {
            **provenance,
            "data": list(o.data),
            "val": list(o.val),
            "degradation": o.degradation,
            "sharpen_hr": o.sharpen_hr,
            "init": o.init,
        }
        if real:
            training["real_degradation"] = o.real_degradation.to_dict()
        if o.gan:
            training["discriminator"] = o.discriminator
        if o.gan and o.init:
            # The stage it was fine-tuned from: `i2i upscale --denoise` blends towards it.
            from ..checkpoint import read_info

            training["psnr_stage"] = read_info(o.init).name
        info = ModelInfo(
            arch="srresnet",
            options=asdict(self.g_config),
            task=Task(kind="upscale", value_range="0,1", scale=o.scale),
            name=name,
            description=f"x{o.scale} super-resolution ({kind})",
            training=training,
        )
        path = Path(run_dir) / f"{name}.safetensors"
        save_model(path, self.ema.module, info)
        return [path]
