"""Inference backends under the engine: PyTorch eager, ONNX Runtime and OpenVINO.

The runtimes run an exported graph in fp32, in bf16 (OpenVINO, where the CPU has it natively)
or in int8 (the graph quantised after training by quantize.py; either runtime runs it).

Each backend runs the network on a padded (N, C, H, W) float tensor in the network's value
range and returns its raw output as a CPU or device tensor; value ranges, padding, tiling and
batching stay in runner.py. With `stats` (see norm_stats.py) every InstanceNorm layer uses the
given whole-image statistics: torch patches its layers, the runtimes run the exported `frozen`
graph whose extra inputs are those statistics.

Which backend runs is decided in selection.py; this module only knows how to run each one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import sys
from abc import ABC, abstractmethod
from contextlib import nullcontext

import numpy as np
import torch

from ..errors import I2IError, UsageError
from . import cache
from .norm_stats import frozen_statistics, record_statistics, statistics_names
from .results import precision_of  # noqa: F401  (declared beside Result, which a torch-less Ray driver prints)

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
RUNTIMES = cache.RUNTIMES
_LABEL = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}
_INSTALL = {"onnxruntime": "pip install onnxruntime", "openvino": "pip install 'i2i[openvino]'"}


class BackendUnavailable(UsageError):
    """A runtime asked for by name is not installed (exit code 2)."""


class BackendError(I2IError):
    """A runtime could not build or run this model's graph: under `auto` the engine runs torch
    instead (with a note); a runtime named by --backend makes it the input's error."""

    lasting = True
    """Whether the cause is the model's (remembered with the measurements) rather than this
    machine's state at the moment (an unwritable cache folder: measured again next time)."""


class CacheUnwritable(BackendError):
    """The exported graph cannot be written to the cache folder."""

    lasting = False


# ---- what is installed (cheap: no runtime is imported to answer) -----------------------------


def runtime_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# `import openvino` imports its model converter, whose openvino_telemetry sends a usage event
# to Google Analytics by forking a process from a worker thread. In a process that already runs
# torch's and ONNX Runtime's threads that fork can deadlock, and the interpreter then waits for
# the child at exit forever (seen with openvino 2026.4, openvino-telemetry 2025.2); and an
# image tool has no business on the network. The converter falls back to
# its own no-op stub when openvino_telemetry does not import, so hide it for that one import.
_IMPORT_WITHOUT = {"openvino": ("openvino_telemetry",)}


