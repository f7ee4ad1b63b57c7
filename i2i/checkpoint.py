"""Checkpoints: our self-describing safetensors files, and the peers' layouts we read.

This module knows the format, the checks and the dispatch, and no architecture: each one
declares on its ArchSpec (archs/) the options its tensors tell (read_options) and the peer
layouts it reads without our metadata (detect, tried in detect_order; the last is the
community upscalers' library, for ESRGAN, Real-ESRGAN, SwinIR, ...).

A checkpoint's metadata is untrusted: before any module is built, the architecture's options
are checked against the tensor shapes in the safetensors header (read without the tensors),
and the task against the architecture. Every failure is one CheckpointError line that names
the file (exit code 2 in the CLI).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .archs.common import ArchSpec, config_from_dict
from .errors import CheckpointError
from .task import Task

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = "1"
"""Stored as metadata "i2i.format": "MAJOR" or "MAJOR.MINOR". A minor version may add optional
metadata and stays readable; a newer major version is refused (format_problem)."""
MODEL_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
"""File types read as checkpoints (.pth/.pt/.ckpt through torch.load(weights_only=True))."""


@dataclass(kw_only=True)
class ModelInfo:
    """Everything a checkpoint says about itself besides its tensors."""

    arch: str
    options: dict
    task: Task
    name: str = ""
    description: str = ""
    training: dict = field(default_factory=dict)
    """command, data, steps, minutes, metrics (measured), source."""

    def to_metadata(self) -> dict[str, str]:
        """The safetensors header's metadata (every value valid UTF-8: see utf8_text)."""
        fields = {
            "i2i.format": FORMAT_VERSION,
            "arch": self.arch,
            "options": json.dumps(self.options, sort_keys=True),
            "task": json.dumps(self.task.to_dict(), sort_keys=True),
            "name": self.name,
            "description": self.description,
            "training": json.dumps(self.training, sort_keys=True),
        }
        return {k: utf8_text(v) for k, v in fields.items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> ModelInfo:
        """ValueError (one line) for a missing field, invalid or nested-too-deep JSON, or values
        of the wrong kind; the caller adds the file name."""
        problem = format_problem(meta.get("i2i.format", FORMAT_VERSION))
        if problem:
            raise ValueError(problem)
        missing = [k for k in ("arch", "options", "task") if k not in meta]
        if missing:
            raise ValueError(f"metadata lacks {', '.join(missing)}")
        options = _json_field(meta, "options", dict)
        training = _json_field(meta, "training", dict) if "training" in meta else {}
        return cls(
            arch=meta["arch"],
            options=options,
            task=Task.from_dict(_json_field(meta, "task", dict)),
            name=meta.get("name", ""),
            description=meta.get("description", ""),
            training=training,
        )


def format_problem(version: str) -> str | None:
    """None when this i2i reads checkpoint format `version` (its major version is ours), else
    why not, naming both versions."""
    major = str(version).split(".")[0]
    if major == FORMAT_VERSION.split(".")[0]:
        return None
    if major.isdigit() and int(major) > int(FORMAT_VERSION.split(".")[0]):
        return (
            f"written in i2i checkpoint format {version!r}, newer than this i2i reads "
            f"(format {FORMAT_VERSION!r}): upgrade i2i to load it"
        )
    return f"written in an unknown i2i checkpoint format {version!r}; this i2i reads format {FORMAT_VERSION!r}"


def _json_field(meta: dict, key: str, kind: type):
    try:
        value = json.loads(meta[key])
    except RecursionError:
        raise ValueError(f"metadata field {key!r} is nested too deeply") from None
    except ValueError as e:
        raise ValueError(f"metadata field {key!r} is not valid JSON ({e})") from None
    if not isinstance(value, kind):
        raise ValueError(f"metadata field {key!r} is not a JSON object")
    return value


@dataclass
class LoadedModel:
    """A checkpoint loaded into its architecture: what load_model returns.

    Run it through an Engine (engine/engine.py), which handles value ranges, padding, tiling and
    batching; `module` is the bare network for those who call it themselves: it takes and
    returns (B, C, H, W) float tensors in the range `task.value_range` says ("0,1", "-1,1" or
    "0,255"), on the device it was loaded to, with H and W multiples of
    `spec.size_multiple(config)` (the Engine pads to them).
    """

    module: torch.nn.Module
    """The network, in eval mode, on the device load_model was given."""
    info: ModelInfo
    """What the checkpoint says about itself: arch, options, task, name, training provenance."""
    spec: ArchSpec
    """The architecture's spec with this model's per-model fields filled in (for_config)."""
    config: object
    """The architecture's config dataclass the module was built from."""
    path: str = ""
    """The file it was loaded from."""

    @property
    def task(self) -> Task:
        """What the model does: kind (upscale, translate, ...), scale, colour spaces, value range."""
        return self.info.task


def save_model(path, module, info: ModelInfo, *, half: bool = False) -> None:
    """Write module weights + info atomically; half=True stores floats as fp16 (loads as fp32).

    A module with a checkpoint_state_dict() method (a wrapper around another library's network)
    stores that instead of its state_dict(): the weights under the key names its architecture
    rebuilds from.
    """
    import torch
    from safetensors.torch import save

    from .files import atomic_write_bytes

    state = getattr(module, "checkpoint_state_dict", module.state_dict)()
    tensors = {}
    for k, v in state.items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        tensors[k] = v
    atomic_write_bytes(save(tensors, metadata=info.to_metadata()), path)


def read_info(path) -> ModelInfo:
    """Metadata of one of our checkpoints, checked against its tensor shapes (read from the
    header, not the tensors): cheap enough for `i2i info` and listing. CheckpointError otherwise."""
    path = Path(path)
    return _naming_the_file(path, _read_info, path)


def _read_info(path: Path) -> ModelInfo:
    shapes, meta = _read_header(path)
    if "arch" not in meta:
        raise CheckpointError(f"{path}: has no i2i metadata; convert it with `i2i convert`")
    info = _info_from_metadata(meta, path)
    _checked_config(info, shapes, path)
    return info


def _naming_the_file(path: Path, fn, *args):
    """fn(*args), with any failure we did not foresee turned into one line naming the file."""
    try:
        return fn(*args)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{path}: cannot load: {type(e).__name__}: {_one_line(e)}") from None


def model_info(path, *, check_tensors: bool = True) -> ModelInfo:
    """What any checkpoint is: ours from its header (no tensor read), anything else by detection
    (which builds the model, with torch). check_tensors=False takes our metadata as the file
    states it (validated as data: format version, fields, task), without checking it against the
    architecture and the tensor shapes, which needs torch: for listing and `i2i info`, where
    start-up time is most of the cost; loading the model still checks everything.
    CheckpointError for an unreadable file."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors" and path.is_file():
        meta = header_metadata(path)
        if "arch" in meta:
            return read_info(path) if check_tensors else _info_from_metadata(meta, path)
    return load_model(path).info


def load_model(path, device="cpu") -> LoadedModel:
    """Load any supported checkpoint into its architecture: ours, a peer layout i2i reads
    itself, or anything the community upscalers' library recognises (.safetensors/.pth/.pt/.ckpt,
    weights only).

    path: a file (str or Path); models.resolve() turns a model name into one. device: a torch
    device string ("cpu", "cuda", "cuda:1", ...) the module is moved to. Returns a LoadedModel
    whose module is in eval mode. Nothing in the file is executed: safetensors, or
    torch.load(weights_only=True); options from metadata are checked against the tensor shapes
    before the module is built.

    Raises CheckpointError, one line naming the file, for every failure: no such file, an
    unreadable or unknown layout, metadata that does not match the tensors, or a checkpoint
    format newer than this i2i reads.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return _naming_the_file(path, _load, path, device)


