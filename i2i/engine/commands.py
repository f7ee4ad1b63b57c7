"""What each inference command runs: its options -> a Recipe -> an Engine.

The command line (cli/run.py) and the web page (ui/) build the engine of `upscale`, `stylize`,
`colorize` and `translate` here, from the same typed options, so the two front ends cannot
drift: the same model name resolves to the same file, the same adapter options apply, the same
model kinds are refused. The job options (EngineOptions: device, precision, backend, ...) are
declared once in engine/options.py, the command line builds its options from them, and the page
reads each command's defaults and help from the command line (ui/page.py).

    recipe = recipe_for(UpscaleOptions(scale=2))                 # names resolved, contradictions refused
    engine = build_engine(recipe, EngineOptions(backend="torch"))  # the model loaded, its task checked
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .options import EngineOptions

# The model kinds (Task.kind) each command runs; any other is refused before an image is read.
ACCEPTS = {
    "upscale": ("upscale", "restore"),
    "translate": ("translate", "restore"),
    "stylize": ("stylize",),
    "colorize": ("colorize",),
}
RUNS_KIND = {
    "upscale": "i2i upscale --model",
    "restore": "i2i upscale --model",
    "translate": "i2i translate --model",
    "stylize": "i2i stylize --style",
    "colorize": "i2i colorize --model",
    "generate": "i2i generate --model",
    "encode": "i2i invert --encoder",
}
MODEL_WORD = {"generate": "generator", "encode": "encoder"}  # kinds whose verb does not read as "a ... model"


def check_task(command: str, task, path) -> None:
    """UsageError (exit 2), one line naming the model file `path`, when the model's task (a
    task.Task) is not one this command runs."""
    kind = task.kind
    if kind not in ACCEPTS[command]:
        word = MODEL_WORD.get(kind, kind)
        article = "an" if word[0] in "aeiou" else "a"
        raise UsageError(
            f"{path}: {article} {word} model; `i2i {command}` runs "
            f"{' and '.join(ACCEPTS[command])} models (run this one with "
            f"`{RUNS_KIND[kind]} {path}`)"
        )


# ---- each command's own options (its job options, shared by all, are engine/options.py's) ----


@dataclass(frozen=True, kw_only=True)
class UpscaleOptions:
    """`i2i upscale`'s own options (engine/options.py holds the job options every command shares)."""

    model: str = ""
    """A name (`i2i models`) or file; "" for the default (the shipped x4 blend, or model)."""
    scale: float | None = None
    """Output factor 1..16 (the model's own, then an exact resize); None: the model's own."""
    denoise: str | None = None
    """"auto" (the per-photo blend), "0".."1" (the real-world GAN model towards its PSNR stage), or None."""


@dataclass(frozen=True, kw_only=True)
class StylizeOptions:
    """`i2i stylize`'s own options."""

    style: str = "starry-night"
    """A style name (`i2i stylize --list`) or file."""
    strength: float = 1.0
    """0..1: share of the stylized image blended over the input."""
    preserve_color: bool = False
    """Keep the input's chroma, take the style's luminance."""


@dataclass(frozen=True, kw_only=True)
class ColorizeOptions:
    """`i2i colorize`'s own options."""

    model: str = "colorize"
    render_size: int = 256
    """Short side at which chroma is predicted (pixels)."""
    saturation: float = 1.0
    """Multiplier on the predicted chroma."""
    portrait: str = "auto"
    """"auto": a colorizer that names a portrait model is blended with it per photo, as far as the
    photo's people score calls for (engine/choice.py); "0".."1": that model's share, for every photo."""


@dataclass(frozen=True, kw_only=True)
class TranslateOptions:
    """`i2i translate`'s own options."""

    model: str
    """A translation or 1x restoration model: name or file (ours or a peer's)."""


CommandOptions = UpscaleOptions | StylizeOptions | ColorizeOptions | TranslateOptions
COMMANDS = {
    "upscale": UpscaleOptions,
    "stylize": StylizeOptions,
    "colorize": ColorizeOptions,
    "translate": TranslateOptions,
}


