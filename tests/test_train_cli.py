"""`i2i train METHOD` is built from the options dataclasses: one source per option.

These run the commands in-process with the training itself replaced, so they check parsing only
(tests/test_training.py runs real trainings through the real CLI)."""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest
import typer.main

from i2i.training.methods import METHODS
from i2i.training.options import LoopOptions


@pytest.fixture(scope="module")
def train_cli():
    import i2i.cli

    i2i.cli._register()
    from i2i.cli import train as train_cli

    return train_cli


def _required_arguments(method, tmp_path) -> tuple[list[str], dict]:
    """Command-line arguments for the method's required options, and the field values they give."""
    painting = tmp_path / "painting.png"
    painting.write_bytes(b"")  # the style command checks that the painting exists
    args, values = [], {}
    for f in fields(method.options):
        if f.default is not MISSING or f.default_factory is not MISSING:
            continue
        given = str(painting) if f.name == "style" else str(tmp_path / f.name)
        args += [f"--{f.name.replace('_', '-')}", given]
        values[f.name] = (given,) if f.type == tuple[str, ...] else given
    return args, values


@pytest.mark.parametrize("name", list(METHODS))
def test_every_cli_default_equals_its_dataclass_default(name, train_cli, tmp_path, monkeypatch):
    method = METHODS[name]
    captured = {}

    def fake_run(method, options, values):
        captured["options"] = options
        captured["loop"] = method.loop_options(**train_cli.loop_values(values))

    monkeypatch.setattr(train_cli, "_run", fake_run)
    args, required = _required_arguments(method, tmp_path)
    command = typer.main.get_command(train_cli.train_app).commands[name]
    command.main(args, prog_name=f"i2i train {name}", standalone_mode=False)
    assert captured["options"] == method.options(**required)
    expected_loop = dict(
        steps=method.steps, sample_every=method.sample_every, eval_every=method.eval_every, workers=method.workers
    )
    assert captured["loop"] == LoopOptions(**expected_loop)

    # And option by option, as --help shows them: a value default is the field's (the method's
    # for the loop), a switch is off (the field's default), None means "the field's default".
    params = {p.name: p for p in command.params}
    for cls, defaults in ((method.options, {}), (LoopOptions, expected_loop)):
        for f in fields(cls):
            if not train_cli.on_command_line(f):
                assert train_cli.parameter_name(f) not in params or f.name == "batch_size"
                continue
            default = params[train_cli.parameter_name(f)].default
            _, cli_default = train_cli.cli_type_and_default(f, defaults.get(f.name, MISSING))
            assert default == cli_default, (name, f.name)
            if default not in (None, False, ""):
                assert default == defaults.get(f.name, f.default), (name, f.name)


def test_every_option_has_help_and_its_own_flag(train_cli):
    """Every options field carries help text, and no method option takes a loop option's flag."""
    loop = {train_cli.parameter_name(f) for f in fields(LoopOptions)} | {"run_dir", "resume", "quiet"}
    for method in METHODS.values():
        for cls in (method.options, LoopOptions):
            assert all(f.metadata.get("help") for f in fields(cls)), cls.__name__
        own = [train_cli.parameter_name(f) for f in fields(method.options)]
        assert len(own) == len(set(own)) and not set(own) & loop, method.name


def test_a_missing_required_option_is_a_usage_error(cli):
    r = cli("train", "pix2pix", "--steps", "1")
    assert r.returncode == 2
    assert (
        r.stderr.decode()
        .strip()
        .endswith("--data is required: Aligned dataset (train/ of A|B images) or A/ + B/ folders.")
    )
