"""Every command's options are built from typed options dataclasses, one default each: what a
command gets when given nothing is the dataclasses' defaults (tests/test_train_cli.py does the
same for `i2i train`). These run the commands in-process with the work itself replaced."""

from __future__ import annotations

from dataclasses import fields

import pytest
import typer.main

from i2i.engine.commands import COMMANDS
from i2i.engine.options import EngineOptions, OutputOptions, RayOptions


@pytest.fixture(scope="module")
def commands():
    from i2i.cli import _register, app

    _register()
    return typer.main.get_command(app).commands


def _run_captured(commands, monkeypatch, name: str, args: list[str]) -> dict:
    """Run `i2i NAME ARGS` with run_job replaced; -> what run_job was handed."""
    from i2i.cli import run

    captured = {}

    def fake_run_job(recipe, inputs, output, job, *, video=None, verbose=False):
        captured.update(recipe=recipe, job=job, video=video)

    monkeypatch.setattr(run, "run_job", fake_run_job)
    commands[name].main(args, prog_name=f"i2i {name}", standalone_mode=False)
    return captured


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_inference_command_gets_the_dataclasses_defaults(name, commands, monkeypatch):
    from i2i.cli.options import DisplayOptions, JobOptions
    from i2i.engine import commands as engine_commands
    from i2i.engine.video import VideoOptions

    seen = {}
    monkeypatch.setattr(engine_commands, "recipe_for", lambda options: seen.setdefault("options", options))
    args = ["in.png", "-o", "out/"] + (["--model", "m"] if name == "translate" else [])
    got = _run_captured(commands, monkeypatch, name, args)
    assert got["job"] == JobOptions(output=OutputOptions(out=""), engine=EngineOptions(), display=DisplayOptions())
    expected_video = VideoOptions()
    if name == "upscale":  # upscale's one own default: no motion smoothing (a sharper model's flicker is small)
        from dataclasses import replace

        expected_video = replace(expected_video, temporal=replace(expected_video.temporal, smoothing=0.0))
    assert got["video"] == expected_video
    # The command's own options: what it was given by default is its options dataclass's defaults.
    own = COMMANDS[name]
    assert seen["options"] == own(**({"model": "m"} if name == "translate" else {}))
    # And option by option, as --help shows them.
    params = {p.name: p for p in commands[name].params}
    for f in fields(own):
        if f.name in params and params[f.name].default is not None:
            assert params[f.name].default == f.default, (name, f.name)


def test_job_options_show_each_fields_default_and_ray_is_off_by_default(commands):
    from i2i.cli.options import DisplayOptions, cli_type_and_default, parameter_name

    params = {p.name: p for p in commands["upscale"].params}
    for cls in (OutputOptions, EngineOptions, RayOptions, DisplayOptions):
        for f in fields(cls):
            if not f.metadata.get("cli", True):
                continue
            default = params[parameter_name(f)].default
            expected = None if f.name == "address" else cli_type_and_default(f)[1]
            assert default == expected, (cls.__name__, f.name)
    assert "tile" not in {p.name for p in commands["colorize"].params}  # colorize never tiles


def test_engine_limits_are_the_readers_limits():
    from i2i.data.image_io import DEFAULT_MAX_OUTPUT_PIXELS, DEFAULT_MAX_PIXELS

    assert EngineOptions().max_pixels == DEFAULT_MAX_PIXELS
    assert EngineOptions().max_output_pixels == DEFAULT_MAX_OUTPUT_PIXELS


def test_ray_options_come_from_the_ray_flags(commands, monkeypatch):
    got = _run_captured(
        commands, monkeypatch, "stylize", ["in.png", "-o", "out/", "--ray", "local", "--ray-actors", "2", "--json"]
    )
    assert got["job"].engine.ray == RayOptions(address="local", actors=2)
    assert got["job"].display.as_json and not got["job"].display.quiet


def test_invert_gets_the_inversion_options_defaults(commands, monkeypatch, tmp_path):
    from i2i.gan import api
    from i2i.gan.options import InversionOptions

    captured = {}

    def fake_invert(model, plan, options, **kwargs):
        captured.update(options=options, device=kwargs["device"])
        return iter(())

    monkeypatch.setattr(api, "invert", fake_invert)
    commands["invert"].main([str(tmp_path / "none.png"), "-q"], prog_name="i2i invert", standalone_mode=False)
    assert captured == {"options": InversionOptions(), "device": EngineOptions().device}
    params = {p.name: p for p in commands["invert"].params}
    assert params["perceptual"].default == InversionOptions().perceptual_weight


def test_both_adapters_keep_the_contract_the_engine_calls():
    """engine/adapters.py's Protocols name every method the engine calls; a colorize image is
    never streamed, so its adapter says so and has no band methods."""
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import Adapter, ColorizeAdapter, RGBAdapter, StreamingAdapter
    from i2i.task import Task

    rgb = RGBAdapter(task=Task(kind="upscale", scale=2))
    colorize = ColorizeAdapter(task=Task(kind="colorize", in_space="L", out_space="ab"))
    assert isinstance(rgb, StreamingAdapter) and isinstance(colorize, Adapter)
    assert not isinstance(colorize, StreamingAdapter)
    image = read_image(_a_photo())
    assert not colorize.streams(image) and rgb.channels_out(image) == 3
    assert colorize.output_size(image.size) == image.size and rgb.output_size(image.size) == (
        2 * image.size[0],
        2 * image.size[1],
    )


def _a_photo() -> bytes:
    """The first photo of Set5 (the shared data's sr/val), as bytes."""
    from conftest import SHARED

    return (SHARED / "sr/val/Set5/baby.png").read_bytes()


def test_generate_and_serve_defaults_are_their_libraries(commands):
    """The commands declared by hand show the defaults of the library objects they fill in."""
    from dataclasses import fields as fields_of

    from i2i.gan.api import LatentSource
    from i2i.ui.jobs import GenerateOptions, Limits

    generate = {p.name: p.default for p in commands["generate"].params}
    for f in fields_of(LatentSource):
        if f.name in generate:
            assert generate[f.name] == f.default, f.name
    for f in fields_of(GenerateOptions):  # the page's Generate tab
        assert generate[f.name] == f.default, f.name
    serve = {p.name: p.default for p in commands["serve"].params}
    assert serve["max_pixels"] == Limits().max_pixels == EngineOptions().max_pixels
    assert serve["max_output_pixels"] == Limits().max_output_pixels == EngineOptions().max_output_pixels
