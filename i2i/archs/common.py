"""What every architecture declares once: its config dataclass, module builder and spec."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..task import IMAGE_SPACES, Task


@dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """How the engine and checkpoints treat one architecture."""

    id: str
    """Registry id, stored in checkpoint metadata."""
    config: type
    """Frozen config dataclass; its fields are the architecture's options."""
    build: Callable[[Any], Any]
    """config -> torch.nn.Module."""
    size_multiple: Callable[[Any], int]
    """Input height and width must be a multiple of this (the engine pads)."""
    min_size: Callable[[Any], int] = lambda cfg: 1
    """Smallest input side the network runs on (reflection padding needs more pixels than it
    pads; instance norm needs more than one pixel in its smallest feature map); the engine pads
    smaller inputs up to it and crops the output."""
    scale: Callable[[Any], int] = lambda cfg: 1
    """Output size / input size."""
    channels: Callable[[Any], tuple[int, int]] = lambda cfg: (3, 3)
    """(input, output) image channels of the network."""
    tiles: bool = True
    """Whether tiled inference is valid (fully convolutional, bounded receptive field)."""
    generator: bool = True
    """True for image-to-image networks, which the engine runs; False for discriminators,
    encoders and latent-input generators."""
    takes: Literal["image", "latent"] = "image"
    """What forward() takes: (B, C, H, W) images, or (B, latent_dim) latent vectors."""
    gives: Literal["image", "logits", "latent"] = "image"
    """What forward() returns: images, real/fake logits (B, 1, ...), or (B, latent_dim) latents."""
    latent_dim: Callable[[Any], int] = lambda cfg: 0
    """Length of the latent vectors taken or given (0 for image-to-image networks)."""
    image_size: Callable[[Any], int | None] = lambda cfg: None
    """Side of the square images a fixed-size network makes or takes; None: any size."""
    receptive_margin: int = 16
    """Input pixels of context a tile needs on each side to match whole-image output."""
    half_precision: bool = True
    """Whether fp16 inference is allowed on CUDA."""
    bfloat16: bool = True
    """Whether bf16 inference is allowed on CUDA."""
    grow: Callable[[Any, Any, dict, Any], None] | None = None
    """(module, its config, state dict, that state's config) -> None: load a trained network of
    this architecture with a smaller config into `module` so that it computes the same function
    (--init of a larger network); None: only an equal config loads. Raises ValueError."""
    from_weights: Callable[[Any, dict], Any] | None = None
    """(config, state dict) -> module with those weights loaded, for architectures whose
    hyperparameters only the weights hold (spandrel's); None: build(config) + load_state_dict."""
    per_model: Callable[[Any], dict] | None = None
    """config -> overrides of the fields above that differ per model (spandrel: the descriptor's
    tiling and precision flags); see for_config()."""
    read_options: Callable[[dict], dict | None] | None = None
    """state dict (real or meta tensors) -> the options its keys and shapes determine, or None
    when the keys are not this layout; ValueError (one line): the layout is recognised but this
    architecture cannot hold it. Checkpoint metadata is checked against it before anything is
    built; None: the options cannot be read from the tensors (see shapes_problem)."""
    shapes_problem: Callable[[Any, dict], str | None] | None = None
    """(config, state dict of meta tensors) -> why the tensors are not this config's layout, or
    None: the check for architectures without read_options (spandrel's, sized by the weights)."""
    detect: Callable[[dict], Detected | None] | None = None
    """A checkpoint without i2i metadata (another project's layout, canonical keys) -> what it
    is as this architecture, or None when it is not this layout. ValueError (one line): the
    layout is recognised but unusable; LookupError: not this layout, with a reason worth
    telling when no architecture claims the file. None: no such checkpoints are read."""
    detect_order: int = 0
    """Where detect runs among the architectures' (ascending): the first that claims a file
    wins, so a layout whose keys another's would also match runs first, a catch-all last."""

    def for_config(self, cfg) -> ArchSpec:
        """This spec with the per-model fields of one model's config filled in."""
        return dataclasses.replace(self, **self.per_model(cfg)) if self.per_model else self


