"""Regenerate the before/after pictures in examples/ from the shipped models.

Run: python examples/make_examples.py [NAME ...] [--before OLD_DEFAULT.safetensors]
The styles' sheet (examples/styles_before_after.png) is benchmarks/style_quality.py --sheet's,
which draws it beside the figures it measures; the video pictures are make_video_example.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from benchmarks.common import DATA  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import list_images, load_pairs  # noqa: E402
from i2i.data.image_io import ImageData, to_pil  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402
from i2i.models import shipped  # noqa: E402

OUT = ROOT / "examples"


def as_data(im: Image.Image) -> ImageData:
    return ImageData(np.asarray(im.convert("RGB"), dtype=np.float32) / 255)


def run(model_path, image: Image.Image, adapter_for) -> Image.Image:
    model = load_model(model_path)
    engine = Engine(model, adapter_for(model), device="cpu")
    return to_pil(engine.run_image(as_data(image)))


def labelled_row(images, labels, height=256) -> Image.Image:
    scaled = [im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in images]
    row = Image.new("RGB", (sum(im.width for im in scaled) + 4 * (len(scaled) - 1), height + 18), "white")
    x = 0
    draw = ImageDraw.Draw(row)
    for im, label in zip(scaled, labels):
        row.paste(im, (x, 18))
        draw.text((x + 4, 3), label, fill="black")
        x += im.width + 4
    return row


def stack(rows) -> Image.Image:
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    return sheet


def upscale_example(models) -> None:
    if "upscale-x4" not in models:
        return
    hr = Image.open(DATA / "sr/val/Set14/comic.png").convert("RGB").crop((20, 60, 180, 220))
    lr = hr.resize((40, 40), Image.BICUBIC)
    rgb = lambda m: RGBAdapter(task=m.task)  # noqa: E731
    images = [
        lr.resize((160, 160), Image.NEAREST),
        lr.resize((160, 160), Image.BICUBIC),
        run(models["upscale-x4"], lr, rgb),
    ]
    labels = ["input (40x40, nearest)", "bicubic x4", "i2i upscale x4"]
    if "upscale-x4-gan" in models:
        images.append(run(models["upscale-x4-gan"], lr, rgb))
        labels.append("i2i upscale-x4-gan")
    images.append(hr)
    labels.append("ground truth")
    labelled_row(images, labels).save(OUT / "upscale_before_after.png")


def _noisy(im: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    arr = np.asarray(im, dtype=np.float32)
    arr = arr + np.random.default_rng(seed).standard_normal(arr.shape) * sigma
    return Image.fromarray(np.clip(arr.round(), 0, 255).astype(np.uint8))


def real_inputs() -> list[tuple[str, str, Image.Image, int | None]]:
    """The demo's inputs (examples/inputs/): low-quality pictures as users have them, made from
    ../shared/data images that no SR training saw. (file name, label, picture before it is
    saved, JPEG quality or None for a PNG)."""
    photo = Image.open(list_images(DATA / "monet2photo/testB")[11]).convert("RGB").resize((128, 128), Image.BICUBIC)
    baby = Image.open(DATA / "sr/val/Set5/baby.png").convert("RGB").crop((96, 48, 416, 368))
    comic = Image.open(DATA / "sr/val/Set14/comic.png").convert("RGB").crop((0, 40, 240, 280))
    text = Image.open(DATA / "sr/val/Set14/ppt3.png").convert("RGB").crop((40, 20, 360, 340))
    butterfly = Image.open(DATA / "sr/val/Set5/butterfly.png").convert("RGB")
    return [
        ("web_photo.jpg", "web thumbnail, JPEG q30", photo, 30),
        ("phone_photo.jpg", "noisy phone photo (sigma 8, JPEG q90)", _noisy(_down(baby, 100), 8), 90),
        ("scanned_drawing.jpg", "drawing, JPEG q50", _down(comic, 100), 50),
        ("text_screenshot.jpg", "text, JPEG q60", _down(text, 100), 60),
        ("butterfly_clean.png", "clean bicubic downscale (PNG)", _down(butterfly, 64), None),
    ]


def _down(im: Image.Image, side: int) -> Image.Image:
    return im.resize((side, round(im.height * side / im.width)), Image.BICUBIC)


def demo_inputs(models) -> None:
    """Write examples/inputs/ (what `make demo` upscales) from real_inputs()."""
    folder = OUT / "inputs"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.*"):
        if old.suffix.lower() in {".png", ".jpg"}:
            old.unlink()
    for name, _, image, quality in real_inputs():
        if quality is None:
            image.save(folder / name)
        else:
            image.save(folder / name, quality=quality)  # the file's own tables say its quality (--denoise auto)


def run_demo() -> dict[str, Image.Image]:
    """`make demo`'s command (i2i upscale examples/inputs/ -o OUT/) on the shipped default; outputs by input name."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "i2i", "upscale", str(OUT / "inputs"), "-o", out, "-q"], check=True)
        return {p.name: Image.open(p).convert("RGB") for p in Path(out).iterdir()}


