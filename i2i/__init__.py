"""i2i: image-to-image translation with conditional GANs and perceptual losses.

Python API (imports torch on first use):
    from i2i import load_model, save_model, Engine, list_archs, train, export_onnx

    Engine(model, adapter, backend="auto" | "torch" | "onnxruntime" | "openvino", precision=...)
    export_onnx(model, "model.onnx")   # verified against torch; task metadata in metadata_props
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load_model", "save_model", "Engine", "list_archs", "train", "resume", "export_onnx"]


def __getattr__(name):
    if name in ("load_model", "save_model"):
        from . import checkpoint
        return getattr(checkpoint, name)
    if name == "Engine":
        from .engine.engine import Engine
        return Engine
    if name == "list_archs":
        from .archs.registry import ARCHS
        return lambda: list(ARCHS)
    if name == "export_onnx":
        from .engine.onnx_export import export_file
        return export_file
    if name in ("train", "resume"):
        from .training import api
        return getattr(api, name)
    raise AttributeError(name)
