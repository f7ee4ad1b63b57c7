"""Ways to decode a classification colorizer's ab distribution (`--loss classification`, Zhang et
al. 2016), on monet2photo/testB (colorize_quality.py's figures: PSNR gain over gray, mean per
image; colourfulness ratio, median; the portraits' skin hue share). Issue 35 asks for +0.5 dB at a
median ratio of 0.85; the annealed mean at one temperature T trades one for the other
(colorize_temperature.py). This asks whether a decoder that chooses per pixel, from the
distribution itself, trades better. Decoders, each of the (B, Q, h, w) logits at stride 4:

  annealed T        the mean of softmax(logits / T) (the shipped decoder; eq. 5 of the paper)
  entropy A-B       per pixel T = A + (B - A) h, h the normalised entropy of softmax(logits) in
                    [0, 1]: confident pixels decoded near their mode, uncertain ones near the mean
  restore G [K]     the mean's hue with its chroma raised towards the expected chroma E|ab| by
                    (E|ab| / |mean|)^(G (1 - h)^K): the mean desaturates where modes disagree
  flip T            horizontal-flip test-time augmentation: logits of the image and its mirror
                    averaged, then the annealed mean at T
  render S T        the network run at short side S instead of ColorizeAdapter's 256

Run: python benchmarks/colorize_decoding.py [--model weights/colorize.safetensors]
(50 testB photos and 6 portraits per decoder, about 15 s each on one core)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.colorize_quality import PORTRAITS, figures, gray, per_image  # noqa: E402
from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.color import AB_SCALE, annealed_mean  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.engine.adapters import ColorizeAdapter, rgb_of  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402


def _entropy(logits):
    """(B, Q, h, w) -> (B, 1, h, w) entropy of softmax(logits) over log Q: 0 one class, 1 uniform."""
    p = torch.softmax(logits, 1)
    return -(p * p.clamp(min=1e-12).log()).sum(1, keepdim=True) / torch.log(torch.tensor(float(logits.shape[1])))


def annealed(t):
    return lambda logits, centres: annealed_mean(logits, centres, t)


def entropy_temperature(t_confident, t_uncertain):
    def decode(logits, centres):
        t = t_confident + (t_uncertain - t_confident) * _entropy(logits)  # (B, 1, h, w): per pixel
        return annealed_mean(logits, centres, t)

    return decode


def chroma_restored(gamma, power=0.0):
    def decode(logits, centres):
        mean = annealed_mean(logits, centres, 1.0)
        expected_chroma = torch.einsum("bqhw,q->bhw", torch.softmax(logits, 1), centres.norm(dim=1))[:, None]
        gain = (expected_chroma / mean.norm(dim=1, keepdim=True).clamp(min=1e-3)).clamp(max=20)
        return mean * gain ** (gamma * (1 - _entropy(logits)) ** power)

    return decode


class Decoded(torch.nn.Module):
    """A lite0_unet classifier whose logits are decoded by `decode` (optionally also on the mirrored
    input, logits averaged) instead of its own annealed mean; same input and output as the net."""

    def __init__(self, net, decode, flip: bool = False):
        super().__init__()
        self.net, self.decode, self.flip = net, decode, flip

    def forward(self, x):
        _, logits = self.net(x, return_logits=True)
        if self.flip:
            logits = (logits + self.net(x.flip(-1), return_logits=True)[1].flip(-1)) / 2
        ab = self.decode(logits, self.net.ab_centres.to(logits)) / AB_SCALE
        return F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)


def decoders():
    """[(label, decode, flip, render size)]."""
    yield "annealed 1", annealed(1.0), False, 256
    yield "annealed 0.6", annealed(0.6), False, 256
    yield "annealed 0.4", annealed(0.4), False, 256
    for a, b in ((0.3, 1.0), (0.4, 1.0), (0.2, 1.2)):
        yield f"entropy {a}-{b}", entropy_temperature(a, b), False, 256
    for g, k in ((0.5, 0), (1, 1), (1, 2), (1, 3)):
        yield f"restore {g} {k}", chroma_restored(g, k), False, 256
    for t in (0.6, 0.8):
        yield f"flip {t}", annealed(t), True, 256
    for s in (192, 320):
        yield f"render {s} 0.6", annealed(0.6), False, s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "colorize.safetensors"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model, device="cpu")
    if not getattr(model.module, "bins", 0):
        sys.exit(f"{args.model}: not a classification colorizer (no ab classes)")
    print(f"# decoders of {args.model}, {machine()}")
    test_b = list_images(DATA / "monet2photo/testB")
    portraits = [DATA / "sr/val" / p for p in PORTRAITS]
    gray_psnrs, _, _ = per_image(gray, test_b)
    for label, decode, flip, render in decoders():
        decoded = replace(model, module=Decoded(model.module, decode, flip).eval())
        adapter = ColorizeAdapter(task=model.task, render_size=render, multiple=model.spec.size_multiple(model.config))
        engine = Engine(decoded, adapter, device="cpu", backend="torch")

        def colorize(img):
            return rgb_of(engine.run_image(img))[None]

        r = figures(colorize, test_b, gray_psnrs, portraits)
        gain, ratio, skin = r["gain"], r["ratio_median"], r["portraits_skin"][0]
        print(
            f"{label:16} testB {gain:+.3f} dB vs gray, colourfulness ratio median {ratio:.3f}; portraits skin {skin:.3f}"
        )
        emit(f"colorize decoder {label} testB PSNR - gray", gain, "dB", ">= 0.5")
        emit(f"colorize decoder {label} testB colourfulness ratio (median)", ratio, "", ">= 0.85")


if __name__ == "__main__":
    main()