def zoom_crop(im: Image.Image, box: tuple[int, int, int, int], zoom: int = 2) -> Image.Image:
    """A crop shown at zoom x (nearest), so that grid patterns and texture are seen, not resampled away."""
    crop = im.crop(box)
    return crop.resize((crop.width * zoom, crop.height * zoom), Image.NEAREST)


def upscale_real_example(models, before: Path | None = None) -> None:
    """examples/upscale_real_before_after.png, the README's first picture: each demo input at x4
    as bicubic, the previous default (--before FILE, when given), and what `make demo` wrote;
    128x128 crops of the x4 result shown at 2x."""
    if "upscale-x4-real" not in models:
        return
    rgb = lambda m: RGBAdapter(task=m.task)  # noqa: E731
    demo = run_demo()
    rows = []
    for name, label, _, _ in real_inputs():
        lr = Image.open(OUT / "inputs" / name).convert("RGB")
        size = (lr.width * 4, lr.height * 4)
        x, y = (size[0] - 128) // 2, (size[1] - 128) // 2
        box = (x, y, x + 128, y + 128)
        images = [lr.resize(size, Image.NEAREST), lr.resize(size, Image.BICUBIC)]
        labels = [f"input: {label}", "bicubic x4"]
        if before is not None:
            images.append(run(before, lr, rgb))
            labels.append("previous default")
        images.append(demo[name])
        labels.append("i2i upscale (make demo)")
        if "upscale-x4-real-hq" in models:
            images.append(run(models["upscale-x4-real-hq"], lr, rgb))
            labels.append("upscale-x4-real-hq")
        rows.append(labelled_row([zoom_crop(im, box) for im in images], labels, 256))
    stack(rows).save(OUT / "upscale_real_before_after.png")


def facades_example(models) -> None:
    if "facades-label2photo" not in models:
        return
    info = load_model(models["facades-label2photo"]).info.training
    pairs = load_pairs(DATA / "facades", "BtoA", info["holdout"], part="held")[:3]
    rows = [
        labelled_row(
            [label, run(models["facades-label2photo"], label, lambda m: RGBAdapter(task=m.task)), photo],
            ["label map (held back)", "i2i translate", "ground truth"],
        )
        for label, photo in pairs
    ]
    stack(rows).save(OUT / "facades_before_after.png")


def colorize_example(models, before: Path | None = None) -> None:
    """examples/colorize_before_after.png: gray | previous model (--before FILE, when given) | the
    shipped colorize (as `i2i colorize` runs it) | original, on three testB landscapes and three Set5/Set14 portraits (no
    colorize training saw either)."""
    if "colorize" not in models:
        return
    photos = list_images(DATA / "monet2photo/testB")[3:6] + [
        DATA / "sr/val" / p for p in ("Set5/woman.png", "Set14/barbara.png", "Set5/baby.png")
    ]
    colorizers = ([(before, "previous colorize")] if before is not None else []) + [
        (models["colorize"], "i2i colorize")
    ]
    from i2i.engine.commands import ColorizeOptions, build_engine, recipe_for

    # What `i2i colorize --model FILE` runs: with the shipped file, its per-photo portrait blend.
    engines = [build_engine(recipe_for(ColorizeOptions(model=str(model))), device="cpu") for model, _ in colorizers]
    rows = []
    for f in photos:
        photo = Image.open(f).convert("RGB")
        outs = [to_pil(engine.run_image(as_data(photo.convert("L")))) for engine in engines]
        rows.append(
            labelled_row(
                [photo.convert("L").convert("RGB"), *outs, photo],
                ["grayscale input", *(label for _, label in colorizers), "original"],
            )
        )
    stack(rows).save(OUT / "colorize_before_after.png")