@dataclass(frozen=True)
class Recipe:
    """How to build one command's engine: the model file, how to load it, its adapter."""

    command: str
    """upscale, stylize, colorize or translate (the model kinds it accepts: ACCEPTS)."""
    model_path: Path
    """The resolved model file (for a per-photo choice, the one checked for its task)."""
    make_adapter: Callable
    """LoadedModel -> the adapter (engine/adapters.py)."""
    load: Callable | None = None
    """path -> LoadedModel, instead of checkpoint.load_model (e.g. a blend of two models)."""
    per_image: Callable | None = None
    """A model chosen per photo: (make_engine, find, max_pixels, the loaded model) ->
    engine/choice.py's PerImageEngines (upscale --denoise auto, colorize's portrait blend); None:
    one model."""
    tiled: bool = True
    """False: never tiled (colorize predicts at a fixed size)."""
    notes: tuple[str, ...] = ()
    """Said once before the job runs (e.g. a colorizer's portrait model that is not here)."""


def recipe_for(options: CommandOptions) -> Recipe:
    """The recipe of a command's options: model names resolved (models.resolve), contradictory
    options refused. Raises UsageError, or CheckpointError for a name that matches nothing."""
    from ..models import resolve

    if isinstance(options, UpscaleOptions):
        return _upscale(options)
    if isinstance(options, StylizeOptions):
        strength, preserve = options.strength, options.preserve_color
        return Recipe(
            "stylize",
            resolve(options.style, prefix="style-"),
            lambda m: _rgb(task=m.task, strength=strength, preserve_color=preserve),
        )
    if isinstance(options, ColorizeOptions):
        return _colorize(options)
    if isinstance(options, TranslateOptions):
        return Recipe(
            "translate", resolve(options.model), lambda m: _rgb(task=m.task, keep_gray=m.task.kind == "restore")
        )
    raise TypeError(f"not a command's options: {options!r}")


def _rgb(**kwargs):
    from .adapters import RGBAdapter

    return RGBAdapter(**kwargs)


def _colorize_adapter(options: ColorizeOptions) -> Callable:
    def make(m):
        from .adapters import ColorizeAdapter

        return ColorizeAdapter(
            task=m.task,
            render_size=options.render_size,
            saturation=options.saturation,
            multiple=m.spec.size_multiple(m.config),
        )

    return make


def _colorize(options: ColorizeOptions) -> Recipe:
    """The colorizer alone, or with the portrait model its metadata names (training.portrait_stage):
    blended per photo (portrait "auto": engine/choice.py's portrait_auto) or at a fixed share.
    Raises UsageError for a share of a portrait model that the colorizer does not name or that
    is not here (under "auto" the colorizer then runs alone, with a note)."""
    import functools

    from ..checkpoint import load_model, model_info
    from ..errors import CheckpointError
    from ..interpolation import interpolate, stage_path
    from ..models import resolve
    from .choice import portrait_auto

    path = resolve(options.model)
    share = options.portrait
    try:
        partner = model_info(path, check_tensors=False).training.get("portrait_stage", "")
    except CheckpointError:  # not our format (a peer's file): it names no portrait model
        partner = ""
    alone = Recipe("colorize", path, _colorize_adapter(options), tiled=False)
    if share != "auto" and float(share) == 0:  # --portrait 0: the colorizer alone, whatever it names
        return alone
    if not partner:
        if share == "auto":
            return alone
        raise UsageError(f"--portrait {share} needs a colorizer that names its portrait model; {path} names none")
    try:
        partner_path = stage_path(path, partner, resolve)
    except CheckpointError as e:
        if share != "auto":
            raise UsageError(
                f"--portrait {share}: {path} names its portrait model {partner}, which is not here ({e})"
            ) from None
        note = f"{path} names its portrait model {partner}, which is not here: the colorizer runs alone ({e})"
        return dataclasses.replace(alone, notes=(note,))
    if share != "auto":
        return dataclasses.replace(
            alone, load=lambda p: interpolate(load_model(p), load_model(partner_path), float(share))
        )
    # Found by name, the portrait model is looked up again where the engine is built (a Ray
    # actor's own weights/, as --denoise auto's models); found beside the colorizer, by its path.
    beside = partner_path == Path(path).with_name(f"{partner}.safetensors")
    per_image = functools.partial(portrait_auto, partner=partner, partner_path=partner_path if beside else None)
    return dataclasses.replace(alone, per_image=per_image)


def _upscale(options: UpscaleOptions) -> Recipe:
    from ..interpolation import SR_BLEND
    from ..models import resolve, shipped
    from .choice import denoise_auto

    model, scale, denoise = options.model, options.scale, options.denoise
    auto = denoise == "auto" or (denoise is None and not model and set(SR_BLEND) <= set(shipped()))
    if auto and model:
        raise UsageError("--denoise auto blends the shipped x4 models; drop --model, or give --denoise 0..1")
    path = resolve(model, prefix="upscale-") if model else resolve(default_sr(scale or 4, shipped()))

    def load(p):
        from ..checkpoint import load_model
        from ..interpolation import with_denoise

        loaded = load_model(p)
        return loaded if denoise is None or auto else with_denoise(loaded, float(denoise), resolve)

    return Recipe(
        "upscale",
        path,
        lambda m: _rgb(task=m.task, keep_gray=True, out_scale=scale),
        load=load,
        per_image=denoise_auto if auto else None,
    )


