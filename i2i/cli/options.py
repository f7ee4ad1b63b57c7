"""How commands build their options from typed options dataclasses, and the options every
inference command shares.

One way for every command: a dataclass field declares an option's type, default and help (its
metadata: help, flag, short, min, max, metavar, panel, cli, path, json; engine/options.py and
training/options.py describe them), and dataclass_parameters makes the typer parameters of a
dataclass's fields, dataclass_values the dataclass's values back from what typer parsed. The
inference commands' job options (`@job_options()`: OutputOptions, EngineOptions, RayOptions and
DisplayOptions), clip options (cli/clip_options.py), `i2i invert` (InversionOptions) and
`i2i train` (training/options.py) are all built so: a default is written once, on its field.
"""

import dataclasses
import functools
import inspect
import json
import types
import typing
from dataclasses import MISSING, Field, dataclass, fields
from pathlib import Path
from typing import Annotated, Literal

import typer
from typer.core import TyperArgument, TyperCommand

from ..engine.options import EngineOptions, OutputOptions, RayOptions, option
from ..errors import UsageError

P = inspect.Parameter


def metavar_for(annotation, minimum=None, maximum=None) -> str | None:
    """How --help shows an option's value, never as a Python type: N (a whole number), NUMBER,
    TEXT, PATH, a range (0..1, 1..100), choices (bicubic|real), one word per value of a tuple
    (TEXT TEXT). None for a switch (bool), which takes no value."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return metavar_for(typing.get_args(annotation)[0], minimum, maximum)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return metavar_for(kinds[0], minimum, maximum) if len(kinds) == 1 else "VALUE"
    if origin is list or (origin is tuple and typing.get_args(annotation)[-1] is Ellipsis):
        return metavar_for(typing.get_args(annotation)[0], minimum, maximum)  # repeated: one value each time
    if origin is tuple:
        return " ".join(metavar_for(a) or "VALUE" for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return "|".join(map(str, typing.get_args(annotation)))
    if annotation is bool:
        return None
    if annotation in (int, float) and minimum is not None and maximum is not None:
        return f"{minimum:g}..{maximum:g}"
    return {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}.get(annotation, "VALUE")


# ---- dataclass fields -> command-line options (the one way every command builds them) ----


def flag(f: Field) -> str:
    """The command-line spelling of an options field: --field-name unless its metadata names one."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def parameter_name(f: Field) -> str:
    """The Python name typer gives the option (the flag's, which can differ from the field's)."""
    return flag(f).split("/")[0].removeprefix("--").replace("-", "_")


def on_command_line(f: Field) -> bool:
    """Whether a field is a command-line option (metadata cli=False: a library-only field)."""
    return f.metadata.get("cli", True)