def cyclegan_monet(models) -> None:
    """The shipped CycleGAN generators on test images no training saw: photo | style-monet (one
    painting) | photo2monet (the collection), then, where monet2photo ships, Monet | monet2photo |
    the round trip."""
    if not {"photo2monet", "style-monet"} <= models.keys():
        print("cyclegan_monet skipped: needs photo2monet and style-monet in weights/")
        return
    rgb = lambda m: RGBAdapter(task=m.task)  # noqa: E731
    rows = []
    for f in list_images(DATA / "monet2photo/testB")[6:10]:
        photo = Image.open(f).convert("RGB")
        rows.append(
            labelled_row(
                [photo, run(models["style-monet"], photo, rgb), run(models["photo2monet"], photo, rgb)],
                ["photo (testB)", "style-monet (one painting)", "photo2monet (CycleGAN)"],
            )
        )
    for f in list_images(DATA / "monet2photo/testA")[6:9] if "monet2photo" in models else []:
        painting = Image.open(f).convert("RGB")
        as_photo = run(models["monet2photo"], painting, rgb)
        rows.append(
            labelled_row(
                [painting, as_photo, run(models["photo2monet"], as_photo, rgb)],
                ["Monet (testA)", "monet2photo (CycleGAN)", "and back: photo2monet"],
            )
        )
    stack(rows).save(OUT / "cyclegan_monet.png")


def dcgan_examples(models) -> None:
    """Sample grid, interpolation strip, inversion rows (real | reconstruction | sky units off)
    and a dissection before/after, from dcgan-landscapes (64 px images shown at 128 px)."""
    from i2i.gan.dissect import ablation_effect, dissect
    from i2i.gan.generator import LatentGenerator, UnitEdit
    from i2i.gan.invert import Inverter, square_image
    from i2i.gan.latents import interpolate, sample_latents
    from i2i.gan.pictures import before_after, grid, to_pil

    def bigger(im: Image.Image) -> Image.Image:
        return im.resize((im.width * 2, im.height * 2), Image.NEAREST)

    from i2i.gan.dissect import sky_mask, vegetation_mask

    gen = LatentGenerator.load(str(models["dcgan-landscapes"]), device="cpu")
    z = sample_latents(64, gen.z_dim, seed=0)
    samples = gen(z)
    bigger(grid(samples)).save(OUT / "dcgan_samples.png")
    # The walk runs from the grid's sample with the most sky to the one with the most green.
    a = z[int(sky_mask(samples).float().mean((1, 2)).argmax())]
    b = z[int(vegetation_mask(samples).float().mean((1, 2)).argmax())]
    bigger(grid(gen(interpolate(a, b, 8)), nrow=8)).save(OUT / "dcgan_interpolation.png")
    report = dissect(gen, "layer3", concepts={"sky": None}, n=200)  # as benchmarks/gan_toolkit.py
    sky_off = UnitEdit(layer="layer3", units=report.top_units("sky", 8))
    before, after = ablation_effect(gen, report, "sky", 8, n=16)
    bigger(before_after(before, after)).save(OUT / "dcgan_dissection.png")
    from i2i.gan.api import load_encoder

    with torch.enable_grad():
        inverter = Inverter(gen, encoder=load_encoder(None, "dcgan-landscapes", gen))
        rows = []
        for f in list_images(DATA / "monet2photo/testB")[:3]:
            target = square_image(Image.open(f), gen.size)
            found = inverter.invert(target)
            with gen.edited([sky_off]):
                edited = gen(found.z[None])[0]
            rows.append(
                labelled_row(
                    [to_pil(target), to_pil(found.image), to_pil(edited)],
                    ["real (held back)", f"inverted, {found.psnr:.1f} dB", "sky units off"],
                    height=128,
                )
            )
    stack(rows).save(OUT / "dcgan_inversion.png")


EXAMPLES = {
    "inputs": demo_inputs,
    "upscale": upscale_example,
    "upscale-real": upscale_real_example,
    "facades": facades_example,
    "colorize": colorize_example,
    "cyclegan": cyclegan_monet,
    "dcgan": dcgan_examples,
}


def main() -> None:
    """python examples/make_examples.py [NAME ...] [--before FILE]: all pictures, or only the
    named ones; --before is the previous default model of the one picture named (upscale-real's x4
    or colorize's), shown beside the new one."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(EXAMPLES))
    parser.add_argument(
        "--before", type=Path, help="the previous default model, shown beside the new one (upscale-real, colorize)"
    )
    args = parser.parse_args()
    if unknown := set(args.names) - set(EXAMPLES):
        parser.error(f"unknown picture(s): {', '.join(sorted(unknown))}; choose from {', '.join(EXAMPLES)}")
    torch.set_grad_enabled(False)
    models = shipped()
    for name in args.names or EXAMPLES:
        if name in ("upscale-real", "colorize"):
            EXAMPLES[name](models, args.before)
        else:
            EXAMPLES[name](models)
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
