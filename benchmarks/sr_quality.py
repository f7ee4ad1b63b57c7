"""PSNR / SSIM on Y (BT.601, `scale` px shaved, HR cropped to a multiple of the scale, LR by PIL
bicubic) for bicubic and every shipped upscale model on Set5 and Set14.

Run: python benchmarks/sr_quality.py [--candidate PATH]   (a retrained model, printed beside the
shipped ones as candidate-NAME)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.metrics import high_frequency_energy, psnr_y, ssim_y  # noqa: E402

TARGETS = {(4, "Set5"): ">= 31.2", (4, "Set14"): ">= 27.9", (2, "Set5"): ">= 37.3", (2, "Set14"): ">= 32.9"}


def bicubic_down(hr, scale: int, path):
    return hr.resize((hr.size[0] // scale, hr.size[1] // scale), Image.BICUBIC)


def pairs(set_name: str, scale: int, make_lr=bicubic_down):
    """(name, LR, HR, gray) per image; make_lr(HR, scale, path) -> LR (default PIL bicubic)."""
    for f in list_images(DATA / "sr/val" / set_name):
        src = Image.open(f)
        gray = src.mode in ("L", "I;16", "1")
        hr = src.convert("RGB")
        w, h = hr.size[0] - hr.size[0] % scale, hr.size[1] - hr.size[1] % scale
        hr = hr.crop((0, 0, w, h))
        yield f.stem, make_lr(hr, scale, f), hr, gray


def evaluate(upscale, set_name: str, scale: int, make_lr=bicubic_down):
    """-> (mean PSNR-Y, mean SSIM-Y, mean high-frequency energy ratio to HR) over the set."""
    psnrs, ssims, hf = [], [], []
    for _, lr, hr, gray in pairs(set_name, scale, make_lr):
        sr = upscale(lr, hr.size)
        t_sr, t_hr = to_tensor(sr)[None], to_tensor(hr)[None]
        if gray:
            t_sr, t_hr = t_sr.mean(1, keepdim=True), t_hr[:, :1]
        psnrs.append(psnr_y(t_sr, t_hr, scale))
        ssims.append(ssim_y(t_sr, t_hr, scale))
        hf.append(high_frequency_energy(t_sr) / max(high_frequency_energy(t_hr), 1e-12))
    n = len(psnrs)
    return sum(psnrs) / n, sum(ssims) / n, sum(hf) / n


def bicubic(lr, size):
    return lr.resize(size, Image.BICUBIC)


def model_upscaler(path):
    model = load_model(path)

    @torch.inference_mode()
    def run(lr, size):
        y = model.module(to_tensor(lr)[None]).clamp(0, 1)[0]
        arr = (y.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
        return Image.fromarray(arr)

    return model, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidate", help="a retrained upscale model to compare with the shipped ones")
    args = parser.parse_args()
    print(f"# SR quality on {machine()}")
    models = sorted(WEIGHTS.glob("upscale-x*.safetensors"))
    if args.candidate:
        models.append(Path(args.candidate))
    scales = sorted({load_model(m).task.scale for m in models} | {2, 4})
    for scale in scales:
        for set_name in ("Set5", "Set14"):
            p, s, hf = evaluate(bicubic, set_name, scale)
            print(f"x{scale} {set_name:6} bicubic            PSNR {p:6.2f}  SSIM {s:.4f}  HF ratio {hf:.3f}")
            emit(f"sr x{scale} {set_name} bicubic PSNR-Y", p, "dB")
    for path in models:
        model, run = model_upscaler(path)
        scale = model.task.scale
        if args.candidate and path == Path(args.candidate):
            path = Path(f"candidate-{path.name}")  # labelled apart from the shipped model it may replace
        params = sum(t.numel() for t in model.module.parameters())
        for set_name in ("Set5", "Set14"):
            p, s, hf = evaluate(run, set_name, scale)
            print(
                f"x{scale} {set_name:6} {path.stem:18} PSNR {p:6.2f}  SSIM {s:.4f}  HF ratio {hf:.3f}  ({params / 1e3:.0f}k params)"
            )
            target = TARGETS.get((scale, set_name), "") if not path.stem.endswith("gan") else ""
            emit(f"sr {path.stem} {set_name} PSNR-Y", p, "dB", target)
            emit(f"sr {path.stem} {set_name} SSIM-Y", s, "")
            emit(f"sr {path.stem} {set_name} high-frequency ratio", hf, "", "closer to 1 for -gan")
        emit(f"sr {path.stem} parameters", params, "", "<= 1.5M")


if __name__ == "__main__":
    main()