@functools.cache
def _import(name: str):
    hidden = [m for m in _IMPORT_WITHOUT.get(name, ()) if m not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None: `import m` raises ImportError
    try:
        return importlib.import_module(name)
    except ImportError as e:
        return e
    finally:
        for m in hidden:
            del sys.modules[m]


def runtime_missing(name: str) -> str | None:
    """None if runtime `name` imports, else a one-line message saying how to install it."""
    found = _import(name)
    if not isinstance(found, ImportError):
        return None
    return f"{_LABEL[name]} is not installed ({_INSTALL[name]}): {found}"


def load_runtime(name: str):
    problem = runtime_missing(name)
    if problem:
        raise BackendUnavailable(f"--backend {name}: {problem}")
    return _import(name)


def versions() -> dict[str, str]:
    """Versions of torch and of each installed runtime: part of every cache key."""
    found = {"torch": torch.__version__}
    for name in RUNTIMES:
        if runtime_missing(name) is None:
            found[name] = runtime_version(name) or "?"
    return found


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether OpenVINO runs bf16 natively on this CPU (AVX512-BF16 or AMX), per its plugin."""
    if runtime_missing("openvino"):
        return False
    return "BF16" in _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def native_int8() -> bool:
    """Whether this CPU multiplies 8-bit integers natively (cache.native_int8)."""
    return cache.native_int8()


def int8_without_saturation() -> bool:
    """Whether its 8-bit dot products accumulate without saturating (VNNI, AMX, Arm's)."""
    return bool(cache.cpu_flags() & cache.INT8_DOT) or not cache.cpu_flags()


@functools.lru_cache(maxsize=1)
def _openvino_core():
    return load_runtime("openvino").Core()


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float32).contiguous().numpy()


# ---- torch -----------------------------------------------------------------------------------


class TorchBackend:
    """The module itself, eager. fp16/bf16 (CUDA only) run under autocast.

    On the CPU in fp32, stride-1 convolutions go through NNPACK (i2i/kernels.py): it beat
    PyTorch's default kernels on every row of benchmarks/backends.py, and the runtimes on one
    (resnet_9blocks). Elsewhere channels_last lets cuDNN and oneDNN pick their fast kernels.
    """

    name = "torch"

    def __init__(self, module, device: torch.device, dtype: torch.dtype = torch.float32):
        from ..kernels import use_nnpack

        self.device, self.dtype = device, dtype
        self.precision = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]
        nnpack = device.type == "cpu" and dtype == torch.float32 and use_nnpack(module) > 0
        channels_last = device.type == "cuda" or (device.type == "cpu" and not nnpack)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.module = module.to(device, memory_format=self.memory_format)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        autocast = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype != torch.float32 else nullcontext()
        with torch.inference_mode(), autocast:
            return self.module(x).float()

    def __call__(self, x: torch.Tensor, stats: list[torch.Tensor] | None = None) -> torch.Tensor:
        if stats is None:
            return self._forward(x)
        with frozen_statistics(self.module, stats):
            return self._forward(x)

    def statistics(self, reference: torch.Tensor) -> list[torch.Tensor]:
        return record_statistics(self.module, reference.to(self.device))


# ---- exported graphs -------------------------------------------------------------------------


class ModelGraphs:
    """A model's exported ONNX graphs in the on-disk cache, exported on first use (fp32;
    quantize.Int8Graphs holds their int8 versions)."""

    precision = "fp32"

    def __init__(self, model):
        self.model = model
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = cache.model_key(self.model)
        return self._key

    def graph_key(self, variant: str) -> str:
        """Checkpoint content, graph variant, opset, and the versions of the exporter (torch) and
        of the installed runtimes (an upgrade re-exports once rather than trust an old file)."""
        import hashlib

        from .onnx_export import OPSET

        tools = hashlib.sha256(repr(sorted(versions().items())).encode()).hexdigest()[:8]
        return f"{self.key}-{variant}-op{OPSET}-{tools}"

    def path(self, variant: str = "plain"):
        """The graph's file in the cache, exported first if need be. BackendError when the model
        does not export; CacheUnwritable when the cache folder cannot take the file."""
        from .onnx_export import export

        return cached_graph(self.graph_key(variant), lambda p: export(self.model, p, variant))

    def discard(self, variant: str) -> None:
        cache.discard(self.graph_key(variant), ".onnx")


def cached_graph(key: str, build):
    """cache.cached_file for a graph, its failures as the engine's errors: BackendError when
    `build` raises an I2IError (the model does not export or quantise), CacheUnwritable when
    the cache folder cannot take the file."""
    try:
        return cache.cached_file(key, ".onnx", build)
    except BackendError:
        raise
    except I2IError as e:
        raise BackendError(str(e)) from None
    except OSError as e:
        folder = cache.cache_dir() / "onnx"
        raise CacheUnwritable(
            f"cannot write the exported graph to the cache folder {folder} ({e.strerror or e}); "
            f"set {cache.CACHE_ENV} to a writable folder"
        ) from None


