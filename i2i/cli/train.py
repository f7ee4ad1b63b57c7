"""`i2i train METHOD`: one command per registered method (training/methods.py), its options built
from the method's options dataclass and the shared LoopOptions (training/options.py, where each
option's type, default and help text live), then the one training loop."""

from __future__ import annotations

import inspect
import json
import shlex
import signal
import sys
import time
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..training.methods import METHODS, Method
from ..training.options import LoopOptions
from . import app, options, output
from .options import (  # noqa: F401  (flag, cli_type_and_default: this module's, as tests and tools know them)
    BatchSize,
    Quiet,
    cli_parameter,
    cli_type_and_default,
    dataclass_parameters,
    dataclass_values,
    flag,
    parameter_name,
)
from .output import say

train_app = typer.Typer(
    help="Train a model. Example: i2i train srgan --data photos/ --scale 4\n\n"
    "Exit code 0: all steps done; 3: stopped by --max-minutes first; "
    "128 + the signal's number when stopped by a signal (130 Ctrl-C, "
    "143 SIGTERM, 129 SIGHUP); 2: usage or data error. A stopped run "
    "keeps its checkpoint and exported model: --resume RUN_DIR continues.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
# Exit code of a run that reached its --max-minutes budget before its last step.
STOPPED_BY_BUDGET = 3
app.add_typer(train_app, name="train")
P = inspect.Parameter

# Options of the command itself, not of the method or the loop.
RunDir = Annotated[Path | None, typer.Option(help="Run directory (default: runs/METHOD-DATE).")]
Resume = Annotated[Path | None, typer.Option(help="Continue the run in this directory exactly where it stopped.")]
# Where the run directory and resume options stand among the loop's (after --max-minutes).
_RUN_OPTIONS_AFTER = "max_minutes"


# ---- dataclass fields -> command-line options (cli/options.py, as every command) ----


def on_command_line(f: Field) -> bool:
    """Whether a method's or the loop's field is an option of its own (batch size: one shared option)."""
    return options.on_command_line(f) and f.name != "batch_size"


def method_options(method: Method, values: dict):
    """The method's options dataclass from the command's values (the fields' parameter names)."""
    kwargs = dataclass_values(method.options, values, keep=on_command_line)
    if values["batch_size"] is not None:
        kwargs["batch_size"] = values["batch_size"]
    return method.options(**kwargs)


def loop_values(values: dict) -> dict:
    """The loop options the command was given (None: not given), by LoopOptions field name."""
    given = {f.name: values[parameter_name(f)] for f in fields(LoopOptions) if f.metadata.get("cli", True)}
    given["steps"] = given["steps"] or None  # --steps 0 means the method's default
    return given


def parameters(method: Method) -> list[inspect.Parameter]:
    """The command's options: the method's, the batch size, the loop's (with the method's
    defaults), then the run directory, --resume and --quiet."""
    method_defaults = {"sample_every": method.sample_every, "eval_every": method.eval_every, "workers": method.workers}
    own = dataclass_parameters(method.options, keep=on_command_line)
    loop = []
    for f in fields(LoopOptions):
        if f.metadata.get("cli", True):
            loop.append(cli_parameter(f, method_defaults.get(f.name, MISSING)))
            if f.name == _RUN_OPTIONS_AFTER:
                loop += [
                    P("run_dir", P.KEYWORD_ONLY, default=None, annotation=RunDir),
                    P("resume", P.KEYWORD_ONLY, default=None, annotation=Resume),
                ]
    return [
        *own,
        P("batch_size", P.KEYWORD_ONLY, default=None, annotation=BatchSize),
        *loop,
        P("quiet", P.KEYWORD_ONLY, default=False, annotation=Quiet),
    ]


# Checks the command line makes beyond the options' own (the library accepts these cases).
def _check_srgan(o) -> None:
    if o.gan and not o.init:
        raise UsageError("--gan starts from a stage-1 model: pass --init FILE")


def _check_style(o) -> None:
    if not Path(o.style).is_file():
        raise UsageError(f"{o.style}: no such painting file")
    if any(s <= 0 for s in o.style_scales):
        raise UsageError(f"--style-scale must be positive, not {min(o.style_scales)}")


CHECKS = {"srgan": _check_srgan, "style": _check_style}


def add_command(method: Method) -> None:
    """Register `i2i train NAME` for a method, its signature built from the options dataclasses."""

    def command(**values):
        options = None
        if values["resume"] is None:
            options = method_options(method, values)
            CHECKS.get(method.name, lambda o: None)(options)
        _run(method, options, values)

    params = parameters(method)
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = method.help
    command.__name__ = method.name.replace("-", "_")
    train_app.command(method.name)(command)


# ---- running ----


def _command() -> str:
    return shlex.join(["i2i", *sys.argv[1:]])


def _run(method: Method, options, values: dict):
    from ..training.api import resume as resume_run
    from ..training.api import train
    from ..training.loop import TrainingAborted
    from .output import TrainingDisplay

    name, resume = method.name, values["resume"]
    given = loop_values(values)
    run_dir = resume or values["run_dir"] or Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        with TrainingDisplay(values["quiet"]) as display:
            if resume is not None:
                result = resume_run(
                    resume,
                    max_minutes=given["max_minutes"],
                    steps=given["steps"],
                    checkpoint_minutes=given["checkpoint_minutes"],
                    tensorboard=given["tensorboard"],
                    command=_command(),
                    on_event=display,
                )
            else:
                result = train(
                    name, options, method.loop_options(**given), run_dir, command=_command(), on_event=display
                )
    except TrainingAborted as e:
        _stop(
            f"interrupted by a second {e}: stopped at once, this step not saved; "
            f"--resume {run_dir} continues from the last checkpoint",
            128 + e.signum,
        )
    for path in result.exported:
        output.result(str(path))
    where = f"step {result.step} of {_planned(result.run_dir)}"
    if result.finished:
        _stop(f"{name}: finished at {where}; run directory {result.run_dir}", 0)
    again = f"continue with: i2i train {name} --resume {result.run_dir}"
    if result.stopped_by == "max_minutes":
        _stop(f"{name}: stopped by --max-minutes at {where}; model exported; {again}", STOPPED_BY_BUDGET)
    if result.stopped_by in signal.Signals.__members__:
        _stop(
            f"{name}: interrupted by {result.stopped_by} at {where}; checkpoint and model saved; {again}",
            128 + signal.Signals[result.stopped_by],
        )
    # A torchrun process that stopped because another one did.
    _stop(f"{name}: stopped with the other processes at {where}; {again}", 1)


def _planned(run_dir: Path) -> int:
    return json.loads((run_dir / "run.json").read_text())["loop"]["steps"]


def _stop(message: str, code: int):
    """The run's one closing line on stderr, then its exit code (0 only for a finished run).
    SystemExit, not typer.Exit: main() adds its own "interrupted" line to a bare exit code 130."""
    say(message)
    sys.exit(code)


for _method in METHODS.values():
    add_command(_method)
