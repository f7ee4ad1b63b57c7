"""Export a loaded model to ONNX (dynamic batch, height and width), with i2i's task metadata.

Three graph variants, all from the same module:
  plain   input (N, C, H, W) -> output (N, C', H*s, W*s), in the network's value range
  record  input (1, C, H, W) -> mean_0, var_0, ... (each (1, C_i, 1, 1)): instance-norm statistics
  frozen  input, mean_0, var_0, ... -> output, every InstanceNorm using the given statistics
(record and frozen exist for instance-norm networks only; see norm_stats.py.)

The exporter is torch.onnx's TorchScript tracer: it handles any nn.Module that traces, needs no
extra package, and gives dynamic axes directly. A module whose traced graph bakes in its sample
size is caught by verification at another size (backends.py) and runs on torch instead.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from pathlib import Path

import torch
from torch import nn

from ..errors import I2IError
from ..kernels import default_kernels
from .norm_stats import FrozenStatistics, StatisticsRecorder, has_instance_norm, record_statistics, statistics_names

OPSET = 17
"""ONNX opset of exported graphs: read by ONNX Runtime >= 1.12 and OpenVINO >= 2022.1."""

VARIANTS = ("plain", "record", "frozen")

FP32_MAX_DIFF = 1 / 255
"""Largest max |runtime - torch| an exported fp32 graph may show on a real input, in output units
of [0, 1]: one 8-bit level (runtimes measure 1e-7 to 4e-5 on the shipped models). `i2i export`
refuses a graph above it (verify) and the engine's backend selection skips the runtime."""


class ExportError(I2IError):
    """The module cannot be exported to ONNX (the engine then runs it with torch)."""


def input_channels(model) -> int:
    """Channels the network takes: its config's in_channels, else its first convolution's."""
    channels = getattr(model.config, "in_channels", None)
    if isinstance(channels, int):
        return channels
    for m in model.module.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return 3


