"""CycleGAN photo <-> Monet: how far each translation moves the test images towards the other
domain, and how well a round trip comes back.

For each direction (monet2photo: Monet test paintings -> photos; photo2monet: test photos ->
Monets) on `monet2photo/testA` (Monet) and `testB` (photos), which no training or checkpoint
choice reads:
- Fréchet distance (Heusel et al. 2017's formula) between the translated images and the target
  domain's test images, in the features of a network no training recipe uses (EfficientNet-Lite2,
  ImageNet weights, its deepest tap: 528 channels at stride 16). With 50 images a side, every
  spatial feature vector is a sample (16 x 16 per 256 px image), as SinGAN's SIFID does
  (Shaham et al. 2019), so the 528-dim covariances are well determined.
- the same distance for the untranslated inputs, and the ratio (below 1: the translation moved
  them towards the target domain; the issue's target is <= 0.8);
- cycle reconstruction PSNR (RGB, dB): the other generator applied to the translation, against
  the input.

Run: python benchmarks/cyclegan_quality.py [--monet2photo FILE] [--photo2monet FILE]
(default: the shipped weights/monet2photo.safetensors and weights/photo2monet.safetensors; a
direction whose file does not exist is not measured, and without both no cycle PSNR is).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from benchmarks.style_quality import stylize as translate  # noqa: E402  (any image-to-image model, in [0, 1])
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.metrics import psnr  # noqa: E402

MONET, PHOTO = "testA", "testB"  # monet2photo's folders: A = Monet's paintings, B = photos
FD_RATIO_TARGET = 0.8


def load_test_images(folder: str) -> list[torch.Tensor]:
    """(1, 3, H, W) in [0, 1] per image of monet2photo/FOLDER, sorted by name."""
    from PIL import Image

    return [to_tensor(Image.open(f).convert("RGB"))[None] for f in list_images(DATA / "monet2photo" / folder)]


class FeatureStats:
    """Mean and covariance of EfficientNet-Lite2's deepest spatial feature vectors over a set."""

    def __init__(self):
        from i2i.lossnet import efficientnet_lite2

        self.net = efficientnet_lite2().eval()

    @torch.inference_mode()
    def __call__(self, images: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        vectors = torch.cat([self.net(x)[-1].flatten(2)[0].T for x in images]).double()  # (N, 528)
        return vectors.mean(0), torch.cov(vectors.T)


def frechet_distance(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)); the trace of the square root from
    the eigenvalues of the symmetric S_a^(1/2) S_b S_a^(1/2), which has the same spectrum."""
    (mu_a, s_a), (mu_b, s_b) = a, b
    w, v = torch.linalg.eigh(s_a)
    root_a = v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T
    middle = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + s_a.trace() + s_b.trace() - 2 * middle)


def evaluate_direction(stats: FeatureStats, forward, backward, inputs, target_stats) -> dict:
    """{'fd': translated vs target, 'fd_input': inputs vs target, 'ratio', 'cycle_psnr'}; the
    cycle PSNR is None without a `backward` model."""
    translated = [translate(forward, x) for x in inputs]
    cycle = None
    if backward is not None:
        cycle = statistics.fmean(psnr(translate(backward, y), x) for x, y in zip(inputs, translated))
    fd = frechet_distance(stats(translated), target_stats)
    fd_input = frechet_distance(stats(inputs), target_stats)
    return {"fd": fd, "fd_input": fd_input, "ratio": fd / fd_input, "cycle_psnr": cycle}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monet2photo", type=Path, default=WEIGHTS / "monet2photo.safetensors")
    parser.add_argument("--photo2monet", type=Path, default=WEIGHTS / "photo2monet.safetensors")
    args = parser.parse_args(argv)
    to_photo, to_monet = (load_model(f) if f.exists() else None for f in (args.monet2photo, args.photo2monet))
    if to_photo is None and to_monet is None:
        parser.error(f"neither {args.monet2photo} nor {args.photo2monet} exists")
    monets, photos = load_test_images(MONET), load_test_images(PHOTO)
    stats = FeatureStats()
    monet_stats, photo_stats = stats(monets), stats(photos)
    print(f"# CycleGAN on monet2photo/testA+testB ({len(monets)} Monets, {len(photos)} photos), {machine()}")
    results = {}
    for name, forward, backward, inputs, target in (
        ("monet2photo", to_photo, to_monet, monets, photo_stats),
        ("photo2monet", to_monet, to_photo, photos, monet_stats),
    ):
        if forward is None:
            print(f"{name}: not measured (no model file)")
        else:
            results[name] = evaluate_direction(stats, forward, backward, inputs, target)
    for name, r in results.items():
        emit(f"{name} Fréchet distance to the target domain", r["fd"], "")
        emit(f"{name} Fréchet distance of the untranslated inputs", r["fd_input"], "")
        emit(f"{name} distance ratio (translated / untranslated)", r["ratio"], "", f"<= {FD_RATIO_TARGET}")
        if r["cycle_psnr"] is None:
            print(f"{name} cycle reconstruction PSNR: not measured (needs the other direction's model)")
        else:
            emit(f"{name} cycle reconstruction PSNR", r["cycle_psnr"], "dB")
    return results


if __name__ == "__main__":
    main()
