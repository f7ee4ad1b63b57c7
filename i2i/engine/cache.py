"""The on-disk cache: exported ONNX graphs, and what the engine measured about backends.

Folder: $I2I_CACHE_DIR if set, else the user's cache folder from platformdirs
($XDG_CACHE_HOME/i2i or ~/.cache/i2i on Linux). Layout:

    onnx/KEY.onnx   an exported graph; KEY hashes the checkpoint's content, the graph variant,
                    the opset, and torch's and the runtimes' versions (backends.graph_key)
    onnx/KEY.json   its sha256 and key: an entry whose bytes do not match is rebuilt, never used
    measured.json   remembered backend checks and choices (see selection.py), keyed by model,
                    machine, thread count and runtime versions

Every file is written to a temporary name and renamed, so a crash or a second process
never leaves a half-written entry under a real name.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ..files import atomic_path, atomic_write_bytes

CACHE_ENV = "I2I_CACHE_DIR"
RUNTIMES = ("onnxruntime", "openvino")
"""The runtimes besides torch that run an exported graph (engine/backends.py)."""


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("i2i", appauthor=False))


# ---- keys ----------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path) -> str:
    st = os.stat(path)
    return _file_sha256(str(path), st.st_mtime_ns, st.st_size)


def _source_sha256(cls: type) -> str:
    """The source file defining the network class: a code change makes a new key."""
    try:
        return file_sha256(inspect.getsourcefile(cls))
    except (TypeError, OSError):
        return cls.__module__ + "." + cls.__qualname__


def model_key(model, *, weights: bool = True) -> str:
    """Content hash of a LoadedModel: its weights, architecture, task and network code.

    The weights are read from the module itself (not the file), so a model changed in memory
    or loaded from a rewritten checkpoint gets a new key. weights=False: the same without the
    weights' values (their names, types and shapes stay), for what the values cannot change,
    such as a backend's speed.
    """
    import torch

    digest = hashlib.sha256()
    info = model.info
    digest.update(json.dumps([info.arch, info.options, info.task.to_dict()], sort_keys=True, default=str).encode())
    digest.update(_source_sha256(type(model.module)).encode())
    if not weights:  # two classes of one file with the same weights' shapes are not one network
        digest.update(f"{type(model.module).__module__}.{type(model.module).__qualname__}".encode())
    for name, tensor in model.module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        if weights:
            digest.update(t.numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:32]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The instruction-set flags /proc/cpuinfo lists (empty where there is none: not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


INT8_DOT = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm"})
"""Flags of 8-bit dot-product instructions that accumulate without saturating (VNNI, AMX, Arm's
dot product): with them quantised weights keep all 8 bits (quantize.py)."""


def native_int8() -> bool:
    """Whether this CPU multiplies 8-bit integers natively: AVX2 (or later) on x86, the dot-product
    instructions on Arm (every Apple CPU has them). ONNX Runtime's and OpenVINO's int8 kernels need
    no more; on an older CPU int8 would run slower than fp32."""
    flags = cpu_flags()
    if flags:
        return bool(flags & ({"avx2", "avx512bw"} | INT8_DOT))
    return platform.system() == "Darwin" and platform.machine() == "arm64"


# ---- files ---------------------------------------------------------------------------------


def cached_file(key: str, suffix: str, build: Callable[[Path], None]) -> Path:
    """The cache entry onnx/KEY.SUFFIX, built by `build(path)` when absent or corrupt."""
    folder = cache_dir() / "onnx"
    path, record = folder / f"{key}{suffix}", folder / f"{key}.json"
    if _intact(path, record, key):
        return path
    with atomic_path(path) as tmp:
        build(tmp)
    entry = {"key": key, "sha256": file_sha256(path), "bytes": path.stat().st_size}
    atomic_write_bytes(json.dumps(entry).encode(), record)
    return path


def _intact(path: Path, record: Path, key: str) -> bool:
    try:
        entry = json.loads(record.read_text())
        return entry.get("key") == key and entry.get("sha256") == file_sha256(path)
    except (OSError, ValueError, AttributeError):
        return False


def discard(key: str, suffix: str) -> None:
    """Drop an entry a runtime could not read, so the next use rebuilds it."""
    folder = cache_dir() / "onnx"
    for p in (folder / f"{key}{suffix}", folder / f"{key}.json"):
        try:
            p.unlink(missing_ok=True)
        except OSError:  # a read-only cache folder: the entry stays, and is checked again on use
            pass


# ---- measurements --------------------------------------------------------------------------


def _measured_path() -> Path:
    return cache_dir() / "measured.json"


def read_measured() -> dict:
    try:
        data = json.loads(_measured_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def remembered(checkpoint_sha256: str) -> list[dict]:
    """What the engine measured and ran for a checkpoint file on this machine (for `i2i info`):
    one entry per size class and --backend/--precision request."""
    found = []
    for record in _records_here():
        if record.get("file_sha256") != checkpoint_sha256:
            continue
        seconds = {name: r.get("seconds") for name, r in record.get("results", {}).items() if r.get("ok")}
        refused = {
            name: r.get("problem")
            for name, r in record.get("results", {}).items()
            if not r.get("ok") and not r.get("unchecked")  # unchecked: never picked, so never checked
        }
        for request, ran in sorted(record.get("chosen", {}).items()):
            found.append(
                {
                    "size_class": record.get("size_class"),
                    "request": request,
                    "chosen": ran,
                    "threads": record.get("threads"),
                    "seconds": seconds,
                    "refused": refused,
                    "crop": record.get("crop"),
                    "speeds_of": record.get("speeds_of"),
                    "date": record.get("date"),
                }
            )
    return sorted(found, key=lambda r: (str(r["size_class"]), str(r["request"])))


def installed_versions() -> dict[str, str]:
    """torch and each installed runtime with its version, read from the package metadata, so
    nothing is imported (`i2i info` starts in a fraction of a second); "(native bf16)" beside
    OpenVINO once a measurement on this CPU ran it in bf16 (offered only where it is native)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", *RUNTIMES):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    if "openvino" in found and any("openvino bf16" in r.get("results", {}) for r in _records_here()):
        found["openvino"] += " (native bf16)"
    return found


def native_precisions() -> list[str]:
    """The CPU precisions --precision auto chooses among on this machine (for `i2i info`): int8
    where the CPU has 8-bit multiply-adds (with the flags that show it), bf16 where a measurement
    ran OpenVINO bf16 (offered only where the CPU has it natively)."""
    found = ["fp32"]
    if any("openvino bf16" in r.get("results", {}) for r in _records_here()):
        found.append("bf16")
    if native_int8():
        dot = sorted(cpu_flags() & INT8_DOT)
        found.append(f"int8 ({', '.join(dot)})" if dot else "int8")
    return found


def _records_here() -> list[dict]:
    """The measurement records taken on this CPU (their key's fourth part names it)."""
    here = cpu_name()
    return [r for k, r in read_measured().items() if isinstance(r, dict) and k.split("|")[3:4] == [here]]


def remember(key: str, value: dict) -> None:
    """Store one measurement (read-modify-write; a lost race only means measuring again)."""
    data = read_measured()
    data[key] = value
    try:
        atomic_write_bytes(json.dumps(data, indent=1, sort_keys=True).encode(), _measured_path())
    except OSError:
        pass  # a read-only cache folder costs a measurement per run, nothing else