def sample_input(model) -> torch.Tensor:
    """A small non-square input for tracing: sides are multiples of the model's size multiple."""
    m = model.spec.size_multiple(model.config)
    side = m * max(1, -(-64 // m))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, input_channels(model), side, side + m, generator=g)
    return model.task.to_net(x)


def metadata(model, variant: str = "plain") -> dict[str, str]:
    """The task metadata stored in an exported graph's metadata_props (all values strings)."""
    from .. import __version__

    task, spec = model.task, model.spec
    props = {
        "i2i.version": __version__,
        "i2i.arch": model.info.arch,
        "i2i.options": json.dumps(model.info.options, sort_keys=True, default=str),
        "i2i.task": json.dumps(task.to_dict(), sort_keys=True),
        "i2i.kind": task.kind,
        "i2i.in_space": task.in_space,
        "i2i.out_space": task.out_space,
        "i2i.value_range": task.value_range,
        "i2i.scale": str(spec.scale(model.config)),
        "i2i.size_multiple": str(spec.size_multiple(model.config)),
        "i2i.input_layout": "NCHW float32; H and W multiples of i2i.size_multiple",
        "i2i.variant": variant,
    }
    if model.info.name:
        props["i2i.name"] = model.info.name
    if model.info.description:
        props["i2i.description"] = model.info.description
    return props


def export(model, path: Path, variant: str = "plain", extra: dict[str, str] | None = None) -> None:
    """Write `model` as an ONNX graph of `variant` to `path`; raises ExportError if it cannot.

    The module is traced on the CPU (and put back on its device afterwards).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown graph variant {variant!r}")
    module = model.module
    if variant != "plain" and not has_instance_norm(module):
        raise ExportError(f"{variant} graphs exist only for instance-norm networks")
    device = next(module.parameters(), torch.empty(0)).device
    stack = ExitStack()
    try:
        module.to("cpu")
        stack.enter_context(torch.inference_mode(False))  # the caller may be in inference mode
        stack.enter_context(default_kernels(module))  # the torch backend's NNPACK has no ONNX form
        x = sample_input(model)
        net, args, inputs, outputs, dynamic = _variant(module, variant, x)
        # Traced into memory, then written by Python's own file I/O: torch's C++ refuses a file
        # name that is not valid UTF-8 (a Latin-1 `caf\xe9.onnx` on Linux).
        graph = io.BytesIO()
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            with torch.no_grad():
                torch.onnx.export(
                    net,
                    args,
                    graph,
                    opset_version=OPSET,
                    input_names=inputs,
                    output_names=outputs,
                    dynamic_axes=dynamic,
                    do_constant_folding=True,
                    **_tracer_exporter(),
                )
    except Exception as e:  # any tracing or conversion failure: this module has no graph
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"cannot export {model.info.arch} to ONNX: {first}") from None
    finally:
        stack.close()
        module.to(device)
    _save_with_metadata(graph.getvalue(), path, {**metadata(model, variant), **(extra or {})})


def _tracer_exporter() -> dict:
    """Keyword that picks the TorchScript tracer where torch.onnx.export has a choice (torch >= 2.5;
    the torch.export-based exporter it defaults to from 2.9 needs the onnxscript package)."""
    import inspect

    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _variant(module: nn.Module, variant: str, x: torch.Tensor):
    image_axes = {0: "batch", 2: "height", 3: "width"}
    out_axes = {0: "batch", 2: "out_height", 3: "out_width"}
    if variant == "plain":
        return module, (x,), ["input"], ["output"], {"input": image_axes, "output": out_axes}
    names = statistics_names(module)
    if variant == "record":
        return (StatisticsRecorder(module), (x,), ["input"], names, {"input": {2: "height", 3: "width"}})
    stats = record_statistics(module, x)
    stats = [s.clone() for s in stats]  # out of inference mode, for tracing
    return (
        FrozenStatistics(module),
        (x, *stats),
        ["input", *names],
        ["output"],
        {"input": image_axes, "output": out_axes},
    )


def _save_with_metadata(serialized: bytes, path: Path, props: dict[str, str]) -> None:
    import onnx

    graph = onnx.load_from_string(serialized)
    existing = {p.key: p for p in graph.metadata_props}
    for key, value in props.items():
        entry = existing.get(key) or graph.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(graph, os.fspath(path))


def read_metadata(path: Path) -> dict[str, str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in graph.metadata_props}


# ---- `i2i export`: a standalone graph, verified ---------------------------------------------

VERIFY_IMAGE = Path(__file__).with_name("verify.png")
"""A real photo (a zebra, 146x97: odd sizes on purpose) that exports are checked on by default."""


def verification_input(model, image) -> torch.Tensor:
    """ImageData -> (2, C, H, W) in the network's value range: the image and its mirror image
    (a batch of two checks the dynamic batch axis), padded to the model's size multiple."""
    from ..data.color import rgb_to_lab
    from .adapters import rgb_of
    from .tiling import pad_to_multiple

    rgb = rgb_of(image)[None].float()
    channels = input_channels(model)
    if model.task.in_space == "L" or channels == 1:
        x = rgb_to_lab(rgb)[:, :1] / 100 if model.task.in_space == "L" else rgb.mean(1, keepdim=True)
    else:
        x = torch.cat([rgb, torch.ones_like(rgb[:, :1])], 1)[:, :channels] if channels > 3 else rgb
    x = torch.cat([x, x.flip(-1)])
    return pad_to_multiple(
        model.task.to_net(x), model.spec.size_multiple(model.config), model.spec.min_size(model.config)
    )[0]


def verify(model, path: Path, image) -> dict:
    """Run the ONNX file with ONNX Runtime and the module with torch on `image`; compare.

    Returns max and mean absolute difference in output units of [0, 1] and the input size;
    raises ExportError above FP32_MAX_DIFF (one 8-bit level).
    """
    import onnxruntime as ort

    x = verification_input(model, image)
    with torch.inference_mode():
        expected = model.task.from_net(model.module.to("cpu")(x)).clamp(0, 1)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = torch.get_num_threads()
    # The graph's bytes, not its name: ONNX Runtime refuses a name that is not valid UTF-8.
    session = ort.InferenceSession(Path(path).read_bytes(), options, providers=["CPUExecutionProvider"])
    got = model.task.from_net(torch.from_numpy(session.run(None, {"input": x.numpy()})[0])).clamp(0, 1)
    if got.shape != expected.shape:
        raise ExportError(
            f"the exported graph gives shape {tuple(got.shape)} where torch gives "
            f"{tuple(expected.shape)} (its sizes are baked in)"
        )
    diff = (got - expected).abs()
    report = {
        "max_diff": float(diff.max()),
        "mean_diff": float(diff.mean()),
        "input": list(x.shape),
        "runtime": f"onnxruntime {ort.__version__}",
    }
    if report["max_diff"] > FP32_MAX_DIFF:
        raise ExportError(
            f"the exported graph differs from torch by {report['max_diff'] * 255:.2f}/255 (more than one 8-bit level)"
        )
    return report


def export_file(model, path: Path, image=None) -> dict:
    """`i2i export`: write `path` (atomically) only once it has been verified on `image`.

    Returns the verification report plus the metadata written.
    """
    from ..data.image_io import read_image
    from ..files import atomic_path
    from .cache import file_sha256, model_key

    image = image if image is not None else read_image(VERIFY_IMAGE)
    extra = {"i2i.opset": str(OPSET), "i2i.model_key": model_key(model)}
    if model.path and Path(model.path).is_file():
        extra["i2i.checkpoint_sha256"] = file_sha256(model.path)
    report: dict = {}

    def build(tmp: Path) -> None:
        export(model, tmp, "plain", extra)
        report.update(verify(model, tmp, image))

    with atomic_path(path) as tmp:
        build(tmp)
    report["metadata"] = read_metadata(Path(path))
    return report
