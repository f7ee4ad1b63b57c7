"""The registry of training methods (torch-free): each one's options dataclass, recipe class,
command help and loop defaults. `i2i train METHOD` has one command per entry, and the tests
iterate over it; adding a method is one Method here (CONTRIBUTING.md)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace

from ..errors import UsageError
from . import options as o


@dataclass(frozen=True)
class Method:
    """A training method: what `i2i train NAME` trains and how it starts by default."""

    name: str
    options: type
    """The method's frozen options dataclass (training/options.py)."""
    recipe: str
    """The Recipe subclass as "module:Class" under i2i.training, imported on demand (torch)."""
    help: str
    """The command's help: one line, then an example."""
    steps: int
    """Default total steps."""
    sample_every: int = 200
    """Default steps between sample grids."""
    eval_every: int = 0
    """Default steps between validations (0: at the end only)."""
    workers: int = 1
    """Default data loading workers (0 where batches are generated, not loaded)."""

    def recipe_class(self) -> type:
        module_name, class_name = self.recipe.split(":")
        return getattr(importlib.import_module(f".{module_name}", __package__), class_name)

    def loop_options(self, **given) -> o.LoopOptions:
        """LoopOptions with this method's defaults; given values that are not None replace them."""
        defaults = o.LoopOptions(
            steps=self.steps, sample_every=self.sample_every, eval_every=self.eval_every, workers=self.workers
        )
        return replace(defaults, **{k: v for k, v in given.items() if v is not None})


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "srgan",
            o.SRGANOptions,
            "srgan:SRGANRecipe",
            steps=20000,
            sample_every=500,
            eval_every=2000,
            help="Train an SR generator: SRResNet with L1, then (--gan) SRGAN.\n\n"
            "Example: i2i train srgan --data hr_photos/ --val Set5/ --scale 4 --max-minutes 90",
        ),
        Method(
            "style",
            o.StyleOptions,
            "style:StyleRecipe",
            steps=600,
            sample_every=100,
            help="Train a fast style-transfer network for one painting.\n\n"
            "Example: i2i train style --style starry_night.jpg --data photos/ --steps 600",
        ),
        Method(
            "pix2pix",
            o.Pix2PixOptions,
            "pix2pix:Pix2PixRecipe",
            steps=20000,
            help="Train pix2pix (U-Net + conditional PatchGAN, L1 + cGAN) on paired images.\n\n"
            "Example: i2i train pix2pix --data facades/ --direction BtoA --ngf 32 --ndf 32 --norm instance",
        ),
        Method(
            "cyclegan",
            o.CycleGANOptions,
            "cyclegan:CycleGANRecipe",
            steps=20000,
            help="Train CycleGAN (unpaired, LSGAN, cycle + identity loss, image pool).\n\n"
            "Example: i2i train cyclegan --data monet2photo/ --ngf 16 --blocks 6 --crop 128",
        ),
        Method(
            "colorize",
            o.ColorizeOptions,
            "colorize:ColorizeRecipe",
            steps=6000,
            help="Train a colorizer (Lab L -> ab, L1 + cGAN) from any folder of colour photos.\n\n"
            "Example: i2i train colorize --data photos/ --max-minutes 120",
        ),
        Method(
            "dcgan",
            o.DCGANOptions,
            "dcgan:DCGANRecipe",
            steps=5000,
            help="Train a DCGAN (unconditional: latent vector -> image) on a folder of photos.\n\n"
            "Example: i2i train dcgan --data landscapes/ --size 64 --ngf 32 --ndf 32",
        ),
        Method(
            "dcgan-encoder",
            o.DCGANEncoderOptions,
            "dcgan:DCGANEncoderRecipe",
            steps=2000,
            workers=0,
            help="Train an image -> latent encoder for a DCGAN generator on generated pairs (for i2i invert).\n\n"
            "Example: i2i train dcgan-encoder --generator dcgan-landscapes --steps 2000",
        ),
    )
}


def method(name: str) -> Method:
    """The registered method called `name`; UsageError listing the known ones otherwise."""
    if name not in METHODS:
        raise UsageError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]