REAL_WORLD_SR = ("upscale-x4-real", "upscale-x4-real-psnr")  # the defaults for photos, in order


def default_sr(scale: float, models: dict) -> str:
    """The real-world x4 model (photos are rarely clean; the exact resize to `scale` follows),
    else the smallest shipped clean PSNR model whose factor reaches `scale`, else the largest.
    (With the three models of interpolation.SR_BLEND shipped, upscale blends them per photo and
    this model is only checked for its task.)"""
    from ..errors import CheckpointError

    real = next((n for n in REAL_WORLD_SR if n in models), None)
    if real:
        return real
    factors = sorted(
        int(n.removeprefix("upscale-x"))
        for n in models
        if n.startswith("upscale-x") and n.removeprefix("upscale-x").isdigit()
    )
    if not factors:
        raise CheckpointError("no upscale model is shipped in weights/ yet; pass --model FILE")
    chosen = next((f for f in factors if f >= scale), factors[-1])
    return f"upscale-x{chosen}"


def build_engine(recipe: Recipe, options: EngineOptions | None = None, **engine_options):
    """The engine of a recipe: the model loaded and checked for the command's task, then an
    Engine (engine/engine.py) run as `options` say (EngineOptions: the command line's defaults),
    or without options as `engine_options` say (Engine's keyword arguments: device, batch_size,
    precision, tile, ...; Engine's defaults for those left out; ray: a RayOptions). For a
    per-photo choice, a PerImageEngines that builds one Engine per chosen blend. With Ray
    options, a RayEngine (engine/ray_job.py) that runs the job on a Ray cluster instead, the
    same engine built in each actor. Raises CheckpointError (an unusable file) and UsageError
    (a model of another task; a device, backend or precision this machine lacks)."""
    from ..checkpoint import load_model

    if options is not None:
        engine_options = {**options.engine_kwargs(), "ray": options.ray, **engine_options}
    ray = engine_options.pop("ray", None)
    if not recipe.tiled:
        engine_options.update(tile=0, tile_overlap=None)
    if ray is not None:
        return _ray_engine(recipe, ray, engine_options)
    model = (recipe.load or load_model)(recipe.model_path)
    check_task(recipe.command, model.task, model.path)
    return _engine_builder(recipe, model, engine_options)()


def _ray_engine(recipe: Recipe, ray, engine_options: dict):
    """A RayEngine whose actors each load the checkpoint and build the recipe's engine.

    The driver does not load the model: it checks the task from the file's metadata (no torch
    for our checkpoints) and ships the file's bytes (ray_job.ShippedFile), so a job's start
    pays for torch and the model once, in the actors that run them, not also here."""
    import functools

    from ..checkpoint import model_info
    from .ray_job import RayEngine, ShippedFile

    check_task(recipe.command, model_info(recipe.model_path, check_tensors=False).task, recipe.model_path)
    build = functools.partial(_build_from_file, recipe, ShippedFile.of(recipe.model_path), engine_options)
    return RayEngine(build, ray, batch_size=engine_options.get("batch_size"), max_pixels=_max_pixels(engine_options))


def _build_from_file(recipe: Recipe, shipped, engine_options: dict):
    """In a Ray actor: the recipe's engine, its model loaded (and fully checked) from `shipped`."""
    from ..checkpoint import load_model

    model = (recipe.load or load_model)(shipped.local_path())
    check_task(recipe.command, model.task, model.path)
    return _engine_builder(recipe, model, engine_options)()


def _max_pixels(engine_options: dict) -> int:
    from ..data.image_io import DEFAULT_MAX_PIXELS

    return engine_options.get("max_pixels") or DEFAULT_MAX_PIXELS


def _engine_builder(recipe: Recipe, model, engine_options: dict) -> Callable:
    """() -> the recipe's Engine, or its PerImageEngines for a per-photo choice."""
    import functools

    from .engine import Engine

    def make_engine(model):
        return Engine(model, recipe.make_adapter(model), **engine_options)

    if recipe.per_image:
        from ..models import resolve

        return functools.partial(recipe.per_image, make_engine, resolve, _max_pixels(engine_options), model)
    return functools.partial(make_engine, model)