def _load(path: Path, device) -> LoadedModel:
    if path.suffix.lower() == ".safetensors":
        shapes, meta = _read_header(path)
        if "arch" in meta:
            info = _info_from_metadata(meta, path)
            spec, cfg = _checked_config(info, shapes, path)
            return _instantiate(_read_safetensors(path), info, spec, cfg, path, device)
        state = _read_safetensors(path)
    else:
        state = _read_torch_file(path)
    return _detect(_canonical(state, path), path, device)


def _info_from_metadata(meta: dict, path: Path) -> ModelInfo:
    problem = format_problem(meta.get("i2i.format", FORMAT_VERSION))
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    try:
        return ModelInfo.from_metadata(meta)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad metadata: {_one_line(e)}") from None


def _checked_config(info: ModelInfo, shapes: dict, path: Path):
    """(spec for this model, config) once options, tensor shapes and task all agree."""
    from .archs.registry import ARCHS, get_spec  # the architectures import torch

    try:
        spec = get_spec(info.arch)
    except KeyError:
        raise CheckpointError(
            f"{path}: unknown architecture {info.arch!r} (this i2i knows {', '.join(ARCHS)})"
        ) from None
    try:
        cfg = config_from_dict(spec.config, info.options)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad options for {info.arch}: {_one_line(e)}") from None
    problem = (
        _options_against_shapes(spec, cfg, shapes)
        or _task_against_arch(info.task, spec, cfg)
        or _shape_mismatch(spec, cfg, shapes)
    )
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    return spec.for_config(cfg), cfg


