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


def test_the_people_score_tells_portraits_from_landscapes_and_reads_lightness_only(data):
    from i2i.data.people_estimate import people_score

    baby = Image.open(data / "sr/val/Set5/baby.png")
    assert people_score(baby) > PORTRAIT_SCORE_RAMP[1]
    assert abs(people_score(baby.convert("L")) - people_score(baby)) < 0.01  # the gray is what is scored
    for photo in sorted((data / "monet2photo/testB").iterdir())[:3]:
        assert people_score(Image.open(photo)) < PORTRAIT_SCORE_RAMP[0], photo.name
    assert 0 <= people_score(Image.new("RGB", (5, 300), "white")) <= 1  # a strip scores too


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

    # A colorizer that names no portrait model runs alone; a share for it is refused by name.
    r = cli("colorize", src / "baby.png", "-o", tmp_path / "p.png", "--model", "colorize-portrait", "--json")
    assert r.returncode == 0 and "choice" not in json.loads(r.stdout)
    r = cli("colorize", src / "baby.png", "-o", tmp_path / "x.png", "--model", "colorize-portrait", "--portrait", "0.5")
    assert r.returncode == 2 and "colorize-portrait.safetensors does not" in r.stderr.decode()


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
    for args, out in (((), "beside.png"), (("--portrait", "0"), "alone.png")):
        r = cli("colorize", baby, "-o", tmp_path / out, "--model", pair / "colorize.safetensors", *args)
        assert r.returncode == 0, r.stderr.decode()
    beside = np.asarray(Image.open(tmp_path / "beside.png"), dtype=float)
    alone = np.asarray(Image.open(tmp_path / "alone.png"), dtype=float)
    assert np.abs(beside - alone).max() <= 1