class RuntimeBackend(ABC):
    """Common part of the ONNX runtimes: sessions per graph variant, built on first use."""

    name = ""

    def __init__(self, graphs: ModelGraphs, threads: int, precision: str = "fp32"):
        """graphs: ModelGraphs, or quantize.Int8Graphs for precision int8."""
        load_runtime(self.name)
        self.graphs, self.threads, self.precision = graphs, threads, precision
        self.stat_names = statistics_names(graphs.model.module)
        self._sessions: dict[str, object] = {}

    def session(self, variant: str):
        """The runtime's compiled graph; a cache entry it cannot read is exported again once."""
        if variant not in self._sessions:
            for attempt in (0, 1):
                path = self.graphs.path(variant)  # BackendError: no graph (export, cache folder)
                try:
                    self._sessions[variant] = self._open(str(path))
                    break
                except Exception as e:  # the runtime rejected the file: rebuild it, then give up
                    self.graphs.discard(variant)
                    if attempt:
                        raise BackendError(
                            f"{_LABEL[self.name]} cannot load the exported graph: {_first_line(e)}"
                        ) from None
        return self._sessions[variant]

    def __call__(self, x: torch.Tensor, stats: list[torch.Tensor] | None = None) -> torch.Tensor:
        feeds = {"input": _to_numpy(x)}
        if stats is not None:
            feeds.update({n: _to_numpy(s) for n, s in zip(self.stat_names, stats)})
        try:
            out = self._run(self.session("plain" if stats is None else "frozen"), feeds)
        except BackendError:
            raise
        except Exception as e:
            raise BackendError(f"{_LABEL[self.name]} failed: {_first_line(e)}") from None
        return torch.from_numpy(out[0])

    def statistics(self, reference: torch.Tensor) -> list[torch.Tensor]:
        self.session("frozen")  # surface an export failure before any tile runs
        try:
            out = self._run(self.session("record"), {"input": _to_numpy(reference)})
        except BackendError:
            raise
        except Exception as e:
            raise BackendError(f"{_LABEL[self.name]} failed: {_first_line(e)}") from None
        return [torch.from_numpy(a) for a in out]

    @abstractmethod
    def _open(self, path: str):
        """The runtime's compiled graph for the ONNX file at `path`."""

    @abstractmethod
    def _run(self, session, feeds: dict) -> list[np.ndarray]:
        """The graph's outputs for the named input arrays."""


class OnnxRuntimeBackend(RuntimeBackend):
    """ONNX Runtime's CPU execution provider: fp32, or int8 (a quantised graph, whose
    DequantizeLinear -> Conv -> QuantizeLinear groups it fuses into integer convolutions)."""

    name = "onnxruntime"

    def _open(self, path: str):
        ort = load_runtime("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: the engine's decode and encode
        # threads share these cores (same speed for the network, measured in backends.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The graph's bytes, not its name: ONNX Runtime refuses a path that is not valid UTF-8
        # (a cache folder under a Latin-1 home folder on Linux).
        with open(path, "rb") as f:
            return ort.InferenceSession(f.read(), options, providers=["CPUExecutionProvider"])

    def _run(self, session, feeds):
        return session.run(None, feeds)


class OpenVINOBackend(RuntimeBackend):
    """OpenVINO's CPU plugin: fp32, bf16 where the CPU has it natively, or int8 (the same
    quantised graph as ONNX Runtime's; its low-precision passes run the convolutions in int8)."""

    name = "openvino"

    def _open(self, path: str):
        config = {
            "INFERENCE_NUM_THREADS": self.threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            # Explicit: on CPUs with native bf16 OpenVINO's default would be bf16 (for the
            # layers of an int8 graph left unquantised too).
            "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
        }
        return _openvino_core().compile_model(path, "CPU", config)

    def _run(self, compiled, feeds):
        result = compiled(feeds)  # outputs are copied out of the request (share_outputs=False)
        return [result[out] for out in compiled.outputs]


RUNTIME_CLASSES = {"onnxruntime": OnnxRuntimeBackend, "openvino": OpenVINOBackend}


def label(backend) -> str:
    """'openvino', 'openvino bf16', 'onnxruntime int8', 'torch fp16': the name, and the
    precision when not fp32."""
    return backend.name if backend.precision == "fp32" else f"{backend.name} {backend.precision}"
