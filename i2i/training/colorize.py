"""Colorization recipe: pix2pix on Lab, L (1 channel) -> ab (2 channels), self-supervised."""

from __future__ import annotations

import copy
import dataclasses
import re
import statistics
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..archs.lite0_unet import load_imagenet_encoder
from ..archs.registry import build, get_spec
from ..checkpoint import LoadedModel, ModelInfo, load_model, save_model
from ..data.color import (
    AB_SCALE,
    ab_bin,
    ab_cell_centres,
    ab_counts,
    ab_gamut,
    ab_prior,
    gamut_class_weights,
    gamut_prior,
    l_from_net,
    l_to_net,
    lab_to_rgb,
    prior_correction,
    rebalancing_weights,
    rgb_to_lab,
    soft_encode,
)
from ..data.datasets import PhotoCrops, is_grayish, to_tensor
from ..errors import UsageError
from ..metrics import colourfulness, psnr
from ..task import Task
from .common import EMA, unwrap
from .pix2pix import Pix2PixRecipe

COLOURFULNESS_BAR = 0.7  # issue 19: median colourfulness of outputs at least 0.7 of the originals'


class ColorizeRecipe(Pix2PixRecipe):
    method = "colorize"
    in_channels, out_channels = 1, 2
    state_attributes = (*Pix2PixRecipe.state_attributes, "ema", "ema.updates")  # ema is None without --ema

    @property
    def g_arch(self) -> str:
        return self.options.arch

    def build_generator(self) -> torch.nn.Module:
        """pix2pix's U-Net (--arch unet), or the U-Net decoder on the ImageNet EfficientNet-Lite0
        (--arch lite0_unet: archs/lite0_unet.py), whose encoder is loaded in init_generator."""
        o = self.options
        if o.arch == "unet":
            return super().build_generator()
        options = {"in_channels": 1, "out_channels": 2, "width": o.ngf, "global_features": o.global_features}
        if o.loss == "classification":
            options.update(bins=len(self.ab_classes), temperature=o.temperature)
        module, self.g_config = build(o.arch, options)
        if o.loss == "classification":
            module.ab_centres.copy_(ab_cell_centres()[self.ab_classes])
        return module

    def init_generator(self, g: torch.nn.Module) -> None:
        """unet: pix2pix's N(0, 0.02); lite0_unet: ImageNet weights in the encoder (frozen unless
        --finetune-encoder), the decoder as the architecture initialises it."""
        if self.options.arch == "unet":
            return super().init_generator(g)
        load_imagenet_encoder(g)
        g.set_encoder_trainable(self.options.finetune_encoder)

    def setup(self, device, total_steps):
        if self.options.loss == "classification":
            self.dataset()  # the classes are the training photos' gamut (a resumed run rebuilds them)
        super().setup(device, total_steps)
        # The averaged weights are steadier than the last step's: colour flips between updates.
        self.ema = EMA(self.g, self.options.ema) if self.options.ema else None

    def train_step(self, batch, step):
        if self.options.loss == "classification":
            losses = self.classification_step(batch)
        else:
            losses = super().train_step(batch, step)
        if self.ema:
            self.ema.update(self.g)
        return losses

    @property
    def generator(self) -> torch.nn.Module:
        """What is validated and exported: the EMA weights with --ema, else the trained ones."""
        return self.ema.module if self.ema else unwrap(self.g)

    def dataset(self):
        """The photos (built once: the classifier's setup needs their gamut before the loop asks)."""
        if getattr(self, "_data", None) is not None:
            return self._data
        o = self.options
        self._data = data = PhotoCrops(
            o.data, crop=o.crop, resize=o.load_size, seed=self.seed, exclude=is_grayish, holdout=o.holdout
        )
        self.skipped_gray = data.excluded
        self.held = data.held
        if o.loss == "classification":
            counts = ab_counts(to_tensor(im)[None] for im in data.base)
            # Fine-tuning keeps the --init model's classes: other photos fill a few cells more or less.
            self.ab_classes = _init_classes(o.init) if o.init else ab_gamut(counts)
            self.class_weights = gamut_class_weights(counts, self.ab_classes, o.rebalance)
            self.class_prior = gamut_prior(counts, self.ab_classes)  # for a prior correction at ship time
        elif o.rebalance:
            prior = ab_prior([to_tensor(im)[None] for im in data.base])
            self.ab_weights = rebalancing_weights(prior, mix=1 - o.rebalance)
        return data

    def classification_step(self, batch):
        """Zhang et al. 2016: cross-entropy between the generator's class logits at stride 4 and the
        soft-encoded true ab (averaged over 4x4 pixels), each position weighted by the rebalancing
        weight of its nearest class (--rebalance)."""
        l_net, ab_net = self.net_io(batch)
        fake_ab, logits = self.g(l_net, return_logits=True)
        centres = unwrap(self.g).ab_centres
        true_ab = F.avg_pool2d(ab_net * AB_SCALE, 4)
        target, nearest = soft_encode(true_ab, centres)
        weight = self.class_weights.to(logits.device)[nearest]  # (B, h, w)
        ce = (weight * -(target * F.log_softmax(logits.float(), 1)).sum(1)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        ce.backward()
        self.optimizer_step(self.opt_g)
        self.sched_g.step()  # the discriminator is idle: its optimizer and schedule stay as built
        return {"ce": ce.item(), "l1": F.l1_loss(fake_ab.detach(), ab_net).item()}

    def spectral_terms(self, fake_ab, real_ab):
        """No spectral terms: colorize has no --grid-weight or --spectrum-weight (its output is ab,
        which holds no luma to measure a spectrum of)."""
        return {}

    def reconstruction_loss(self, fake_ab, real_ab):
        """L1 on ab, each pixel weighted by the rarity of its true colour with --rebalance."""
        if not self.options.rebalance:
            return super().reconstruction_loss(fake_ab, real_ab)
        w = self.ab_weights.to(real_ab.device)[ab_bin(real_ab * AB_SCALE)]  # (B, H, W)
        return (w[:, None] * (fake_ab - real_ab).abs()).mean()

    @torch.no_grad()
    def evaluate(self):
        """On the held-out photos (--holdout): PSNR gain (dB, RGB) over the all-gray answer, mean over
        photos, and the median colourfulness ratio of outputs to originals (benchmarks/colorize_quality.py's
        measures), on each photo's centre cropped to the generator's size multiple."""
        if not self.held:
            return {}
        m = get_spec(self.g_arch).size_multiple(self.g_config)
        gains, ratios = [], []
        g = self.generator
        g.eval()
        for im in self.held:
            w, h = im.size
            if w < m or h < m:
                continue
            left, top = (w % m) // 2, (h % m) // 2
            rgb = to_tensor(im.crop((left, top, left + w - w % m, top + h - h % m)))[None].to(self.device)
            lab = rgb_to_lab(rgb)
            out = lab_to_rgb(torch.cat([lab[:, :1], g(l_to_net(lab[:, :1])).float() * AB_SCALE], 1))
            gray = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))
            gains.append(psnr(out, rgb) - psnr(gray, rgb))
            ratios.append(colourfulness(out) / max(colourfulness(rgb), 1e-6))
        self.g.train()  # the EMA copy stays in eval mode
        if not gains:
            return {}
        return {"psnr_gain": statistics.fmean(gains), "colourfulness": statistics.median(ratios)}

    def selection_key(self, metrics):
        """The most faithful model (PSNR gain over gray) among those at least as colourful as
        issue 19 asks (median ratio 0.7); below that, the more colourful one."""
        return (min(metrics["colourfulness"], COLOURFULNESS_BAR), metrics["psnr_gain"])

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
        on = " on an ImageNet EfficientNet-Lite0 encoder" if o.arch == "lite0_unet" else ""
        info = ModelInfo(
            arch=self.g_arch,
            options=asdict(self.g_config),
            task=self.task(),
            name=o.name,
            description=self.description(on),
            training={
                **provenance,
                "data": list(o.data),
                "gan": o.gan,
                "loss": o.loss,
                "rebalance": o.rebalance,
                "skipped_grayscale": getattr(self, "skipped_gray", None),
                # p(ab class) of the training photos, per class: what a prior correction at ship
                # time (with_decoding) needs, kept with the model rather than with its run.
                **({"ab_prior": stored_prior(self.class_prior)} if o.loss == "classification" else {}),
            },
        )
        path = Path(run_dir) / f"{o.name}.safetensors"
        save_model(path, self.generator, info)
        return [path]

    def description(self, on: str) -> str:
        o = self.options
        if o.loss == "classification":
            return (
                f"colorization: Lab L -> ab{on}, classification over {self.g_config.bins} ab cells "
                f"(Zhang et al. 2016, rebalance {o.rebalance}), annealed mean at T = {self.g_config.temperature}"
            )
        return f"colorization: Lab L -> ab{on} ({'pix2pix-style cGAN' if o.gan else 'L1 only'})"


