"""Models by name (shipped weights/, then the user models folder), `i2i models`, and each
command refusing a model whose task it does not run."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import start_cli
from PIL import Image

from i2i.errors import CheckpointError
from i2i.models import resolve, user_models_dir


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A user models folder with a community model (SRVGGNetCompact in Real-ESRGAN's layout),
    a model in a subfolder, a hidden file and a broken file."""
    from spandrel.architectures.Compact import Compact

    folder = tmp_path / "models"
    (folder / "anime").mkdir(parents=True)
    (folder / ".trash").mkdir()
    torch.manual_seed(0)
    state = Compact(num_feat=8, num_conv=2, upscale=4).state_dict()
    torch.save({"params": state}, folder / "RealESRGAN_x4plus.pth")
    torch.save({"params": Compact(num_feat=8, num_conv=2, upscale=2).state_dict()}, folder / "anime" / "2x-anime.pth")
    torch.save({"params": state}, folder / ".trash" / "hidden.pth")
    (folder / "broken.pth").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("I2I_MODELS", str(folder))
    return folder


def test_names_resolve_shipped_first_then_user(user_folder):
    assert resolve("RealESRGAN_x4plus") == user_folder / "RealESRGAN_x4plus.pth"
    assert resolve("realesrgan_X4PLUS") == user_folder / "RealESRGAN_x4plus.pth"  # unique, any case
    assert resolve("2x-anime") == user_folder / "anime" / "2x-anime.pth"
    assert resolve("x4", prefix="upscale-").name == "upscale-x4.safetensors"
    assert resolve("upscale-x4").parent.name == "weights"
    torch.save({}, user_folder / "upscale-x4.pth")  # a user file never shadows a shipped model
    assert resolve("upscale-x4").parent.name == "weights"
    with pytest.raises(CheckpointError, match="no model named 'hidden'"):
        resolve("hidden")
    with pytest.raises(CheckpointError, match=r"did you mean: RealESRGAN_x4plus\?"):
        resolve("RealESRGAN_x4plu")
    with pytest.raises(CheckpointError, match=r"did you mean: .*x4-gan"):
        resolve("x4-gann", prefix="upscale-")
    with pytest.raises(
        CheckpointError, match=r"there are: composition-vii, great-wave, .*starry-night \(`i2i models` lists all\)"
    ):
        resolve("van-gogh", prefix="style-")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        resolve(str(user_folder / "missing.pth"))


def test_default_user_folder_is_the_platforms(monkeypatch):
    from platformdirs import user_data_path

    monkeypatch.delenv("I2I_MODELS", raising=False)
    assert user_models_dir() == user_data_path("i2i", appauthor=False) / "models"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "in.png"
    Image.new("RGB", (20, 12), (200, 90, 40)).save(path)
    return path


def test_models_listing_upscaling_by_name_and_typos(user_folder, image, tmp_path):
    runs = {
        "list": start_cli("models", "--json"),
        "by name": start_cli("upscale", "--model", "RealESRGAN_x4plus", image, "-o", tmp_path / "big.png"),
        "typo": start_cli("upscale", "--model", "RealESRGAN_x4plu", image, "-o", tmp_path / "typo.png"),
    }
    done = {name: (p, *p.communicate(timeout=600)) for name, p in runs.items()}
    process, out, err = done["list"]
    assert process.returncode == 1  # the broken file is an error, named; everything else listed
    rows = {row["name"]: row for row in map(json.loads, out.decode().splitlines())}
    assert rows["RealESRGAN_x4plus"] | {"path": None} == {
        "name": "RealESRGAN_x4plus",
        "source": "user",
        "path": None,
        "task": "upscale",
        "scale": 4,
        "arch": "Compact",
        "channels": "RGB->RGB",
    }
    assert rows["2x-anime"]["scale"] == 2 and "hidden" not in rows
    assert rows["upscale-x4"]["source"] == "shipped" and rows["style-monet"]["task"] == "stylize"
    assert "error" in rows["broken"] and b"broken.pth" in err
    process, out, err = done["by name"]
    assert process.returncode == 0, err
    assert Image.open(tmp_path / "big.png").size == (80, 48)
    process, out, err = done["typo"]
    assert process.returncode == 2 and b"did you mean: RealESRGAN_x4plus?" in err
    assert err.decode().count("\n") == 1


WRONG_TASK = [
    (["upscale", "--model", "style-monet"], b"a stylize model; `i2i upscale` runs upscale and restore models"),
    (["stylize", "--style", "upscale-x4"], b"an upscale model; `i2i stylize` runs stylize models"),
    (["colorize", "--model", "upscale-x2"], b"an upscale model; `i2i colorize` runs colorize models"),
    (["translate", "--model", "style-monet"], b"a stylize model; `i2i translate` runs translate and restore"),
    (["stylize", "--style", "colorize"], b"a colorize model; `i2i stylize`"),
    (["upscale", "--model", "dcgan-landscapes-encoder"], b"an encoder model; `i2i upscale` runs"),
    (["translate", "--model", "dcgan-landscapes"], b"a generator model; `i2i translate` runs"),
]


def test_each_command_refuses_a_model_of_another_task(image, tmp_path):
    runs = [
        (args, words, start_cli(*args, image, "-o", tmp_path / f"{i}.png"))
        for i, (args, words) in enumerate(WRONG_TASK)
    ]
    for args, words, process in runs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 2, (args, err)
        assert words in err and err.decode().count("\n") == 1, (args, err)
    assert not list(tmp_path.glob("*.png"))