def _required(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _switch_pair(f: Field) -> bool:
    """A bool field spelled --on/--off: the option's value is the field's, default included."""
    return "/" in f.metadata.get("flag", "")


def cli_type_and_default(f: Field, default=MISSING):
    """(annotation, default) of the option for field f; `default` replaces the field's (a
    method's loop default). None stands for "not given" where the command fills in the value."""
    value = f.default if default is MISSING else default
    kind = f.type
    if f.metadata.get("json"):
        return str, ""
    if typing.get_origin(kind) is tuple:  # a repeatable option; a str item is a path
        item = typing.get_args(kind)[0]
        return list[Path if item is str else item] | None, None
    if f.metadata.get("path"):
        return Path | None, None
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is Literal:
        kind = str
    if kind is bool and not f.metadata.get("resume"):
        return bool, value if _switch_pair(f) else False  # a switch: given, it flips the field's default
    if _required(f) or f.metadata.get("resume") or value is None:
        return kind | None, None
    return kind, value


def cli_parameter(f: Field, default=MISSING) -> inspect.Parameter:
    """The keyword-only typer parameter of field f: its flag (and metadata short), help, range
    (metadata min, max), metavar (metadata, else metavar_for) and help panel (metadata panel)."""
    annotation, value = cli_type_and_default(f, default)
    extra = {key: f.metadata[key] for key in ("min", "max") if key in f.metadata}
    if "panel" in f.metadata:
        extra["rich_help_panel"] = f.metadata["panel"]
    decls = [flag(f), *f.metadata.get("short", ())] if annotation is bool or "flag" in f.metadata else []
    choices = typing.get_origin(f.type) is Literal  # the command line takes them as str: show them
    metavar = f.metadata.get("metavar") or (
        "JSON" if f.metadata.get("json") else metavar_for(f.type if choices else annotation, *_range(f))
    )
    return P(
        parameter_name(f),
        P.KEYWORD_ONLY,
        default=value,
        annotation=Annotated[annotation, typer.Option(*decls, help=f.metadata["help"], metavar=metavar, **extra)],
    )


def _range(f: Field) -> tuple:
    return f.metadata.get("min"), f.metadata.get("max")


def options_value(f: Field, given):
    """The options dataclass value of field f from what the command line gave (see cli_type_and_default)."""
    if f.metadata.get("json"):
        return _json_overrides(f, given)
    annotation, _ = cli_type_and_default(f)
    if annotation is bool:
        return given if _switch_pair(f) else (not f.default) if given else f.default
    if typing.get_origin(f.type) is tuple:
        item = typing.get_args(f.type)[0]
        given = tuple(item(p) for p in given or ())
    elif f.metadata.get("path") and given is not None:
        given = str(given)
    if given in (None, "", ()):
        if _required(f):
            raise UsageError(f"{flag(f)} is required: {f.metadata['help']}")
        return f.default if f.default is not MISSING else f.default_factory()
    return given


def _json_overrides(f: Field, given: str):
    default = f.default_factory()
    if not given:
        return default
    try:
        return default.with_overrides(json.loads(given))
    except (ValueError, TypeError, AttributeError) as e:
        raise UsageError(f"{flag(f)}: {e}") from None


def dataclass_parameters(cls, *, defaults: dict | None = None, keep=on_command_line) -> list[inspect.Parameter]:
    """The command-line options of an options dataclass, one per field that `keep` accepts, in
    field order. defaults: {field name: the command's default} where it is not the field's."""
    defaults = defaults or {}
    return [cli_parameter(f, defaults.get(f.name, MISSING)) for f in fields(cls) if keep(f)]


def dataclass_values(cls, values: dict, *, keep=on_command_line) -> dict:
    """{field name: value} of an options dataclass from a command's values (by parameter name),
    for the fields that `keep` accepts: what the command line left out is the field's default."""
    return {f.name: options_value(f, values[parameter_name(f)]) for f in fields(cls) if keep(f)}


def option_of(cls, name: str):
    """The Annotated type of field `name`'s option, for a command that declares it by hand
    (`device: Device = option_default(EngineOptions, "device")`)."""
    return cli_parameter(next(f for f in fields(cls) if f.name == name)).annotation


def option_default(cls, name: str):
    """The command line's default of field `name` (see cli_type_and_default)."""
    return cli_type_and_default(next(f for f in fields(cls) if f.name == name))[1]


# ---- the options every inference command takes ----


@dataclass(frozen=True, kw_only=True)
class DisplayOptions:
    """What a command shows (cli/output.py JobDisplay), beside what it computes."""

    quiet: bool = option(False, "No progress display.", flag="--quiet", short=("-q",))
    as_json: bool = option(False, "One JSON line per image on stdout.", flag="--json")
    quiet_skips: bool = option(
        False,
        "Skip inputs whose output exists without a note for each (they are skipped anyway unless --overwrite).",
        flag="--skip-existing",
    )
    """No note for each input skipped because its output exists."""


Device = option_of(EngineOptions, "device")
BatchSize = option_of(EngineOptions, "batch_size")
Quiet = option_of(DisplayOptions, "quiet")
JsonOut = option_of(DisplayOptions, "as_json")
Overwrite = option_of(OutputOptions, "overwrite")
SkipExisting = option_of(DisplayOptions, "quiet_skips")
MaxPixels = option_of(EngineOptions, "max_pixels")
MaxOutputPixels = option_of(EngineOptions, "max_output_pixels")
Inputs = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT",
        help="Image files, folders (recursive), globs, or - for stdin. Without -o the last one is the output. In folders and globs, images are the files whose extension the installed Pillow reads (png, jpg, webp, avif, tif, bmp, gif, ...); hidden files and folders are skipped; a file named here is always tried.",
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="OUT",
        help="Output folder, a single file (a path with an image extension, for one input), or - for stdout.",
    ),
]


@dataclass(frozen=True, kw_only=True)
class JobOptions:
    """What `@job_options()` hands an inference command: how outputs are written (`output`, its
    `out` filled in by the command: OutputOptions.out is ""), how the engine runs, what is shown."""

    output: OutputOptions
    engine: EngineOptions
    display: DisplayOptions

    def output_to(self, out: str) -> OutputOptions:
        """The output options for `out` (a folder, a file or -). An existing output is a skipped
        input unless --overwrite (--skip-existing only silences the note)."""
        return dataclasses.replace(self.output, out=out, skip_existing=not self.output.overwrite)


