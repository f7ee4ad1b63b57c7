"""Real-world x4 upscaling: Set5 and Set14 degraded like a web photo (Gaussian blur sigma 1.2,
bicubic /4, Gaussian noise sigma 5/255, JPEG quality 50; seeded per file name, see
i2i.data.degradations.FixedDegradation), upscaled by bicubic and every shipped x4 model.
PSNR / SSIM on Y against the clean HR, 4 px shaved; HF ratio = high-frequency energy / HR's.

Run: python benchmarks/sr_real.py [--candidate PATH]   (a retrained x4 model, as candidate-NAME)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import WEIGHTS, emit, machine  # noqa: E402
from benchmarks.sr_quality import bicubic, evaluate, model_upscaler  # noqa: E402
from i2i.data.degradations import FixedDegradation  # noqa: E402

SCALE = 4
MARGIN_PSNR = 0.8  # the bar for the real PSNR-stage model over bicubic, dB


def degrade(hr, scale: int, path):
    return FixedDegradation()(hr, scale, seed=FixedDegradation.seed_for(path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidate", help="a retrained x4 model to compare with the shipped ones")
    args = parser.parse_args()
    print(f"# real-world x4 SR on {machine()}")
    base = {}
    for set_name in ("Set5", "Set14"):
        p, s, hf = evaluate(bicubic, set_name, SCALE, degrade)
        base[set_name] = p
        print(f"{set_name:6} bicubic              PSNR {p:6.2f}  SSIM {s:.4f}  HF ratio {hf:.3f}")
        emit(f"sr-real {set_name} bicubic PSNR-Y", p, "dB")
    names = ["upscale-x4", "upscale-x4-real-psnr", "upscale-x4-real"]
    paths = {name: WEIGHTS / f"{name}.safetensors" for name in names}
    if args.candidate:
        paths[f"candidate-{Path(args.candidate).stem}"] = Path(args.candidate)
    for name, path in paths.items():
        if not path.is_file():
            print(f"{name}: not shipped")
            continue
        _, run = model_upscaler(path)
        for set_name in ("Set5", "Set14"):
            p, s, hf = evaluate(run, set_name, SCALE, degrade)
            gain = p - base[set_name]
            print(f"{set_name:6} {name:20} PSNR {p:6.2f}  SSIM {s:.4f}  HF ratio {hf:.3f}  ({gain:+.2f} dB vs bicubic)")
            target = {"upscale-x4-real-psnr": f">= bicubic + {MARGIN_PSNR}", "upscale-x4-real": "> bicubic"}.get(
                name, ""
            )
            emit(f"sr-real {name} {set_name} PSNR-Y gain over bicubic", gain, "dB", target)
            emit(f"sr-real {name} {set_name} SSIM-Y", s, "")
            emit(f"sr-real {name} {set_name} high-frequency ratio", hf, "")


if __name__ == "__main__":
    main()
