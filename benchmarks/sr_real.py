"""Real-world x4 upscaling: Set5 and Set14 degraded like a web photo (Gaussian blur sigma 1.2,
bicubic /4, Gaussian noise sigma 5/255, JPEG quality 50; seeded per file name, see
i2i.data.degradations.FixedDegradation), upscaled by bicubic and every shipped x4 model.
PSNR / SSIM on Y against the clean HR, 4 px shaved; HF ratio = high-frequency energy / HR's.
Per set, and over the paired set of all 19 images (Set5 + Set14: the issue's "paired set made
from Set5 and Set14", on which its 0.8 dB bar is set; a mean over images, so Set14 weighs 14/19).

Run: python benchmarks/sr_real.py [--candidate PATH]   (a retrained x4 model, as candidate-NAME)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from benchmarks.sr_quality import bicubic, evaluate, model_upscaler  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.degradations import FixedDegradation  # noqa: E402

SCALE = 4
MARGIN_PSNR = 0.8  # the bar for the real PSNR-stage model over bicubic, dB
TARGETS = {"upscale-x4-real-psnr": f">= bicubic + {MARGIN_PSNR}", "upscale-x4-real": "> bicubic"}  # over all 19


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
    base["all"] = combined(base)
    print(f"{'all':6} bicubic              PSNR {base['all']:6.2f}")
    names = ["upscale-x4", "upscale-x4-real-psnr", "upscale-x4-real"]
    paths = {name: WEIGHTS / f"{name}.safetensors" for name in names}
    if args.candidate:
        paths[f"candidate-{Path(args.candidate).stem}"] = Path(args.candidate)
    for name, path in paths.items():
        if not path.is_file():
            print(f"{name}: not shipped")
            continue
        _, run = model_upscaler(path)
        psnr = {}
        for set_name in ("Set5", "Set14"):
            p, s, hf = evaluate(run, set_name, SCALE, degrade)
            psnr[set_name] = p
            gain = p - base[set_name]
            print(f"{set_name:6} {name:20} PSNR {p:6.2f}  SSIM {s:.4f}  HF ratio {hf:.3f}  ({gain:+.2f} dB vs bicubic)")
            emit(f"sr-real {name} {set_name} PSNR-Y gain over bicubic", gain, "dB")
            emit(f"sr-real {name} {set_name} SSIM-Y", s, "")
            emit(f"sr-real {name} {set_name} high-frequency ratio", hf, "")
        gain = combined(psnr) - base["all"]
        print(f"{'all':6} {name:20} PSNR {combined(psnr):6.2f}  ({gain:+.2f} dB vs bicubic)")
        emit(f"sr-real {name} Set5+Set14 PSNR-Y gain over bicubic", gain, "dB", TARGETS.get(name, ""))


def combined(psnr: dict) -> float:
    """Mean PSNR-Y over all the images of Set5 + Set14, from each set's mean."""
    sizes = {name: len(list_images(DATA / "sr/val" / name)) for name in psnr}
    return sum(sizes[name] * p for name, p in psnr.items()) / sum(sizes.values())


if __name__ == "__main__":
    main()