def _instantiate(state, info: ModelInfo, spec: ArchSpec, cfg, path: Path, device) -> LoadedModel:
    import torch

    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    if spec.from_weights is not None:
        try:
            module = spec.from_weights(cfg, state)
        except (ValueError, KeyError, RuntimeError, AssertionError) as e:
            raise CheckpointError(
                f"{path}: weights do not fit {info.arch} {info.options.get('arch', '')}: {_one_line(e)}"
            ) from None
    else:
        module = spec.build(cfg)
        module.load_state_dict(state, strict=True)  # shapes and keys were checked: cannot fail
    module.eval().requires_grad_(False).to(device)
    return LoadedModel(module=module, info=info, spec=spec, config=cfg, path=str(path))


# ---- reading files --------------------------------------------------------------------------

MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors library itself sets on a header


def header_metadata(path) -> dict[str, str]:
    """The "__metadata__" of a safetensors file, read as the format defines its header (an
    8-byte little-endian length, then that much JSON: huggingface/safetensors README, "Format")
    without reading a tensor or importing a framework (the library's safe_open imports torch or
    numpy to open a file). CheckpointError, naming the file, for anything else."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 2 <= length <= MAX_HEADER_BYTES:
                raise ValueError(f"header length {length}")
            header = json.loads(f.read(length))
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError("__metadata__ is not a map of strings")
    except (OSError, ValueError, AttributeError) as e:  # AttributeError: a header that is not an object
        raise CheckpointError(f"{path}: not a readable safetensors file ({_one_line(e)})") from None
    return meta


def utf8_text(text: str) -> str:
    """`text` as safetensors can store it (valid UTF-8): the undecodable bytes of a file name
    (Python's surrogateescape characters, a Latin-1 `caf\\xe9` on Linux) written as `\\xe9`, so
    a description or source naming such a file never fails the save; other text is unchanged."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@contextmanager
def open_safetensors(path) -> Iterator:
    """safetensors.safe_open(path, "pt") for any file name. safetensors refuses a path that is
    not valid UTF-8 (a Latin-1 `caf\\xe9.safetensors` on Linux), so such a file is opened here
    and handed over as /dev/fd/N (only POSIX systems have such names, and all of them /dev/fd)."""
    from safetensors import safe_open

    name = os.fspath(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(name, os.O_RDONLY)
        try:
            with safe_open(f"/dev/fd/{fd}", "pt") as f:
                yield f
        finally:
            os.close(fd)
        return
    with safe_open(name, "pt") as f:
        yield f


def _read_header(path: Path) -> tuple[dict, dict]:
    """(name -> meta tensor of the stored shape and dtype, metadata) without reading tensors."""
    try:
        with open_safetensors(path) as f:
            shapes = {k: _meta_tensor(f.get_slice(k)) for k in f.keys()}
            return shapes, (f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({_one_line(e)})") from None


_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


def _meta_tensor(view):
    import torch

    dtype = getattr(torch, _DTYPES.get(view.get_dtype(), "float32"))
    return torch.empty(view.get_shape(), dtype=dtype, device="meta")


def _meta_tensors(state: dict) -> dict:
    import torch

    return {k: torch.empty(v.shape, dtype=v.dtype, device="meta") for k, v in state.items()}


def _read_safetensors(path: Path) -> dict:
    try:
        with open_safetensors(path) as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({_one_line(e)})") from None


def _read_torch_file(path: Path):
    """torch.load with weights_only=True: tensors and plain containers, never code."""
    import pickle

    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        culprit = re.search(r"GLOBAL ([\w.]+)", str(e))
        named = f"it names {culprit.group(1)}" if culprit else _one_line(e)
        raise CheckpointError(
            f"{path}: refused: not a plain weights file; loading it would "
            f"build objects or run code it contains ({named})"
        ) from None
    except RuntimeError as e:
        if "TorchScript" in str(e):
            raise CheckpointError(
                f"{path}: refused: a TorchScript archive holds code; i2i reads "
                "weights only (save the model's state_dict instead)"
            ) from None
        raise CheckpointError(f"{path}: cannot read as a weights-only torch file ({_one_line(e)})") from None
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read as a weights-only torch file ({_one_line(e)})") from None


# The wrappers and prefixes that training code puts around a state dict, as chaiNNer-org's
# canonicalize_state_dict undoes them (BasicSR's params_ema/params, Lightning's state_dict,
# DataParallel's module.), so that every detector sees the same keys.
_WRAPPERS = ("model_state_dict", "state_dict", "params_ema", "params-ema", "params", "model", "net")
_PREFIXES = ("module.", "netG.")


def _canonical(obj, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a state dict (a {type(obj).__name__})")
    for key in _WRAPPERS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
        obj = next(iter(obj.values()))
    for prefix in _PREFIXES:
        if obj and all(isinstance(k, str) and k.startswith(prefix) for k in obj):
            obj = {k[len(prefix) :]: v for k, v in obj.items()}
    odd = next((k for k, v in obj.items() if not hasattr(v, "shape")), None)
    if not obj or odd is not None:
        raise CheckpointError(
            f"{path}: not a state dict of tensors"
            + (f" (entry {str(odd)[:40]!r} is a {type(obj[odd]).__name__})" if odd is not None else " (empty)")
        )
    return dict(obj)


# ---- checks before building -------------------------------------------------------------------


# Options only part of whose values leave a trace in the tensors: what the tensors can tell.
SEEN_IN_TENSORS = {
    "norm": lambda v: v == "batch",  # instance and none both leave no tensors
    "upsample": lambda v: v == "transposed",  # resize and bilinear hold the same tensors
}


def _options_against_shapes(spec: ArchSpec, cfg, shapes: dict) -> str | None:
    """Why the options do not describe these tensors, or None: the options the tensors
    determine (channels, blocks, scale, ...) read from their shapes, so that a config that
    disagrees is refused before anything of its size is built."""
    if spec.shapes_problem is not None:  # options the tensors cannot tell: the spec's own check
        return spec.shapes_problem(cfg, shapes)
    reader = spec.read_options
    if reader is None:
        return f"i2i cannot check {spec.id} options against tensors"
    try:
        derived = reader(shapes)
    except ValueError as e:  # the reader's own words: a layout i2i's architecture cannot hold
        return str(e)
    except (IndexError, KeyError, TypeError):  # shapes of the wrong rank and the like
        derived = None
    if derived is None:
        return f"its tensors are not a {spec.id} layout"
    for key, value in derived.items():
        have = getattr(cfg, key)
        if key in SEEN_IN_TENSORS:
            have, value = SEEN_IN_TENSORS[key](have), SEEN_IN_TENSORS[key](value)
        if have != value:
            return f"metadata option {key} = {getattr(cfg, key)!r} disagrees with the tensors ({derived[key]!r})"
    return None


def _shape_mismatch(spec: ArchSpec, cfg, shapes: dict) -> str | None:
    """Every key and shape of the module these options build (on the meta device: no memory,
    and only once the options agree with the shapes) against the file's tensors."""
    import torch

    if spec.from_weights is not None:
        return None
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in spec.build(cfg).state_dict().items()}
    missing = [k for k in expected if k not in shapes]
    extra = [k for k in shapes if k not in expected]
    wrong = [k for k in expected if k in shapes and tuple(shapes[k].shape) != expected[k]]
    if wrong:
        k = wrong[0]
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return (
            f"tensor {k} has shape {_dims(shapes[k].shape)}, {spec.id} with these options "
            f"needs {_dims(expected[k])}{more}"
        )
    if missing:
        return f"lacks {len(missing)} tensor(s) {spec.id} needs: {_few(missing)}"
    if extra:
        return f"holds {len(extra)} tensor(s) {spec.id} has no place for: {_few(extra)}"
    return None


def _task_against_arch(task: Task, spec: ArchSpec, cfg) -> str | None:
    """Why the stored task cannot describe this network, or None."""
    if not spec.generator:
        return None
    scale = spec.scale(cfg)
    if task.scale != scale:
        return f"task scale {task.scale} disagrees with the {spec.id} network's scale {scale}"
    if (task.kind == "upscale") != (scale > 1):
        return (
            f"a {task.kind} task at scale {scale}: upscale models enlarge (scale > 1), every other kind keeps the size"
        )
    cin, cout = spec.channels(cfg)
    if task.in_channels != cin:
        return f"task in_space {task.in_space} ({task.in_channels} channels) disagrees with the network's {cin} input channels"
    if task.out_channels != cout:
        return f"task out_space {task.out_space} ({task.out_channels} channels) disagrees with the network's {cout} output channels"
    if (task.kind == "colorize") != (task.in_space == "L" and task.out_space == "ab"):
        return f"a {task.kind} task from {task.in_space} to {task.out_space}: colorize models, and only they, map Lab L to ab"
    return None


# ---- layouts without our metadata -------------------------------------------------------------


def _detect(state: dict, path: Path, device) -> LoadedModel:
    """The first architecture (in detect_order) whose detect() claims the state, loaded."""
    from .archs.registry import ARCHS  # the architectures import torch

    reasons = []
    for spec in sorted((s for s in ARCHS.values() if s.detect is not None), key=lambda s: s.detect_order):
        try:
            found = spec.detect(state)
        except LookupError as e:
            reasons.append(str(e))
            continue
        except ValueError as e:  # the detector's own words: a layout i2i recognises but cannot run
            raise CheckpointError(f"{path}: {_one_line(e)}") from None
        if found is not None:
            return _load_detected(spec, found, path, device)
    sample = ", ".join(list(state)[:3])
    raise CheckpointError(
        f"{path}: unknown checkpoint layout (first keys: {sample})" + "".join(f"; {r}" for r in reasons)
    )


def _load_detected(spec: ArchSpec, found, path: Path, device) -> LoadedModel:
    info = ModelInfo(
        arch=spec.id,
        options=found.options,
        task=found.task,
        name=path.stem,
        description=found.description,
        training={"source": f"converted from {path}"},
    )
    if found.module is None:
        spec, cfg = _checked_config(info, _meta_tensors(found.state), path)
        return _instantiate(found.state, info, spec, cfg, path, device)
    module = found.module.eval().requires_grad_(False).to(device)
    return LoadedModel(
        module=module, info=info, spec=spec.for_config(found.config), config=found.config, path=str(path)
    )


def convert(src, dst, *, half: bool = False) -> ModelInfo:
    """Read any supported checkpoint and write it as our self-describing safetensors."""
    model = load_model(src)
    save_model(dst, model.module, model.info, half=half)
    return model.info


# ---- messages -----------------------------------------------------------------------------


def _one_line(e) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _dims(shape) -> str:
    return "x".join(str(int(n)) for n in shape) or "scalar"


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
