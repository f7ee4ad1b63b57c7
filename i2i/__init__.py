"""i2i: image-to-image translation with conditional GANs and perceptual losses.

Python API (imports torch on first use; README "Python"):
    from i2i import load_model, Engine, RGBAdapter, read_image

    model = load_model("weights/upscale-x4.safetensors")      # LoadedModel; CheckpointError
    engine = Engine(model, RGBAdapter(task=model.task))       # backend="auto" | "torch" | ...
    big = engine.run_image(read_image("photo.png"))           # ImageData, pixels (H, W, C) in [0, 1]
    export_onnx(model, "model.onnx")   # verified against torch; task metadata in metadata_props
    for r in run_on_ray(model, ["photos/"], "out/", options=RayOptions(actors=2)): print(r.output)
    train("pix2pix", Pix2PixOptions(data="facades/"), METHODS["pix2pix"].loop_options(), "runs/p2p")
"""

from __future__ import annotations

__version__ = "0.1.0"

# name -> (module, attribute): imported on first use, so `import i2i` stays light.
_EXPORTS = {
    "load_model": ("checkpoint", "load_model"),
    "save_model": ("checkpoint", "save_model"),
    "LoadedModel": ("checkpoint", "LoadedModel"),
    "ModelInfo": ("checkpoint", "ModelInfo"),
    "CheckpointError": ("errors", "CheckpointError"),
    "Engine": ("engine.engine", "Engine"),
    "RGBAdapter": ("engine.adapters", "RGBAdapter"),
    "ColorizeAdapter": ("engine.adapters", "ColorizeAdapter"),
    "read_image": ("data.image_io", "read_image"),
    "export_onnx": ("engine.onnx_export", "export_file"),
    "run_on_ray": ("engine.ray_job", "run_on_ray"),
    "RayOptions": ("engine.ray_job", "RayOptions"),
    "train": ("training.api", "train"),
    "resume": ("training.api", "resume"),
    "METHODS": ("training.methods", "METHODS"),
    "LoopOptions": ("training.options", "LoopOptions"),
    "Pix2PixOptions": ("training.options", "Pix2PixOptions"),
    "CycleGANOptions": ("training.options", "CycleGANOptions"),
    "SRGANOptions": ("training.options", "SRGANOptions"),
    "StyleOptions": ("training.options", "StyleOptions"),
    "ColorizeOptions": ("training.options", "ColorizeOptions"),
    "DCGANOptions": ("training.options", "DCGANOptions"),
    "DCGANEncoderOptions": ("training.options", "DCGANEncoderOptions"),
}

__all__ = [*_EXPORTS, "list_archs"]


def list_archs() -> list[str]:
    """The registered architectures' names (archs/registry.py)."""
    from .archs.registry import ARCHS

    return list(ARCHS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'i2i' has no attribute {name!r}")
    import importlib

    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(f".{module}", __name__), attribute)