def stored_prior(prior) -> list[float]:
    """(Q,) p(class) as metadata stores it (training.ab_prior): 4 significant digits."""
    return [float(f"{p:.4g}") for p in prior]


def with_decoding(model: LoadedModel, temperature: float, correction: float = 0.0, prior=None) -> LoadedModel:
    """A classification colorizer (`--loss classification`) decoded otherwise: the annealed mean at
    `temperature` (Zhang et al. 2016: 1 the predicted distribution's mean, towards 0 its mode) after
    its logits are offset by prior_correction(prior, correction) (logit adjustment, Menon et al.
    2021), added to any correction it already has. prior: (Q,) p(class) of its training photos,
    by default the one its training stored (training.ab_prior; a prior given is stored there when
    the model has none). The model given is left as it is; the result's metadata
    (options.temperature, training.prior_correction, the description) says how it decodes, and
    its figures (training.metrics) move to training.decoded_from with the decoding they measured.
    Raises UsageError for a model without classes, or a correction without a prior.
    """
    if not getattr(model.config, "bins", 0):
        raise UsageError(f"{model.path}: not a classification colorizer (no ab classes)")
    info = model.info
    module = copy.deepcopy(model.module)
    module.temperature = temperature
    total = info.training.get("prior_correction", 0.0) + correction
    # The figures measured the model as it decoded before: kept with that decoding, not as its own.
    training = {k: v for k, v in info.training.items() if k != "metrics"}
    if "metrics" in info.training:
        training["decoded_from"] = {
            "temperature": model.config.temperature,
            "prior_correction": info.training.get("prior_correction", 0.0),
            "metrics": info.training["metrics"],
        }
    if prior is not None and "ab_prior" not in training:
        training["ab_prior"] = stored_prior(prior)
    if correction:
        prior = info.training.get("ab_prior") if prior is None else prior
        if prior is None:
            raise UsageError(f"{model.path}: no ab_prior in its metadata for a prior correction; give its run's")
        module.offset_logits(prior_correction(torch.as_tensor(prior, dtype=torch.float64), correction))
        training["prior_correction"] = total
    decode = f"annealed mean at T = {temperature:g}"
    if total:
        decode += f" after a prior correction of {total:g} (logit adjustment, Menon et al. 2021)"
    description = re.sub(
        r"annealed mean at T = [-+0-9.e]+( after a prior correction of [-+0-9.e]+ \([^)]*\))?", decode, info.description
    )
    config = dataclasses.replace(model.config, temperature=temperature)
    info = dataclasses.replace(
        info, options={**info.options, "temperature": temperature}, description=description, training=training
    )
    return dataclasses.replace(model, module=module, config=config, info=info)


def _init_classes(path: str) -> torch.Tensor:
    """(Q,) int64 ab cells (ab_gamut's form) of the exported classifier colorizer at `path`.
    Raises UsageError when that model predicts no ab classes (an L1 colorizer)."""
    classes = model_ab_classes(load_model(path).module)
    if classes is None:
        raise UsageError(f"--init {path}: not a colorizer trained with --loss classification (it has no ab classes)")
    return classes


def model_ab_classes(module) -> torch.Tensor | None:
    """(Q,) int64 ab cells (ab_gamut's form) a classifier colorizer predicts, from its centres
    (a blend of models sums them: their cells are the same); None for a model without classes."""
    centres = getattr(module, "ab_centres", None)
    return None if centres is None else ab_bin(centres.float().T[None, :, :, None]).flatten()
