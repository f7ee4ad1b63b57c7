"""The command line's own surface: --version, every command's --help, and a light start-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import i2i


def test_version_flag_and_info_json_name_the_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.decode() == f"i2i {i2i.__version__}\n", r.stderr
    r = cli("info", "upscale-x2", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["version"] == i2i.__version__


def _command_paths() -> list[list[str]]:
    """Every command and sub-command, as the words that name it (train's methods included)."""
    import typer

    from i2i.cli import _register, app

    _register()

    def walk(command, words):
        found = [words] if words else []
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found += walk(sub, [*words, name])
        return found

    return walk(typer.main.get_command(app), [])


PYTHON_TYPE = re.compile(r"<[^<>\n]*>|\b(?:list|tuple|dict|Optional)\[|\s(?:str|int|float|bool|Path|NoneType)\b(?!\w)")


def test_no_help_text_shows_a_python_type_name(cli):
    """Every command's --help names values by metavars (FILE, N, 0..1, NAME|FILE), never by a
    Python type, and every command taking several inputs shows them alike: {INPUT}..."""
    paths = _command_paths()
    assert ["invert"] in paths and ["train", "pix2pix"] in paths
    for words in [[], *paths]:
        r = cli(*words, "--help")
        text = r.stdout.decode()
        assert r.returncode == 0 and "Usage:" in text, (words, r.stderr)
        bad = [m.group(0) for m in PYTHON_TYPE.finditer(text)]
        assert not bad, (words, bad)
        usage = text.split("Usage:")[1].splitlines()[0]
        if "..." in usage.replace("[ARGS]...", ""):
            assert usage.endswith("[OPTIONS] {INPUT}..."), (words, usage)


def test_stylize_list_needs_no_inputs_and_translate_needs_a_model(cli, tmp_path):
    r = cli("stylize", "--list")
    assert r.returncode == 0 and b"starry-night" in r.stdout, r.stderr
    r = cli("stylize")
    assert r.returncode == 2 and b"Missing argument 'INPUT'" in r.stderr
    r = cli("translate", tmp_path / "a.png", "-o", tmp_path / "b.png")
    assert r.returncode == 2 and b"Missing option '--model'" in r.stderr
    assert r.stderr.decode().count("\n") == 1


HEAVY = ("torch", "torchvision", "numpy", "onnx", "onnxruntime", "openvino", "cv2", "av", "spandrel", "matplotlib")


def _imported(*args) -> set[str]:
    """The top-level modules `python -X importtime -m i2i ARGS` imported (its stderr lists them)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "i2i", *args], capture_output=True, env=os.environ, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", r.stderr.decode(), flags=re.M)
    return {name.split(".")[0] for name in names}


def test_models_and_info_import_nothing_heavy():
    """Listing model files and reading safetensors headers needs neither torch nor a runtime:
    `i2i models` and `i2i info` start in a fraction of a second (about 3.7 s with torch)."""
    for args in (["models"], ["models", "--json"], ["info", "upscale-x2"], ["info", "dcgan-landscapes", "--json"]):
        imported = _imported(*args)
        assert "i2i" in imported and not imported & set(HEAVY), (args, imported & set(HEAVY))


def test_info_shows_a_long_list_of_numbers_as_its_length_and_range():
    from i2i.cli.info import _shown

    assert _shown([0.5, *range(1, 220)]) == "220 numbers, 0.5 to 219 (--json shows them)"  # a colorizer's ab_prior
    assert _shown([1, 2]) == "[1, 2]" and _shown({"a": 1}) == '{"a": 1}' and _shown("x") == "x"