# The job options in --help order: output, engine and display options interleaved as they grew.
JOB_ORDER = (
    "ext", "suffix", "quality", "overwrite", "skip_existing", "device", "batch_size", "precision", "tile",
    "tile_overlap", "quiet", "json", "max_pixels", "max_output_pixels", "backend",
    "ray", "ray_actors", "ray_cpus", "ray_gpus",
)  # fmt: skip
UNTILED = ("tile", "tile_overlap")
NO_RAY = {"address": None}  # on the command line, no --ray means no Ray (RayOptions.address: auto)


def _job_parameters(tiled: bool) -> list[inspect.Parameter]:
    """The options every inference command takes, in help order, with their defaults."""
    found = [
        *dataclass_parameters(OutputOptions),
        *dataclass_parameters(EngineOptions),
        *dataclass_parameters(DisplayOptions),
        *dataclass_parameters(RayOptions, defaults=NO_RAY),
    ]
    found = [p for p in found if tiled or p.name not in UNTILED]
    return sorted(found, key=lambda p: JOB_ORDER.index(p.name))


def job_from(values: dict, *, tiled: bool = True) -> JobOptions:
    """The JobOptions of the job options' values (by parameter name); a command that never tiles
    (tiled=False) has none for tile and tile_overlap."""
    values = {**dict.fromkeys(UNTILED), **values} if not tiled else values
    ray = RayOptions(**dataclass_values(RayOptions, values)) if values["ray"] is not None else None
    return JobOptions(
        output=OutputOptions(out="", **dataclass_values(OutputOptions, values)),
        engine=EngineOptions(**dataclass_values(EngineOptions, values), ray=ray),
        display=DisplayOptions(**dataclass_values(DisplayOptions, values)),
    )


def job_options(*, tiled: bool = True):
    """Decorator for an inference command: adds the options every one takes (--ext ... --ray-gpus,
    after its own) and hands them to the command as one JobOptions, `job`. tiled=False leaves
    out --tile and --tile-overlap (a command that never tiles)."""
    return handing("job", _job_parameters(tiled), functools.partial(job_from, tiled=tiled))


def dataclass_options(name: str, cls, *, order: tuple[str, ...] = ()):
    """Decorator: adds the options of dataclass `cls`'s fields to a command and hands it one
    `cls` instance as its parameter `name` (see handing for `order`)."""
    return handing(name, dataclass_parameters(cls), lambda values: cls(**dataclass_values(cls, values)), order=order)


def handing(replaced: str, added: list[inspect.Parameter], build, *, order: tuple[str, ...] = ()):
    """Decorator for a command: adds the options `added` (after its own) and hands the command
    build({their names: values}) as its parameter `replaced`. order: option names in the order
    --help lists them, where that is not the command's own then the added ones."""

    def decorate(command):
        names = [p.name for p in added]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            value = build({name: kwargs.pop(name) for name in names})
            return command(*args, **{replaced: value}, **kwargs)

        return grafted(wrapper, command, replaced, added, order)

    return decorate


def grafted(wrapper, command, replaced: str, added: list[inspect.Parameter], order: tuple[str, ...] = ()):
    """`wrapper` (a decorator's wrapper of `command`) given command's signature and annotations,
    with its parameter `replaced` (which the wrapper fills in) swapped for `added` at the end (or
    where `order` puts them: the names it lists in its order, after those it does not list), so
    that typer builds the command line from them."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for name, p in signature.parameters.items() if name != replaced] + added
    params.sort(key=lambda p: order.index(p.name) if p.name in order else -1)
    first_keyword = next((i for i, p in enumerate(params) if p.kind is P.KEYWORD_ONLY), len(params))
    params[first_keyword:] = [p.replace(kind=P.KEYWORD_ONLY) for p in params[first_keyword:]]
    wrapper.__signature__ = signature.replace(parameters=params)
    hints = typing.get_type_hints(command, include_extras=True)
    hints.pop(replaced, None)
    wrapper.__annotations__ = {**hints, **{p.name: p.annotation for p in added}}
    return wrapper


# ---- how --help shows values ----


class PlainHelpCommand(TyperCommand):
    """A command whose --help shows every value by a metavar: its own, else metavar_for's. Typer
    0.2x would show Python types (`--seed <int>`, and `INPUT <list[str]>` after a metavar)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None:
                annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
                if annotation is not None:  # typer 0.2x; older versions show click's words (TEXT, INTEGER)
                    param.metavar = metavar_for(annotation, getattr(param, "min", None), getattr(param, "max", None))
            if isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = lambda ctx: None  # the metavar names the value


def plain_help(app: typer.Typer) -> None:
    """Make every command of `app` (sub-apps included) a PlainHelpCommand: --help never shows a
    Python type name (tests/test_cli_surface.py walks every command's help)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainHelpCommand
    for group in app.registered_groups:
        plain_help(group.typer_instance)
