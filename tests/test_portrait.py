"""`i2i colorize`'s per-photo portrait blend: the people score (data/people_estimate.py), the share
it gives the portrait model (interpolation.portrait_share), and the command that blends them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from i2i.interpolation import PORTRAIT_SCORE_RAMP, PORTRAIT_STEP, portrait_share
from i2i.models import shipped

MODELS = shipped()
needs_pair = pytest.mark.skipif(
    not {"colorize", "colorize-portrait"} <= set(MODELS), reason="the colorize pair is not shipped"
)


def test_the_people_score_tells_portraits_from_landscapes_as_the_engine_decodes_them(data, tmp_path):
    """Scored on the decoded image (read_image): its gray, upright, at any bit depth."""
    from i2i.data.image_io import read_image
    from i2i.data.people_estimate import people_score

    baby = Image.open(data / "sr/val/Set5/baby.png")
    score = people_score(read_image(data / "sr/val/Set5/baby.png"))
    assert score > PORTRAIT_SCORE_RAMP[1]
    variants = {
        "gray.png": baby.convert("L"),
        "gray16.png": Image.fromarray(np.asarray(baby.convert("L"), dtype=np.uint16) * 257),  # mode I;16
    }
    for name, image in variants.items():
        image.save(tmp_path / name)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side, shown upright
    baby.rotate(90, expand=True).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    for name in [*variants, "rotated.jpg"]:
        assert abs(people_score(read_image(tmp_path / name)) - score) < 0.03, name
    for photo in sorted((data / "monet2photo/testB").iterdir())[:3]:
        assert people_score(read_image(photo)) < PORTRAIT_SCORE_RAMP[0], photo.name
    Image.new("RGB", (5, 300), "white").save(tmp_path / "strip.png")
    assert 0 <= people_score(read_image(tmp_path / "strip.png")) <= 1  # a strip scores too


def test_the_portrait_share_ramps_between_the_calibrated_points_on_steps():
    lo, hi = PORTRAIT_SCORE_RAMP
    assert portrait_share(0.0) == portrait_share(lo) == 0.0
    assert portrait_share(hi) == portrait_share(0.95) == 1.0
    assert portrait_share((lo + hi) / 2) == 0.5
    shares = {portrait_share(s) for s in np.linspace(0, 1, 101)}
    assert shares == {k * PORTRAIT_STEP for k in range(int(1 / PORTRAIT_STEP) + 1)}


@needs_pair
def test_colorize_blends_its_portrait_model_into_photos_of_people_and_says_so(data, tmp_path, cli):
    src = tmp_path / "in"
    src.mkdir()
    Image.open(data / "sr/val/Set5/baby.png").convert("L").resize((256, 256)).save(src / "baby.png")
    landscape = sorted((data / "monet2photo/testB").iterdir())[0]
    Image.open(landscape).convert("L").save(src / "landscape.png")
    r = cli("colorize", src, "-o", tmp_path / "auto", "--json")
    assert r.returncode == 0, r.stderr.decode()
    choices = {json.loads(line)["input"].split("/")[-1]: json.loads(line)["choice"] for line in r.stdout.splitlines()}
    assert choices["baby.png"]["blend"] == {"colorize-portrait": 1.0} and choices["baby.png"]["people_score"] > 0.2
    assert choices["landscape.png"]["blend"] == {"colorize": 1.0}
    for share in ("0", "1"):
        assert cli("colorize", src, "-o", tmp_path / share, "--portrait", share, "-q").returncode == 0

    def pixels(folder, name):
        return np.asarray(Image.open(tmp_path / folder / name), dtype=float)

    assert np.abs(pixels("auto", "baby.png") - pixels("1", "baby.png")).max() <= 1
    assert np.abs(pixels("auto", "landscape.png") - pixels("0", "landscape.png")).max() <= 1
    assert np.abs(pixels("0", "baby.png") - pixels("1", "baby.png")).mean() > 2  # the blend shows
    # -v says it in words.
    r = cli("colorize", src / "baby.png", "-o", tmp_path / "v.png", "-v")
    assert "baby.png: people score 0.7" in r.stderr.decode() and "-> colorize-portrait 1" in r.stderr.decode()

    # A colorizer that names no portrait model runs alone (so does any with --portrait 0); a
    # share for it is refused by name.
    for args in ((), ("--portrait", "0")):
        r = cli("colorize", src / "baby.png", "-o", tmp_path / "p.png", "--model", "colorize-portrait", "--json", *args)
        assert r.returncode == 0 and "choice" not in json.loads(r.stdout)
    r = cli("colorize", src / "baby.png", "-o", tmp_path / "x.png", "--model", "colorize-portrait", "--portrait", "0.5")
    assert r.returncode == 2 and "colorize-portrait.safetensors names none" in r.stderr.decode()


@needs_pair
def test_a_portrait_model_that_is_not_here_leaves_the_colorizer_alone_with_a_note(data, tmp_path, cli):
    import subprocess
    import sys

    from conftest import ROOT

    lonely = tmp_path / "lonely.safetensors"
    subprocess.run(
        [sys.executable, ROOT / "scripts/ship_model.py", MODELS["colorize"], lonely, "--half"]
        + ["--training", "portrait_stage=nowhere-portrait"],
        check=True,
        capture_output=True,
    )
    baby = tmp_path / "baby.png"
    Image.open(data / "sr/val/Set5/baby.png").convert("L").resize((96, 96)).save(baby)
    r = cli("colorize", baby, "-o", tmp_path / "out.png", "--model", lonely, "--json")
    assert r.returncode == 0 and "choice" not in json.loads(r.stdout)
    assert "names its portrait model nowhere-portrait, which is not here" in r.stderr.decode()
    r = cli("colorize", baby, "-o", tmp_path / "x.png", "--model", lonely, "--portrait", "1")
    assert r.returncode == 2 and "nowhere-portrait, which is not here" in r.stderr.decode()
    assert not (tmp_path / "x.png").exists()


@needs_pair
def test_a_portrait_model_beside_the_colorizer_is_the_one_blended(data, tmp_path, cli):
    """A pair of candidates in one folder (scripts/retrain_shipped.py's OUT) is used as a pair,
    not the candidate with the shipped portrait model: here the 'portrait model' beside it is the
    colorizer itself, so the baby comes out as the colorizer alone colours it."""
    pair = tmp_path / "pair"
    pair.mkdir()
    shutil.copy(MODELS["colorize"], pair / "colorize.safetensors")
    shutil.copy(MODELS["colorize"], pair / "colorize-portrait.safetensors")
    baby = tmp_path / "baby.png"
    Image.open(data / "sr/val/Set5/baby.png").convert("L").resize((128, 128)).save(baby)
    runs = {}
    for args, out in ((("--json",), "beside.png"), (("--portrait", "0"), "alone.png")):
        runs[out] = cli("colorize", baby, "-o", tmp_path / out, "--model", pair / "colorize.safetensors", *args)
        assert runs[out].returncode == 0, runs[out].stderr.decode()
    assert json.loads(runs["beside.png"].stdout)["choice"]["blend"] == {"colorize-portrait": 1.0}
    beside = np.asarray(Image.open(tmp_path / "beside.png"), dtype=float)
    alone = np.asarray(Image.open(tmp_path / "alone.png"), dtype=float)
    assert np.abs(beside - alone).max() <= 1
