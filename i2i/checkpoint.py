"""Checkpoints: our self-describing safetensors files, and the peers' layouts we read.

This is the only module that knows peers' key names (pytorch-CycleGAN-and-pix2pix,
pytorch/examples fast_neural_style, BasicSR MSRResNet).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .archs.common import ArchSpec
from .archs.registry import build, get_spec
from .errors import CheckpointError
from .task import Task

FORMAT_VERSION = "1"


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
        return {
            "i2i.format": FORMAT_VERSION,
            "arch": self.arch,
            "options": json.dumps(self.options, sort_keys=True),
            "task": json.dumps(self.task.to_dict(), sort_keys=True),
            "name": self.name,
            "description": self.description,
            "training": json.dumps(self.training, sort_keys=True),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "ModelInfo":
        return cls(arch=meta["arch"], options=json.loads(meta["options"]),
                   task=Task.from_dict(json.loads(meta["task"])), name=meta.get("name", ""),
                   description=meta.get("description", ""),
                   training=json.loads(meta.get("training", "{}")))


@dataclass
class LoadedModel:
    module: object  # torch.nn.Module, in eval mode
    info: ModelInfo
    spec: ArchSpec
    config: object
    path: str = ""

    @property
    def task(self) -> Task:
        return self.info.task


def save_model(path, module, info: ModelInfo, *, half: bool = False) -> None:
    """Write module weights + info atomically; half=True stores floats as fp16 (loads as fp32)."""
    import torch
    from safetensors.torch import save

    from .data.image_io import atomic_write_bytes

    tensors = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        tensors[k] = v
    atomic_write_bytes(save(tensors, metadata=info.to_metadata()), path)


def read_info(path) -> ModelInfo:
    """Metadata only, no tensors (cheap: for `i2i info` and listing)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    if "arch" not in meta:
        raise CheckpointError(f"{path}: has no i2i metadata; convert it with `i2i convert`")
    return ModelInfo.from_metadata(meta)


def load_model(path, device="cpu") -> LoadedModel:
    """Load any supported checkpoint (ours, or a peer's .pth/.safetensors) into its architecture."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    state, meta = _read_tensors(path)
    if meta and "arch" in meta:
        info = ModelInfo.from_metadata(meta)
    else:
        state, info = detect_peer(state, source=str(path))
    return _instantiate(state, info, str(path), device)


def _instantiate(state, info: ModelInfo, path: str, device) -> LoadedModel:
    import torch

    spec = get_spec(info.arch)
    try:
        module, cfg = build(info.arch, info.options)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad options for {info.arch}: {e}") from None
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit {info.arch} {info.options}: {first}") from None
    module.eval().requires_grad_(False).to(device)
    return LoadedModel(module=module, info=info, spec=spec, config=cfg, path=path)


def _read_tensors(path: Path):
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), "pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})
        except Exception as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    import torch

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: cannot read as a weights-only torch file ({first})") from None
    if isinstance(obj, dict):
        for key in ("params_ema", "params", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return dict(obj), {}


# ---- peers' layouts -------------------------------------------------------------------------

def detect_peer(state: dict, source: str = "") -> tuple[dict, ModelInfo]:
    """Recognise a peer's state dict by key names and shapes; return (clean state, info)."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    for detect in (_detect_basicsr, _detect_fast_style, _detect_unet, _detect_resnet):
        found = detect(state)
        if found is not None:
            clean, arch, options, task = found
            return clean, ModelInfo(arch=arch, options=options, task=task,
                                    training={"source": f"converted from {source}"})
    sample = ", ".join(list(state)[:3])
    raise CheckpointError(f"{source}: unknown checkpoint layout (first keys: {sample})")


def _count(state, pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _detect_basicsr(state):
    if "conv_first.weight" not in state or "body.0.conv1.weight" not in state:
        return None
    feat, in_ch = state["conv_first.weight"].shape[:2]
    if "upconv2.weight" in state:
        scale = 4
    else:
        scale = int(round((state["upconv1.weight"].shape[0] / feat) ** 0.5))
    options = dict(scale=scale, channels=int(feat), blocks=_count(state, r"body\.(\d+)\.conv1\.weight"),
                   upsampler="progressive", in_channels=int(in_ch))
    task = Task(kind="upscale", value_range="0,1", scale=scale)
    return state, "srresnet", options, task


def _detect_fast_style(state):
    if "conv1.conv2d.weight" not in state:
        return None
    clean = {k: v for k, v in state.items() if not re.match(r".*in\d+\.running_(mean|var)$", k)}
    options = dict(width=int(state["conv1.conv2d.weight"].shape[0]),
                   res_blocks=_count(state, r"res(\d+)\.conv1\.conv2d\.weight"))
    return clean, "transformer_net", options, Task(kind="stylize", value_range="0,255")


def _drop_legacy_instance_norm(state, norm: str) -> dict:
    if norm == "batch":
        return state
    return {k: v for k, v in state.items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def _colour_task(in_ch: int, out_ch: int) -> Task:
    if in_ch == 1 and out_ch == 2:
        return Task(kind="colorize", in_space="L", out_space="ab", value_range="-1,1")
    return Task(kind="translate", value_range="-1,1")


def _detect_unet(state):
    if "model.model.0.weight" not in state:
        return None
    depth = 1
    while f"model.model.1{'.model.3' * (depth - 1)}.model.1.weight" in state:
        depth += 1
    num_downs = depth  # outermost + (depth - 1) nested blocks, each one downsampling
    first = state["model.model.0.weight"]
    norm = "batch" if "model.model.1.model.2.weight" in state else "instance"
    out_ch = int(state["model.model.3.weight"].shape[1])
    options = dict(in_channels=int(first.shape[1]), out_channels=out_ch, num_downs=num_downs,
                   ngf=int(first.shape[0]), norm=norm, dropout=True)
    clean = _drop_legacy_instance_norm(state, norm)
    return clean, "unet", options, _colour_task(int(first.shape[1]), out_ch)


def _detect_resnet(state):
    if "model.1.weight" not in state or "model.10.conv_block.1.weight" not in state:
        return None
    blocks = _count(state, r"model\.(\d+)\.conv_block\.1\.weight")
    # With dropout the second conv moves from conv_block.5 to .6 (where batch norm would sit).
    dropout = getattr(state.get("model.10.conv_block.6.weight"), "ndim", 0) == 4
    norm = "batch" if "model.2.weight" in state else "instance"
    first = state["model.1.weight"]
    last = state[f"model.{17 + blocks}.weight"]
    options = dict(in_channels=int(first.shape[1]), out_channels=int(last.shape[0]),
                   ngf=int(first.shape[0]), blocks=blocks, norm=norm, dropout=dropout)
    clean = _drop_legacy_instance_norm(state, norm)
    return clean, "resnet", options, _colour_task(int(first.shape[1]), int(last.shape[0]))


def convert(src, dst, *, half: bool = False) -> ModelInfo:
    """Read any supported checkpoint and write it as our self-describing safetensors."""
    model = load_model(src)
    save_model(dst, model.module, model.info, half=half)
    return model.info

