"""End-to-end: the real CLI over real images, bad inputs, exit codes, and output rules."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageCms
from test_image_io import bad_inputs


@pytest.fixture
def photos(tmp_path, data):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("baby.png", "bird.png"):
        Image.open(data / "sr/val/Set5" / name).resize((64, 48)).save(folder / name)
    Image.open(sorted((data / "monet2photo/testB").iterdir())[0]).resize((40, 40)).save(
        folder / "sub/photo.jpg", quality=90
    )
    (folder / "README.txt").write_text("not an image")
    return folder


def test_folder_mirrors_tree_and_prints_outputs(cli, sr_model, photos, tmp_path):
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, photos, "-o", out)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.decode().split()) == sorted(str(out / p) for p in ("baby.png", "bird.png", "sub/photo.jpg"))
    assert Image.open(out / "baby.png").size == (128, 96)
    assert Image.open(out / "sub/photo.jpg").format == "JPEG"
    assert b"README.txt" in r.stderr and b"not an image" in r.stderr


def test_positional_output_and_existing_outputs(cli, sr_model, photos, tmp_path):
    out = tmp_path / "out"
    assert cli("upscale", "--model", sr_model, photos, out).returncode == 0
    before = (out / "baby.png").stat().st_mtime_ns
    r = cli("upscale", "--model", sr_model, photos, out)  # kept, each with a note: not a failure
    assert r.returncode == 0 and not r.stdout and (out / "baby.png").stat().st_mtime_ns == before
    assert f"{photos / 'baby.png'}: skipped: {out / 'baby.png'} exists".encode() in r.stderr
    r = cli("upscale", "--model", sr_model, photos, out, "--skip-existing")
    assert r.returncode == 0 and b"exists" not in r.stderr and (out / "baby.png").stat().st_mtime_ns == before
    r = cli("upscale", "--model", sr_model, photos, out, "--skip-existing", "--overwrite")
    assert r.returncode == 2 and b"contradict" in r.stderr
    r = cli("upscale", "--model", sr_model, photos, out, "--overwrite", "--ext", "webp", "--suffix", "_x2")
    assert r.returncode == 0 and (out / "baby_x2.webp").is_file()


def test_a_folder_without_images_says_so(cli, sr_model, tmp_path):
    (tmp_path / "empty").mkdir()
    r = cli("upscale", "--model", sr_model, tmp_path / "empty", "-o", tmp_path / "out")
    assert r.returncode == 0 and b"no images found" in r.stderr and not r.stdout


def test_bad_inputs_fail_alone(cli, sr_model, photos, tmp_path):
    expected = bad_inputs(photos)
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, photos, "-o", out, "--json")
    assert r.returncode == 1
    lines = [json.loads(line) for line in r.stdout.decode().splitlines()]
    by_name = {line["input"].rsplit("/", 1)[-1]: line for line in lines}
    for name, message in expected.items():
        assert message in by_name[name]["error"], by_name[name]
    for good in ("baby.png", "bird.png", "photo.jpg"):
        assert by_name[good]["error"] is None
    assert sorted(p.name for p in out.rglob("*")) == ["baby.png", "bird.png", "photo.jpg", "sub"]
    assert not list(out.rglob("*.part")) and not list(out.rglob(".*"))


def test_stdin_to_stdout(cli, sr_model, data):
    buf = io.BytesIO()
    Image.open(data / "sr/val/Set5/head.png").resize((30, 20)).save(buf, "PNG")
    r = cli("upscale", "--model", sr_model, "-", "-o", "-", input=buf.getvalue())
    assert r.returncode == 0, r.stderr
    assert Image.open(io.BytesIO(r.stdout)).size == (60, 40)


def test_usage_errors_exit_2(cli, sr_model, tmp_path):
    assert cli("upscale", "--model", sr_model, "nothing.png").returncode == 2
    r = cli("translate", "--model", tmp_path / "missing.safetensors", "a.png", "-o", tmp_path)
    assert r.returncode == 2 and b"no such checkpoint" in r.stderr
    r = cli("upscale", "--model", sr_model, tmp_path / "missing.png", "-o", tmp_path / "o")
    assert r.returncode == 1 and b"no such file" in r.stderr


def test_alpha_gray_and_16_bit_upscale(cli, sr_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)).save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8)).save(folder / "gray.png")
    Image.fromarray(rng.integers(0, 65535, (20, 30), dtype=np.uint16)).save(folder / "g16.png")
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, "--scale", "3", folder, "-o", out)
    assert r.returncode == 0, r.stderr
    rgba, gray, g16 = (Image.open(out / n) for n in ("rgba.png", "gray.png", "g16.png"))
    assert (rgba.mode, rgba.size) == ("RGBA", (90, 60))
    assert (gray.mode, gray.size) == ("L", (90, 60))
    assert g16.mode.startswith("I") and g16.size == (90, 60)


def test_help_is_fast_and_has_examples(cli):
    for args in (["--help"], ["upscale", "--help"], ["train", "pix2pix", "--help"]):
        r = cli(*args)
        assert r.returncode == 0 and b"Example" in r.stdout
    import subprocess
    import sys
    import time

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "i2i", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - t < 3  # generous: torch is not imported for help
    r = subprocess.run(
        [sys.executable, "-c", "import sys, i2i.cli; i2i.cli._register(); print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip() == "False"


def test_tiled_png_outputs_stream_and_match_the_in_memory_result(cli, sr_model, data, tmp_path):
    """Tiled PNG outputs are written band by band; the pixels are those of the whole-image path."""
    from i2i.checkpoint import load_model
    from i2i.data.image_io import quantize, read_image
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    folder = tmp_path / "in"
    folder.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.open(data / "sr/val/Set14/lenna.png").resize((200, 150)).save(folder / "rgb.png", icc_profile=icc)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 65535, (90, 70), dtype=np.uint16)).save(folder / "g16.png")
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, "--tile", "64", "--precision", "fp32", folder, "-o", out)
    assert r.returncode == 0, r.stderr
    model = load_model(sr_model)
    engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu", tile=0)
    for name, mode in (("rgb.png", "RGB"), ("g16.png", "I;16")):
        written = Image.open(out / name)
        expected = engine.run_image(read_image(folder / name))
        assert written.mode == mode and written.size == expected.size
        depth = 16 if mode == "I;16" else 8
        reference = quantize(expected.pixels, depth).astype(np.int64).squeeze()
        assert np.abs(np.asarray(written).astype(np.int64) - reference).max() <= (1 if depth == 8 else 300)
    assert Image.open(out / "rgb.png").info.get("icc_profile") == icc
    assert not list(out.glob(".*.part"))


def test_progress_lines_in_a_log_and_backend_notes_once_per_run(cli, sr_model, tmp_path):
    """stderr a pipe: a plain progress line at most every I2I_PROGRESS_SECONDS (none for a job
    shorter than that), and the backend measurement said once, not once per new image size."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i, size in enumerate([(16, 12), (128, 96), (64, 48)]):  # three size classes: three measurements
        Image.new("RGB", size, (40 * i, 90, 200)).save(folder / f"{i}.png")
    env = {"I2I_CACHE_DIR": str(tmp_path / "cache"), "I2I_PROGRESS_SECONDS": "0"}
    r = cli("upscale", "--model", sr_model, folder, "-o", tmp_path / "out", env=env)
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert err.count("measuring backends") == 1, err
    lines = [line for line in err.splitlines() if line.startswith("images ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"] and "elapsed" in lines[-1], err
    r = cli(
        "upscale", "--model", sr_model, folder, "-o", tmp_path / "again", env={"I2I_CACHE_DIR": env["I2I_CACHE_DIR"]}
    )
    assert r.returncode == 0 and "images " not in r.stderr.decode(), r.stderr  # done within 10 s: no line
