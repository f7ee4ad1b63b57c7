"""Kinds of fault users of comparable tools have reported (issue 17), each on generated inputs:
per-input failures, tiny images, output naming, formats that cannot hold a mode, transparency,
colour profiles, signals, which files are images, metadata, output size, short writes,
concurrent jobs, temporary files, and one-line errors."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from i2i.archs.registry import build
from i2i.checkpoint import ModelInfo, save_model
from i2i.task import Task

ROOT = Path(__file__).resolve().parent.parent


def _sr_model(path: Path, scale: int) -> Path:
    import torch

    torch.manual_seed(0)
    module, cfg = build("srresnet", {"scale": scale, "channels": 8, "blocks": 1})
    save_model(
        path,
        module,
        ModelInfo(
            arch="srresnet", options=dataclasses.asdict(cfg), task=Task(kind="upscale", value_range="0,1", scale=scale)
        ),
    )
    return path


@pytest.fixture(scope="module")
def x2(tmp_path_factory):
    """A small untrained x2 SR model: what is tested here does not depend on training."""
    return _sr_model(tmp_path_factory.mktemp("models") / "x2.safetensors", 2)


@pytest.fixture(scope="module")
def x4(tmp_path_factory):
    return _sr_model(tmp_path_factory.mktemp("models") / "x4.safetensors", 4)


def _lines(r) -> list[dict]:
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def _by_name(lines: list[dict]) -> dict[str, dict]:
    return {Path(line["input"]).name: line for line in lines}


def _noise(h, w, c=3, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max, (h, w, c) if c > 1 else (h, w), dtype=dtype)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.name.endswith(".part")]


# ---- 1. one input's failure is that input's error, at every stage ----


def test_a_failing_encoder_fails_only_its_input(cli, x4, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for name in ("a.png", "c.png", "d.png"):
        Image.fromarray(_noise(8, 8)).save(folder / name)
    Image.fromarray(_noise(48, 4200)).save(folder / "b.webp")  # x4: 16800 px wide, past WebP's 16383
    r = cli("upscale", "--model", x4, folder, "-o", out, "--json")
    assert r.returncode == 1
    lines = _by_name(_lines(r))
    assert sorted(lines) == ["a.png", "b.webp", "c.png", "d.png"]
    assert "16383" in lines["b.webp"]["error"] and "WEBP" in lines["b.webp"]["error"]
    for name in ("a.png", "c.png", "d.png"):
        assert lines[name]["error"] is None and Image.open(out / name).size == (32, 32)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png", "d.png"]


def test_every_stage_turns_any_exception_into_that_inputs_error(x2, tmp_path):
    """Reading, inference (in a batch: the others are retried alone), finishing, encoding and
    writing: an exception of any type fails its own input only."""
    from i2i.checkpoint import load_model
    from i2i.data import image_io
    from i2i.engine import engine as engine_module
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import OutputOptions, expand_inputs

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    colours = {"prepare": 10, "network": 20, "finish": 30, "encode": 40, "good": 50, "write": 60}
    for name, value in colours.items():  # the encoder's victim has its own size
        Image.new("RGB", (7 if name == "encode" else 6, 4), (value, value, value)).save(folder / f"{name}.png")
    (out / "write.png").mkdir(parents=True)  # a folder where the file should go
    (out / "write.png" / "x").touch()

    class Picky(RGBAdapter):
        def prepare(self, img):
            if round(img.pixels[0, 0, 0] * 255) == colours["prepare"]:
                raise KeyError("prepare")
            return super().prepare(img)

        def finish(self, img, y):
            if round(img.pixels[0, 0, 0] * 255) == colours["finish"]:
                raise ZeroDivisionError("finish")
            return super().finish(img, y)

    model = load_model(x2)
    engine = Engine(model, Picky(task=model.task), device="cpu", batch_size=8)
    run = engine.runner.__class__.__call__

    def network(self, x):
        if any(round(v.item() * 255) == colours["network"] for v in x[:, 0, 0, 0]):
            raise ValueError("network")
        return run(self, x)

    encode = image_io.encode_image

    def encoder(img, fmt, quality=95):
        if img.size == (14, 8):
            raise ValueError("encode")
        return encode(img, fmt, quality)

    engine.runner.__class__.__call__ = network
    engine_module.encode_image = encoder
    try:
        jobs, _, _ = expand_inputs([str(folder)])
        results = {Path(r.input).stem: r for r in engine.process(jobs, OutputOptions(out=str(out), overwrite=True))}
    finally:
        engine.runner.__class__.__call__ = run
        engine_module.encode_image = encode
    assert "KeyError" in results["prepare"].error and "reading" in results["prepare"].error
    assert "ValueError: network" in results["network"].error
    assert "ZeroDivisionError" in results["finish"].error
    assert "encoding failed (ValueError: encode)" in results["encode"].error
    assert "cannot write" in results["write"].error
    assert results["good"].ok and Image.open(out / "good.png").size == (12, 8)
    assert all("\n" not in (r.error or "") for r in results.values())
    assert not _temporaries(out)


# ---- 2. tiny images, every command ----


def test_tiny_images_through_every_command(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sizes = {"p1x1.png": (1, 1), "p3x5.png": (3, 5), "p7x2.png": (7, 2), "p4x4.png": (4, 4)}
    for name, (w, h) in sizes.items():
        Image.fromarray(_noise(h, w, seed=w * 10 + h)).save(folder / name)
    # Every architecture runs on tiny inputs (test_archs); here the commands' own steps around
    # the network: a style's instance norm and reflection padding, colorize's working size.
    for command in (["stylize", "--style", "great-wave"], ["colorize"]):
        out = tmp_path / command[0]
        r = cli(*command, folder, "-o", out, "--json")
        assert r.returncode == 0, (command, r.stderr)
        for name, (w, h) in sizes.items():
            assert Image.open(out / name).size == (w, h), (command, name)


def test_tiled_instance_norm_on_a_thin_strip():
    """Tiles and the whole-image statistics pass both pad a strip too thin for the network."""
    import torch

    from i2i.archs.registry import get_spec
    from i2i.checkpoint import LoadedModel
    from i2i.engine.runner import ModelRunner

    module, cfg = build("transformer_net", {"width": 4, "res_blocks": 1})
    model = LoadedModel(
        module=module.eval(),
        spec=get_spec("transformer_net"),
        config=cfg,
        info=ModelInfo(
            arch="transformer_net", options=dataclasses.asdict(cfg), task=Task(kind="stylize", value_range="0,255")
        ),
    )
    y = ModelRunner(model, device="cpu", tile=16)(torch.rand(1, 3, 3, 70))
    assert y.shape == (1, 3, 3, 70) and torch.isfinite(y).all()


# ---- 3. output paths planned before the run ----


def test_inputs_sharing_a_stem_get_distinct_outputs(cli, x2, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    colours = {"logo.png": (250, 0, 0), "logo.gif": (0, 250, 0), "photo.jpg": (0, 0, 250), "photo.png": (250, 250, 0)}
    for name, colour in colours.items():
        Image.new("RGB", (8, 6), colour).save(folder / name)
    out = tmp_path / "out"  # the shipped x2 model: pixels close to the input's
    r = cli("upscale", "--model", "upscale-x2", folder, "-o", out, "--ext", "png", "--overwrite", "--json")
    assert r.returncode == 0, r.stderr
    lines = _by_name(_lines(r))
    outputs = {name: Path(line["output"]).name for name, line in lines.items()}
    assert outputs == {
        "logo.png": "logo.png.png",
        "logo.gif": "logo.gif.png",
        "photo.jpg": "photo.jpg.png",
        "photo.png": "photo.png.png",
    }
    for name, colour in colours.items():  # each output holds its own input
        pixel = np.asarray(Image.open(out / outputs[name]))[6, 8].astype(int)
        assert np.abs(pixel - colour).max() < 12, (name, pixel)
    # --ext auto: a GIF is written as PNG, so logo.gif and logo.png clash there too.
    r = cli("upscale", "--model", x2, folder, "-o", tmp_path / "auto", "--json")
    assert sorted(Path(line["output"]).name for line in _lines(r)) == [
        "logo.gif.png",
        "logo.png.png",
        "photo.jpg",
        "photo.png",
    ]


def test_outputs_beside_the_inputs_are_never_inputs(cli, x2, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (8, 6), "red").save(folder / "a.png")
    Image.new("RGBA", (8, 6), (0, 0, 255, 90)).save(folder / "b.png")  # --ext jpg: alpha makes it b_x2.png
    args = ("upscale", "--model", x2, folder, "-o", folder, "--suffix", "_x2", "--ext", "jpg", "--json")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "a_x2.jpg", "b.png", "b_x2.png"]
    made = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = cli(*args[:-1])  # the rerun of README's example: without --json, notes on stderr
    assert again.returncode == 0 and not again.stdout, again.stderr
    assert b"a_x2.jpg: skipped: an output of this job" in again.stderr
    assert f"{folder / 'a.png'}: skipped: {folder / 'a_x2.jpg'} exists".encode() in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == made


def test_every_way_of_naming_an_output_against_skip_and_overwrite(cli, x2, tmp_path):
    """Single file, stdin into a folder, --suffix with --ext, and an extension forced by alpha:
    each output is found again by --skip-existing, refused without it, replaced with --overwrite."""
    from i2i.checkpoint import load_model
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import STDIO, Job, OutputOptions

    photo, clear = tmp_path / "photo.png", tmp_path / "clear.png"
    Image.new("RGB", (8, 6), "red").save(photo)
    Image.new("RGBA", (8, 6), (0, 0, 255, 90)).save(clear)
    png = io.BytesIO()
    Image.new("RGB", (5, 4), "blue").save(png, "PNG")
    cases = {  # name: (job, options, the output it must make)
        "single file": (Job(str(photo), Path("photo.png")), dict(out=str(tmp_path / "one.webp")), "one.webp"),
        "stdin to a folder": (
            Job(STDIO, Path("stdin"), data=png.getvalue()),
            dict(out=str(tmp_path / "s")),
            "s/stdin.png",
        ),
        "suffix and ext": (
            Job(str(photo), Path("photo.png")),
            dict(out=str(tmp_path / "f"), suffix="_2", ext="jpg"),
            "f/photo_2.jpg",
        ),
        "alpha forces png": (
            Job(str(clear), Path("clear.png")),
            dict(out=str(tmp_path / "f"), ext="jpg"),
            "f/clear.png",
        ),
    }
    model = load_model(x2)
    engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu")
    for name, (job, options, target) in cases.items():
        target = tmp_path / target

        def run(job=job, options=options, **extra):
            [r] = engine.process([job], OutputOptions(**options, **extra))
            return r

        first = run()
        assert first.ok and first.output == str(target) and target.is_file(), (name, first)
        written = target.stat().st_mtime_ns
        assert "output exists" in run().error, name
        assert run(skip_existing=True).skipped == "exists" and target.stat().st_mtime_ns == written, name
        assert run(overwrite=True).ok and target.stat().st_mtime_ns != written, name
    r = cli("upscale", "--model", x2, photo, clear, "-o", tmp_path / "two.png")
    assert r.returncode == 2 and b"names one file, but 2 images" in r.stderr
    r = cli("upscale", "--model", x2, "-", "-o", tmp_path / "s", "--skip-existing", "--json", input=png.getvalue())
    assert r.returncode == 0 and _lines(r)[0]["skipped"] == "exists"


def test_a_clash_that_remains_is_an_error_before_anything_is_written(x2, tmp_path):
    from i2i.engine.inputs import Job, OutputOptions, plan_outputs

    folder = tmp_path / "in"
    (folder / "d").mkdir(parents=True)
    for name in ("a.png", "a.jpg", "d/a.jpg.png"):
        Image.new("RGB", (4, 4)).save(folder / name)
    jobs = [
        Job(str(folder / "a.png"), Path("d/a.png")),
        Job(str(folder / "a.jpg"), Path("d/a.jpg")),
        Job(str(folder / "d/a.jpg.png"), Path("d/a.jpg.png")),
    ]
    planned, notes, errors = plan_outputs(jobs, OutputOptions(out=str(tmp_path / "out"), ext="png"))
    assert [Path(j.output).name for j in planned] == ["a.png.png", "a.jpg.png"]
    assert len(errors) == 1 and "a.jpg.png" in errors[0].reason and str(folder / "a.jpg") in errors[0].reason
    assert not (tmp_path / "out").exists()


# ---- 4. output formats that cannot hold the mode ----


def test_16_bit_gray_is_scaled_not_clipped_for_8_bit_formats(cli, tmp_path):
    ramp = (np.linspace(0, 65535, 32 * 24).reshape(24, 32)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    expected = ramp.astype(np.float64).mean() / 257
    for ext in ("jpg", "webp"):  # the shipped x2 model keeps the mean
        r = cli("upscale", "--model", "upscale-x2", tmp_path / "g16.png", "-o", tmp_path / f"o.{ext}")
        assert r.returncode == 0, r.stderr
        got = np.asarray(Image.open(tmp_path / f"o.{ext}").convert("L"), dtype=np.float64)
        assert abs(got.mean() - expected) < 6, (ext, got.mean(), expected)
        assert (got >= 250).mean() < 0.1


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16_bit_rgb_is_read_and_written_at_16_bits(cli, x2, tmp_path, ext):
    import cv2

    h, w = 20, 30
    ramp = np.linspace(0, 65535, h * w * 3).reshape(h, w, 3).astype(np.uint16)  # 1800 distinct levels
    rgba = np.concatenate([ramp, np.full((h, w, 1), 40000, np.uint16)], 2)
    cv2.imwrite(str(tmp_path / f"rgb.{ext}"), ramp[..., ::-1])
    cv2.imwrite(str(tmp_path / f"rgba.{ext}"), rgba[..., [2, 1, 0, 3]])

    from i2i.data.image_io import encode_image, read_image

    for name, source in (("rgb", ramp), ("rgba", rgba)):
        img = read_image(tmp_path / f"{name}.{ext}")
        assert img.bit_depth == 16 and img.pixels.shape == (h, w, 3)
        assert np.array_equal((img.pixels * 65535 + 0.5).astype(np.uint16), source[..., :3])
        back = cv2.imdecode(
            np.frombuffer(encode_image(img, "PNG" if ext == "png" else "TIFF"), np.uint8), cv2.IMREAD_UNCHANGED
        )
        assert back.dtype == np.uint16 and np.array_equal(
            back[..., [2, 1, 0] + ([3] if name == "rgba" else [])], source
        )
    r = cli("upscale", "--model", x2, tmp_path / f"rgb.{ext}", "-o", tmp_path / f"up.{ext}")
    assert r.returncode == 0, r.stderr
    up = cv2.imread(str(tmp_path / f"up.{ext}"), cv2.IMREAD_UNCHANGED)
    assert up.dtype == np.uint16 and up.shape == (2 * h, 2 * w, 3)
    assert len(np.unique(up)) > 1024  # 8 bits would band into at most 256 levels


# ---- 5. transparency ----


def test_a_trns_colour_key_is_transparency(tmp_path):
    from i2i.data.image_io import encode_image, read_image

    rgb = Image.new("RGB", (4, 3), (10, 20, 30))
    rgb.putpixel((1, 1), (1, 2, 3))
    rgb.save(tmp_path / "rgb.png", transparency=(1, 2, 3))
    Image.new("L", (4, 3), 7).save(tmp_path / "gray.png", transparency=7)
    Image.fromarray(np.full((3, 4), 300, np.uint16)).save(tmp_path / "g16.png", transparency=300)
    for name, channels in (("rgb.png", 3), ("gray.png", 1), ("g16.png", 1)):
        img = read_image(tmp_path / name)
        assert img.alpha is not None and img.pixels.shape[2] == channels, name
        data = encode_image(img, "PNG")
        assert data[25] == (6 if channels == 3 else 4), name  # IHDR colour type: RGBA or gray+alpha
        alpha = np.asarray(Image.open(io.BytesIO(data)).getchannel("A"))
        assert (alpha == 0).sum() == (1 if name == "rgb.png" else 12), name
    again = read_image(io.BytesIO(encode_image(read_image(tmp_path / "g16.png"), "PNG")).getvalue())
    assert again.bit_depth == 16 and again.pixels.shape[2] == 1 and (again.alpha == 0).all()


def test_hidden_colour_under_transparency_does_not_leak(cli, tmp_path):
    """A sprite on transparent black and the same sprite on transparent white upscale alike."""
    folder = tmp_path / "in"
    folder.mkdir()
    yy, xx = np.mgrid[:40, :40]
    inside = (yy - 20) ** 2 + (xx - 20) ** 2 < 12**2
    for name, hidden in (("black.png", 0), ("white.png", 255)):
        rgba = np.zeros((40, 40, 4), np.uint8)
        rgba[..., :3] = hidden
        rgba[inside] = (230, 180, 40, 255)
        Image.fromarray(rgba).save(folder / name)
    r = cli("upscale", "--model", "upscale-x2", folder, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    black, white = (np.asarray(Image.open(tmp_path / "out" / n), dtype=np.float64) for n in ("black.png", "white.png"))
    assert np.abs(black - white).max() <= 1
    alpha = black[..., 3:] / 255
    on_white = black[..., :3] * alpha + 255 * (1 - alpha)
    edge = (alpha[..., 0] > 0.2) & (alpha[..., 0] < 0.9)
    assert edge.sum() > 20
    assert on_white[edge].sum(axis=1).min() > 0.8 * (230 + 180 + 40)  # no dark fringe at the rim


# ---- 6. colour profiles that do not match the output ----


def _s15(x):
    return struct.pack(">i", round(x * 65536))


def cmyk_profile() -> bytes:
    """A small valid ICC v2 CMYK output profile: a 2-point lut8 A2B0 from CMYK to Lab, with
    naive CMYK -> RGB -> Lab corner values (ICC.1:2001-04, lut8Type)."""
    import torch

    from i2i.data.color import rgb_to_lab

    corners = [
        [(1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)]
        for c in (0, 1)
        for m in (0, 1)
        for y in (0, 1)
        for k in (0, 1)
    ]
    lab = rgb_to_lab(torch.tensor(corners, dtype=torch.float32).T.reshape(1, 3, -1, 1))[0, :, :, 0].T.numpy()
    clut = np.stack([lab[:, 0] * 255 / 100, lab[:, 1] + 128, lab[:, 2] + 128], 1).round().clip(0, 255)
    identity = bytes(range(256))
    lut = (
        b"mft1"
        + bytes(4)
        + bytes([4, 3, 2, 0])
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + identity * 4
        + clut.astype(np.uint8).tobytes()
        + identity * 3
    )
    desc = b"desc" + bytes(4) + struct.pack(">I", 5) + b"CMYK\0" + bytes(4 + 4 + 2 + 1 + 67)
    tags = [
        (b"desc", desc),
        (b"wtpt", b"XYZ " + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)),
        (b"cprt", b"text" + bytes(4) + b"none\0"),
        (b"A2B0", lut),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body))
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"prtrCMYKLab "
        + bytes(12)
        + b"acspAPPL"
        + bytes(24)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + bytes(48)
    )
    return header + table + body


def test_profiles_always_match_the_output(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cmyk = Image.new("CMYK", (8, 6), (0, 255, 255, 0))  # red through the profile
    icc = cmyk_profile()
    cmyk.save(folder / "cmyk.jpg", icc_profile=icc, quality=95)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("L", (8, 6), 128).save(folder / "gray_with_rgb_profile.png", icc_profile=srgb)
    Image.new("RGB", (8, 6), (20, 120, 220)).save(folder / "rgb.png", icc_profile=srgb)
    expected = ImageCms.profileToProfile(
        Image.open(folder / "cmyk.jpg"),
        ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    for command in (
        ["upscale", "--model", "upscale-x2"],
        ["stylize", "--style", "scream", "--strength", "0"],
        ["colorize"],
    ):
        out = tmp_path / command[0]
        r = cli(*command, folder, "-o", out)
        assert r.returncode == 0, (command, r.stderr)
        for path in out.iterdir():
            im = Image.open(path)
            profile = im.info.get("icc_profile")
            space = profile[16:20] if profile else None
            assert space in (None, b"GRAY" if im.mode in ("L", "LA", "I;16") else b"RGB "), (command, path.name, space)
        assert Image.open(out / "rgb.png").info.get("icc_profile") == srgb
        if command[0] != "colorize":
            written = np.asarray(Image.open(out / "cmyk.jpg").convert("RGB"), dtype=int)
            assert (
                np.abs(written[written.shape[0] // 2, written.shape[1] // 2] - np.asarray(expected)[3, 4]).max() < 16
            ), (command, written)


# ---- 8 and 17. signals and leftovers ----


def _job_with_many_images(tmp_path, n=30, size=(300, 400)) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        Image.fromarray(_noise(*size, seed=i)).save(folder / f"{i:02d}.png")
    return folder


def _signals_as_at_a_terminal():
    """A test suite started as a background job (`make test &`) passes SIGINT on ignored, as POSIX
    shells set it for background commands, and one started under nohup passes SIGHUP on ignored;
    i2i keeps an ignored signal ignored (that is what nohup asks for). A user at a terminal has
    both at their defaults, which is what these tests are about."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.parametrize(
    "name,code",
    [("SIGTERM", 143), *(pytest.param(n, c, marks=pytest.mark.slow) for n, c in (("SIGHUP", 129), ("SIGINT", 130)))],
)
def test_a_signal_stops_cleanly_and_a_rerun_finishes(cli, x2, tmp_path, name, code):
    n = 30
    folder, out = _job_with_many_images(tmp_path, n=n, size=(120, 160)), tmp_path / "out"
    args = ["upscale", "--model", str(x2), str(folder), "-o", str(out), "--json", "--skip-existing", "--ext", "tif"]
    p = subprocess.Popen(
        [sys.executable, "-m", "i2i", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=_signals_as_at_a_terminal,
    )
    first = p.stdout.readline()
    assert json.loads(first)["error"] is None
    p.send_signal(getattr(signal, name))
    _, err = p.communicate(timeout=120)
    assert p.returncode == code
    assert err.decode().strip().splitlines()[-1] == f"i2i: error: interrupted ({name})"
    assert not _temporaries(out)
    written = {p.name for p in out.iterdir()}
    assert 0 < len(written) < n
    for path in out.iterdir():  # whatever was written is whole
        assert Image.open(path).size == (320, 240)
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    lines = _lines(r)
    assert len(lines) == n and sum(line["skipped"] == "exists" for line in lines) == len(written)
    assert len(list(out.iterdir())) == n and not _temporaries(out)


def test_stale_temporary_files_of_dead_runs_are_removed(cli, x2, tmp_path):
    from i2i.files import _HOST, atomic_output

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.new("RGB", (8, 6), "red").save(folder / "a.png")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out.mkdir()
    stale = out / f".a.png.{_HOST}-{int(dead.stdout)}.abcd1234.part"
    stale.write_bytes(b"half an image")
    live = out / f".b.png.{_HOST}-{os.getpid()}.abcd1234.part"  # a process still writing
    live.write_bytes(b"being written")
    other_host = out / f".c.png.elsewhere-{int(dead.stdout)}.abcd1234.part"
    other_host.write_bytes(b"another machine's")
    not_ours = out / ".notes.part"
    not_ours.write_bytes(b"someone else's")
    r = cli("upscale", "--model", x2, folder, "-o", out, "--skip-existing")
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and live.exists() and other_host.exists() and not_ours.exists()
    with pytest.raises(RuntimeError), atomic_output(out / "x.png") as f:  # a failed write leaves nothing
        f.write(b"partial")
        raise RuntimeError
    assert not (out / "x.png").exists() and set(_temporaries(out)) == {live, other_host, not_ours}


def test_paths_for_a_process_elsewhere_are_absolute_and_urls_untouched(tmp_path, monkeypatch):
    """What a resumed run and a Ray worker are given: local paths absolute against the folder
    the user ran in, URLs and empty values as they are."""
    from i2i.files import absolute_path

    monkeypatch.chdir(tmp_path)
    assert absolute_path("in/a.png") == str(tmp_path / "in" / "a.png")
    assert absolute_path("../data", "/work/main") == "/work/data"
    assert absolute_path("/abs/x.png", "/elsewhere") == "/abs/x.png"
    assert absolute_path("s3://bucket/a.png", "/work") == "s3://bucket/a.png"
    assert absolute_path(None) is None and absolute_path("") == ""


def test_sigkill_leftovers_are_removed_by_the_rerun(cli, x2, tmp_path):
    """Nothing survives SIGKILL's cleanup; the rerun removes the temporary file it left."""
    folder, out = _job_with_many_images(tmp_path, n=1, size=(300, 400)), tmp_path / "out"
    # A tiled PNG output is streamed into its temporary file while the tiles run.
    args = [
        "upscale",
        "--model",
        str(x2),
        str(folder),
        "-o",
        str(out),
        "--skip-existing",
        "--tile",
        "100",
        "--tile-overlap",
        "8",
        "-q",
    ]
    p = subprocess.Popen(
        [sys.executable, "-m", "i2i", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    while not (out.is_dir() and _temporaries(out)) and time.monotonic() < deadline:
        time.sleep(0.01)
    p.kill()
    p.wait()
    assert _temporaries(out) and not (out / "00.png").exists()
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert not _temporaries(out) and Image.open(out / "00.png").size == (800, 600)


# ---- 9. which files are images; output paths with an image extension are files ----


def test_one_rule_for_images_and_hidden_folders(cli, x2, tmp_path):
    from i2i.data.image_io import FORMAT_BY_EXT

    folder = tmp_path / "in"
    (folder / ".thumbnails").mkdir(parents=True)
    Image.new("RGB", (8, 6), "red").save(folder / "a.png")
    Image.new("RGB", (8, 6), "red").save(folder / ".thumbnails" / "t.png")
    Image.new("RGB", (8, 6), "red").save(folder / ".hidden.png")
    Image.new("RGB", (8, 6), "red").save(folder / "q.qoi")  # any format this Pillow reads
    (folder / "notes.txt").write_text("not an image")
    has_avif = "avif" in FORMAT_BY_EXT
    if has_avif:
        Image.new("RGB", (8, 6), "red").save(folder / "b.avif")
    out = tmp_path / "out"
    r = cli("upscale", "--model", x2, folder, "-o", out)
    assert r.returncode == 0, r.stderr
    expected = ["a.png", "q.png"] + (["b.avif"] if has_avif else [])
    assert sorted(p.name for p in out.rglob("*")) == sorted(expected)
    assert b".thumbnails" in r.stderr and b"hidden folder" in r.stderr and b"notes.txt" in r.stderr
    if has_avif:
        r = cli("upscale", "--model", x2, folder / "a.png", "-o", tmp_path / "x.avif")
        assert r.returncode == 0 and Image.open(tmp_path / "x.avif").format == "AVIF"
    odd = tmp_path / "scan.data"  # a named file is tried whatever its name
    Image.new("RGB", (8, 6), "red").save(odd, "PNG")
    r = cli("upscale", "--model", x2, odd, "-o", tmp_path / "odd")
    assert r.returncode == 0 and (tmp_path / "odd" / "scan.png").is_file()
    r = cli("upscale", "--model", x2, folder / "a.png", "-o", tmp_path / "x.psd")
    assert r.returncode == 2 and b"does not write .psd" in r.stderr
    help_text = cli("upscale", "--help").stdout.decode()
    assert "hidden" in help_text and "max-output-pixels" in help_text


# ---- 10. metadata ----


def test_dpi_text_and_exif_follow_the_new_size(cli, x2, tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Title", "a test")
    info.add_text("Comment", "ünïcode ✓")
    Image.new("RGB", (10, 8), "red").save(tmp_path / "a.png", pnginfo=info, dpi=(72, 72))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated on display: the pixels come out upright, the tag goes
    exif[0x011A], exif[0x011B], exif[0x0128] = 300, 300, 2
    sub = exif.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = 10, 8
    Image.new("RGB", (10, 8), "blue").save(tmp_path / "b.jpg", exif=exif.tobytes(), dpi=(300, 300))
    for name, target in (("a.png", "a.png"), ("b.jpg", "b.jpg"), ("a.png", "a_stream.png")):
        args = ["--tile", "4"] if target == "a_stream.png" else []  # the band-by-band PNG writer
        r = cli("upscale", "--model", x2, tmp_path / name, "-o", tmp_path / "out" / target, *args)
        assert r.returncode == 0, r.stderr
    a, stream, b = (Image.open(tmp_path / "out" / n) for n in ("a.png", "a_stream.png", "b.jpg"))
    for png in (a, stream):
        png.load()
        assert png.text == {"Title": "a test", "Comment": "ünïcode ✓"}
        assert png.info["dpi"] == pytest.approx((144, 144), abs=0.1)
    assert b.size == (16, 20) and b.info["dpi"] == (600, 600)
    got = b.getexif()
    assert 0x0112 not in got or got[0x0112] == 1
    assert got.get_ifd(0x8769)[0xA002] == 16 and got.get_ifd(0x8769)[0xA003] == 20
    assert float(got[0x011A]) == 600


# ---- 12. output size ----


def test_output_size_is_bounded_before_any_work(cli, x2, tmp_path):
    Image.new("RGB", (64, 64), "red").save(tmp_path / "a.png")
    for bad in (
        ["--scale", "1000"],
        ["--scale", "nan"],
        ["--max-pixels", "0"],
        ["--max-output-pixels", "-1"],
        ["--tile", "-5"],
    ):
        r = cli("upscale", tmp_path / "a.png", "-o", tmp_path / "o.png", *bad)
        assert r.returncode == 2, bad
    r = cli(
        "upscale",
        "--model",
        x2,
        tmp_path / "a.png",
        "-o",
        tmp_path / "o.png",
        "--scale",
        "16",
        "--max-output-pixels",
        "1000000",
        "--json",
    )
    assert r.returncode == 1 and "1024x1024" in _lines(r)[0]["error"] and "--max-output-pixels" in _lines(r)[0]["error"]
    r = cli("upscale", "--model", x2, tmp_path / "a.png", "-o", tmp_path / "o.png", "--max-pixels", "1000")
    assert r.returncode == 1 and b"64x64 is 4096 pixels, above the limit of 1000 pixels" in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_colorize_working_size_is_bounded_for_strips():
    from i2i.engine.adapters import ColorizeAdapter

    adapter = ColorizeAdapter(task=Task(kind="colorize"), render_size=256, multiple=4)
    h, w = adapter.working_size((4000, 1))
    assert w <= 8 * 256 and h >= 4 and w % 4 == 0 and h % 4 == 0
    assert adapter.working_size((512, 256)) == (256, 512)


# ---- 15. short writes ----


def test_every_byte_reaches_a_pipe_or_the_input_fails(x2, tmp_path):
    from i2i.files import write_all

    class Narrow(io.RawIOBase):  # a raw stream that takes at most 7 bytes a call, like a full pipe
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += bytes(b[:7])
            return min(7, len(b))

    stream = Narrow()
    write_all(stream, bytes(range(256)) * 3)
    assert bytes(stream.data) == bytes(range(256)) * 3
    Image.fromarray(_noise(300, 400)).save(tmp_path / "a.png")
    p = subprocess.Popen(
        [sys.executable, "-m", "i2i", "upscale", "--model", str(x2), str(tmp_path / "a.png"), "-o", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
    )
    head = p.stdout.read(100)  # then the reader goes away, like `| head -c 100`
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert len(head) == 100 and p.returncode == 1
    assert "a.png: cannot write stdout" in err and "Traceback" not in err and "Exception ignored" not in err


# ---- 16. two jobs on one output folder ----


def test_two_jobs_on_one_folder_write_each_output_once(x2, tmp_path):
    folder, out = _job_with_many_images(tmp_path, n=16, size=(60, 80)), tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "i2i",
        "upscale",
        "--model",
        str(x2),
        str(folder),
        "-o",
        str(out),
        "--json",
        "--skip-existing",
        "--batch-size",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    jobs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    done = [(p.communicate(timeout=300), p.returncode) for p in jobs]
    written = []
    for (stdout, stderr), code in done:
        assert code == 0, stderr
        lines = [json.loads(line) for line in stdout.decode().splitlines()]
        assert len(lines) == 16 and all(line["error"] is None for line in lines)
        written += [line["output"] for line in lines if not line["skipped"]]
    assert sorted(written) == sorted(str(out / f"{i:02d}.png") for i in range(16))  # each exactly once


def test_an_output_that_appears_meanwhile_is_never_replaced(x2, tmp_path):
    from i2i.checkpoint import load_model
    from i2i.engine import engine as engine_module
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import Job, OutputOptions
    from i2i.files import OutputExists, atomic_write_bytes

    atomic_write_bytes(b"first", tmp_path / "f")
    with pytest.raises(OutputExists):
        atomic_write_bytes(b"second", tmp_path / "f", overwrite=False)
    assert (tmp_path / "f").read_bytes() == b"first" and not _temporaries(tmp_path)

    Image.new("RGB", (8, 6), "red").save(tmp_path / "a.png")
    model = load_model(x2)
    engine = Engine(model, RGBAdapter(task=model.task), device="cpu")
    encode = engine_module.encode_image

    def racing(img, fmt, quality=95):  # another job writes the output between check and write
        (tmp_path / "out").mkdir(exist_ok=True)
        (tmp_path / "out" / "a.png").write_bytes(b"theirs")
        return encode(img, fmt, quality)

    engine_module.encode_image = racing
    try:
        for skip, expected in ((True, "exists"), (False, None)):
            (tmp_path / "out" / "a.png").unlink(missing_ok=True)
            [r] = engine.process(
                [Job(str(tmp_path / "a.png"), Path("a.png"))],
                OutputOptions(out=str(tmp_path / "out"), skip_existing=skip),
            )
            assert r.skipped == expected and (skip or "another process wrote it" in r.error)
            assert (tmp_path / "out" / "a.png").read_bytes() == b"theirs"
    finally:
        engine_module.encode_image = encode


# ---- 18. error lines ----


def test_error_lines_are_never_wrapped(cli, x2, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    name = "x" * 150 + " [b] name.png"
    (folder / name).write_bytes(b"not an image")
    r = cli("upscale", "--model", x2, folder, "-o", tmp_path / "out")
    assert r.returncode == 1
    lines = r.stderr.decode().splitlines()
    assert lines[0] == f"i2i: error: {folder / name}: not an image (format not recognised)"
    from i2i.errors import one_line

    assert (
        one_line("Error(s) in loading state_dict:\n\tMissing key(s): a.\n")
        == "Error(s) in loading state_dict:; Missing key(s): a."
    )


# ---- issue 32.1: file names that are not valid UTF-8 ----


def _latin1(name: bytes) -> str:
    """A Latin-1 file name as Python holds it (surrogateescape): what os.listdir gives on Linux."""
    return os.fsdecode(name)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows file names are always Unicode")
def test_names_that_are_not_utf8_are_written_and_printed_as_the_os_gives_them(cli, x2, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_noise(12, 10)).save(folder / _latin1(b"caf\xe9.png"))
    Image.fromarray(_noise(12, 10, seed=1)).save(folder / "ok.png")
    (folder / _latin1(b"bad\xe9.png")).write_bytes(b"not an image")
    (folder / _latin1(b"notes\xe9.txt")).write_text("not an image")
    frames = [Image.fromarray(_noise(12, 10, seed=s)) for s in range(3)]
    frames[0].save(folder / _latin1(b"anim\xe9.gif"), save_all=True, append_images=frames[1:], loop=0)
    model = tmp_path / _latin1(b"mod\xe8le.safetensors")
    model.write_bytes(x2.read_bytes())
    out = tmp_path / _latin1(b"out\xe9")
    cache = {"I2I_CACHE_DIR": str(tmp_path / _latin1(b"cach\xe9"))}  # ONNX Runtime opens graphs in it
    r = cli("upscale", "--model", model, folder, "-o", out, "--backend", "onnxruntime", env=cache)
    assert r.returncode == 1  # bad\xe9.png, and nothing else
    expected = [b"anim\xe9.gif", b"caf\xe9.png", b"ok.png"]
    assert sorted(os.listdir(os.fsencode(out))) == expected
    out_bytes = os.fsencode(out)
    assert sorted(r.stdout.splitlines()) == sorted(out_bytes + b"/" + name for name in expected)
    errors = r.stderr.splitlines()
    assert b"i2i: error: " + os.fsencode(folder) + b"/bad\xe9.png: not an image (format not recognised)" in errors
    assert any(line.startswith(b"note: ") and b"notes\xe9.txt: skipped" in line for line in errors), r.stderr
    assert Image.open(out / _latin1(b"anim\xe9.gif")).n_frames == 3
    # --json: ASCII lines; such a name is its surrogateescape escape, which os.fsencode reverses
    r = cli("upscale", "--model", model, folder, "-o", tmp_path / "j", "--json")
    assert r.returncode == 1 and r.stdout.isascii()
    lines = _by_name(_lines(r))
    assert b"\\udce9" in r.stdout and os.fsencode(lines[_latin1(b"caf\xe9.png")]["output"]) == os.fsencode(
        tmp_path / "j" / _latin1(b"caf\xe9.png")
    )
    assert lines[_latin1(b"anim\xe9.gif")]["frames"] == 3 and lines[_latin1(b"bad\xe9.png")]["error"]
    # The other commands that read or name model files (`i2i models` reads headers as info does)
    r = cli("info", model)
    assert r.returncode == 0 and r.stdout.startswith(b"file: " + os.fsencode(model) + b"\n"), r.stderr
    onnx = tmp_path / _latin1(b"mod\xe8le.onnx")
    r = cli("export", model, "-o", onnx)
    assert r.returncode == 0 and r.stdout.startswith(os.fsencode(onnx) + b": srresnet"), r.stderr
    assert onnx.stat().st_size > 1000


def test_a_name_that_is_not_utf8_is_stored_escaped_in_checkpoint_and_latent_metadata(x2, tmp_path):
    import zlib

    import torch

    from i2i.checkpoint import load_model, read_info
    from i2i.data.degradations import FixedDegradation
    from i2i.gan.latents import load_latents, save_latents

    model = load_model(x2)
    described = dataclasses.replace(model.info, description="trained on " + _latin1(b"caf\xe9"))
    save_model(tmp_path / _latin1(b"m\xe9.safetensors"), model.module, described)  # a training run's export
    assert read_info(tmp_path / _latin1(b"m\xe9.safetensors")).description == "trained on caf\\xe9"
    save_latents(tmp_path / "z.safetensors", torch.zeros(1, 4), source=_latin1(b"caf\xe9.png"))  # i2i invert's
    assert load_latents(tmp_path / "z.safetensors").shape == (1, 4)
    assert FixedDegradation.seed_for(_latin1(b"x/caf\xe9.png")) == zlib.crc32(b"caf\xe9.png")
