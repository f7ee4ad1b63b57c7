"""The options of GAN inversion (`i2i invert`), declared once: type, default and help (no torch).

The command line builds `i2i invert`'s options from these fields (cli/options.py), so a default
or a help line is changed here and nowhere else; the metadata keys are engine/options.py's.
"""

from dataclasses import dataclass

from ..engine.options import option


@dataclass(frozen=True, kw_only=True)
class InversionOptions:
    """How gan/invert.py's Inverter searches for each image's latent."""

    starts: int = option(8, "Random starting latents per image.", min=0)
    """Random starting latents per image (beside the encoder's guess, when there is one)."""
    steps: int = option(300, "Adam steps per image (a quarter on all starts, the rest on the best).", min=1)
    """Adam steps in all: a quarter on every start, the rest on the best."""
    lr: float = option(0.05, "Adam learning rate on z.")
    """Adam learning rate on z."""
    perceptual_weight: float = option(
        0.5,
        "Weight of the perceptual (EfficientNet-Lite0 feature) distance beside pixel MSE.",
        flag="--perceptual",
        min=0.0,
    )
    """Weight of the EfficientNet-Lite0 feature distance beside the pixel MSE (0: pixels only)."""
    seed: int = option(0, "Seeds the random starting latents.", metavar="N")
    """Seeds the random starts."""
    threads: int = option(
        0,
        "CPU threads; 0: one thread or torch's default, whichever the first steps of each image show "
        "faster now (on a busy machine more threads can be ten times slower).",
        min=0,
    )
    """CPU threads for torch; 0: timed at the start of each image and each phase, one thread or
    torch's default, whichever is faster now (devices.StepThreads: a busy machine makes more
    threads far slower)."""