@dataclass(kw_only=True)
class Detected:
    """What an architecture's detect() makes of a checkpoint without i2i metadata."""

    options: dict
    """The architecture's options (those the tensors tell, and the peer's defaults for the rest)."""
    task: Task
    """What the peer's network does."""
    state: dict = field(default_factory=dict)
    """The state dict to load, without tensors the module has no place for."""
    description: str = ""
    config: Any = None
    """The config, where detection already built the module (else None: built from options)."""
    module: Any = None
    """The module with its weights loaded, where detection built it (else None)."""


def peer_detector(
    read_options: Callable[[dict], dict | None],
    what: str,
    task: Callable[[dict, str, str], Task],
    clean: Callable[[dict, dict], dict] = lambda state, options: state,
    assumed: dict | None = None,
) -> Callable[[dict], Detected | None]:
    """A detect() for a peer layout told by read_options: `task` (options, in space, out space)
    -> its Task; `clean` (state, options) -> the state to load; `assumed`: options the weights
    cannot tell, at the peer's default. `what` names the architecture in errors."""

    def detect(state: dict) -> Detected | None:
        options = read_options(state)
        if options is None:
            return None
        in_space, out_space = image_spaces(
            options["in_channels"], options.get("out_channels", options["in_channels"]), what
        )
        cleaned = clean(state, options)
        options = {**options, **(assumed or {})}
        return Detected(options=options, task=task(options, in_space, out_space), state=cleaned)

    return detect


def image_spaces(in_ch: int, out_ch: int, what: str) -> tuple[str, str]:
    """Image spaces for a peer network's channel counts (ValueError when i2i cannot feed it)."""
    if (in_ch, out_ch) == (1, 2):
        return "L", "ab"  # pytorch-CycleGAN-and-pix2pix --dataset_mode colorization
    if in_ch not in IMAGE_SPACES or out_ch not in IMAGE_SPACES:
        raise ValueError(
            f"a {what} taking {in_ch} channel(s) and giving {out_ch}: i2i feeds and "
            "writes 1 (gray), 3 (RGB) or 4 (RGBA) channels, or Lab L -> ab"
        )
    return IMAGE_SPACES[in_ch], IMAGE_SPACES[out_ch]


def count_indices(state, pattern: str) -> int:
    """How many distinct values the first group of `pattern` takes over the state's keys."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def drop_legacy_instance_norm(state: dict, options: dict) -> dict:
    """Checkpoints saved with PyTorch < 0.4 carry InstanceNorm running statistics: unused."""
    if options["norm"] == "batch":
        return state
    return {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def translation_task(options: dict, in_space: str, out_space: str) -> Task:
    """pytorch-CycleGAN-and-pix2pix generators: images in [-1, 1]; L -> ab is colorization."""
    kind = "colorize" if out_space == "ab" else "translate"
    return Task(kind=kind, value_range="-1,1", in_space=in_space, out_space=out_space)


def config_from_dict(cls, values: dict):
    """Build a config from untrusted values (checkpoint metadata, command options).

    Raises ValueError for unknown keys (a typo never goes silently unused) and for values whose
    type does not match the field's annotation (bool, int, float, str or a Literal set).
    """
    if not isinstance(values, dict):
        raise ValueError(f"options are not a JSON object: {str(values)[:60]}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown option(s) for {cls.__name__}: {', '.join(map(str, unknown))}")
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        problem = _type_problem(value, hints[name])
        if problem:
            raise ValueError(f"option {name} = {_short(value)}: {problem}")
    return cls(**values)


def _type_problem(value, hint) -> str | None:
    """Why `value` does not fit the annotation `hint`, or None when it does."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        return (
            None
            if value in allowed and type(value) in {type(a) for a in allowed}
            else f"must be one of {', '.join(map(repr, allowed))}"
        )
    if origin in (typing.Union, types.UnionType):
        problems = [_type_problem(value, h) for h in typing.get_args(hint)]
        return None if any(p is None for p in problems) else "; ".join(p for p in problems if p)
    if hint is type(None):
        return None if value is None else "must be null"
    if hint is bool:
        return None if type(value) is bool else "must be true or false"
    if hint is int:
        return None if type(value) is int else "must be a whole number"
    if hint is float:
        return None if type(value) in (int, float) else "must be a number"
    if hint is str:
        return None if type(value) is str else "must be a string"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
