"""The shipped DCGAN and the GAN toolkit, with no download:

1. Sample quality: Fréchet distance (Heusel et al. 2017, FID's formula) in EfficientNet-Lite0
   feature space (the loss network's deepest tap, average-pooled, images resized to 128 px)
   between generated images and the training photos (monet2photo/trainB at 64x64, resized and
   centre-cropped as in training), beside the same distance for blurred-noise images (a floor
   any generator should beat) and for one half of the training photos against the other (what
   real photos score; same sample sizes where compared).
2. Inversion PSNR on held-back photos (monet2photo/testB, 64x64): random starts vs the
   shipped encoder's guess, each refined with the default budget.
3. Dissection: the fraction of sky pixels in generated images before and after switching off
   the top sky units that `i2i dissect` finds.

Run: python benchmarks/gan_toolkit.py [--photos 8] (CPU, one thread)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.gan.dissect import ablation_effect, concept_fraction, dissect  # noqa: E402
from i2i.gan.generator import LatentGenerator  # noqa: E402
from i2i.gan.invert import InversionOptions, Inverter, square_image  # noqa: E402
from i2i.gan.latents import sample_latents  # noqa: E402
from i2i.lossnet import efficientnet_lite0  # noqa: E402

FEATURE_SIZE = 128  # px the 64x64 images are resized to before the feature network
SKY_LAYER, SKY_UNITS = "layer3", 8  # 16x16, 64 units: 8 of them off halves sky where layer2 needs 16


def training_photos(size: int) -> torch.Tensor:
    """(N, 3, size, size): trainB as the recipe sees it without augmentation (short side
    size * 9/8, centre crop)."""
    out = []
    for f in list_images(DATA / "monet2photo/trainB"):
        im = Image.open(f).convert("RGB")
        im = im.resize((size * 9 // 8, size * 9 // 8), Image.BICUBIC)
        out.append(to_tensor(ImageOps.fit(im, (size, size), Image.BICUBIC)))
    return torch.stack(out)


def blurred_noise(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Gaussian noise blurred (sigma 3 px): colour blobs with no structure."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g)
    k = torch.exp(-(torch.arange(-9, 10, dtype=torch.float32) ** 2) / (2 * 3.0**2))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (9, 9, 0, 0), mode="reflect"), k, groups=3)
    x = F.conv2d(F.pad(x, (0, 0, 9, 9), mode="reflect"), k.transpose(2, 3), groups=3)
    return (0.5 + 0.25 * x / x.std()).clamp(0, 1)


@torch.no_grad()
def features(net, images: torch.Tensor, batch: int = 50) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch):
        x = F.interpolate(images[i : i + batch], size=FEATURE_SIZE, mode="bilinear", align_corners=False)
        out.append(net(x)[-1].mean((2, 3)).double().numpy())
    return np.concatenate(out)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(Ca + Cb - 2 (Ca Cb)^1/2); the trace of the square root is the sum
    of square roots of the eigenvalues of Ca Cb (real and non-negative for PSD Ca, Cb)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(ca @ cb).real.clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(eig).sum())


def sample_quality(gen: LatentGenerator) -> None:
    net = efficientnet_lite0()
    real = features(net, training_photos(gen.size))
    generated = features(net, gen(sample_latents(1000, gen.z_dim, seed=1000)))
    noise = features(net, blurred_noise(1000, gen.size))
    half = len(real) // 2
    emit("FD generated (1000) vs trainB (400)", frechet_distance(generated, real), "", "below blurred noise")
    emit("FD blurred noise (1000) vs trainB (400)", frechet_distance(noise, real))
    emit(f"FD generated ({half}) vs trainB first half ({half})", frechet_distance(generated[:half], real[:half]))
    emit(
        f"FD trainB second half vs first half ({half} each)",
        frechet_distance(real[half:], real[:half]),
        "",
        "what real photos score",
    )


def inversion(gen: LatentGenerator, photos: int) -> None:
    from i2i.gan.api import load_encoder

    encoder = load_encoder(None, "dcgan-landscapes", gen)
    files = list_images(DATA / "monet2photo/testB")[:photos]
    targets = [square_image(Image.open(f), gen.size) for f in files]
    modes = {"8 random starts": Inverter(gen, InversionOptions())}
    if encoder is not None:
        modes["encoder start"] = Inverter(gen, InversionOptions(starts=0), encoder=encoder)
        with torch.no_grad():
            guesses = gen(encoder(torch.stack(targets) * 2 - 1))
        from i2i.gan.invert import psnr

        emit(
            f"inversion PSNR, encoder guess alone, testB {photos} photos",
            sum(psnr(g, t) for g, t in zip(guesses, targets)) / photos,
            "dB",
        )
    for name, inverter in modes.items():
        started = time.process_time()
        values = [inverter.invert(t).psnr for t in targets]
        emit(f"inversion PSNR, {name} + 300 Adam steps, testB {photos} photos", sum(values) / photos, "dB")
        emit(f"inversion CPU time per photo, {name}", (time.process_time() - started) / photos, "s")


def sky_ablation(gen: LatentGenerator) -> None:
    """Sky pixels before and after switching off the top sky units, and, as a control, after
    switching off as many units chosen at random (the mean over 5 draws)."""
    from i2i.gan.generator import UnitEdit

    report = dissect(gen, SKY_LAYER, concepts={"sky": None}, n=200, seed=0)
    before, after = ablation_effect(gen, report, "sky", SKY_UNITS, n=256, seed=1)
    units = ",".join(map(str, report.top_units("sky", SKY_UNITS)))
    print(
        f"top sky units of {SKY_LAYER}: {units} (IoU {report.ranking['sky'][0].iou:.3f} .. "
        f"{report.ranking['sky'][SKY_UNITS - 1].iou:.3f})"
    )
    emit("sky pixels in 256 samples, before ablation", 100 * concept_fraction(before, "sky"), "%")
    emit(
        f"sky pixels after switching off the top {SKY_UNITS} sky units of {SKY_LAYER}",
        100 * concept_fraction(after, "sky"),
        "%",
        "visibly less sky",
    )
    z = sample_latents(256, gen.z_dim, seed=1)
    g = torch.Generator().manual_seed(0)
    control = []
    for _ in range(5):
        chosen = tuple(torch.randperm(len(report.ranking["sky"]), generator=g)[:SKY_UNITS].tolist())
        with gen.edited([UnitEdit(layer=SKY_LAYER, units=chosen)]):
            control.append(concept_fraction(gen(z), "sky"))
    emit(
        f"sky pixels after switching off {SKY_UNITS} random units of {SKY_LAYER} (control, 5 draws)",
        100 * sum(control) / len(control),
        "%",
        "near the before figure",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8, help="held-back photos to invert")
    parser.add_argument("--parts", default="quality,sky,inversion", help="comma-separated parts to run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {machine()}")
    gen = LatentGenerator.load(str(WEIGHTS / "dcgan-landscapes.safetensors"), device="cpu")
    parts = {
        "quality": lambda: sample_quality(gen),
        "sky": lambda: sky_ablation(gen),
        "inversion": lambda: inversion(gen, args.photos),
    }
    for part in args.parts.split(","):
        parts[part]()


if __name__ == "__main__":
    main()
