"""Clips: speed, and flicker before and after temporal consistency.

The clip: a 640x360 window panning 2 px per frame across a real photo (Set14 monarch, 768x512),
with Gaussian sensor noise drawn afresh per frame, 24 fps. Everything runs through the clip
pipeline `i2i upscale/stylize/colorize` use (decode, model, temporal consistency, encode), in
process, with the commands' default options.

1. Speed: frames per second of `upscale --scale 2` and `stylize` on the clip as H.264 (decode and
   encode included), and the same model alone on the decoded frames in batches (no decoding,
   encoding or temporal work): their ratio is what the pipeline costs on top of the network.
2. Flicker: the mean absolute difference between consecutive frames after compensating the known
   pan (frame t+1 against frame t shifted 2 px, 8 px margins left out), of the output divided by
   the same of the input; for stylize and colorize, frame by frame (--no-temporal) and with
   temporal consistency on. Clips are stored losslessly here (FFV1 RGB in and out): H.264 at its
   default quality removes nearly all of the input's noise flicker on a pure pan (0.09 levels
   left of 2.26), which makes the ratio meaningless. Two noise levels: sigma 2 (the issue's
   words) and sigma 0.5, at which frame-by-frame stylize and colorize flicker 8.4x and 3.6x the
   input, close to the issue's 8.7x and 5.0x. Targets (issue 20): stylize <= 2.5x and colorize
   <= 1.5x the input, and at least 3x lower than frame by frame.
   Colorize keeps the input's own lightness, so its flicker cannot fall below the input's L
   flicker (about 1x): the chroma flicker (mean |change| of Lab a, b) is given on its own.
3. Sharpness kept: mean gradient magnitude of the temporally consistent output over that of the
   frame-by-frame output (1.0 = nothing smeared or blurred), a guard on the smoothing.

Run: python benchmarks/video.py [--frames 32] [--speed-frames 8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.clips import load_photo, pan_zoom, read_frames, write_clip  # noqa: E402
from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.color import rgb_to_lab  # noqa: E402
from i2i.data.video_io import EncoderSettings  # noqa: E402
from i2i.engine.adapters import ColorizeAdapter, RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402
from i2i.engine.inputs import Job, OutputOptions  # noqa: E402
from i2i.engine.video import ClipProcessor, VideoOptions, _image_data  # noqa: E402

PAN = 2  # pixels per frame, to the right: content moves left
MARGIN = 8
LOSSLESS = EncoderSettings(codec="ffv1", pix_fmt="bgr0")
TARGET = {"stylize": 2.5, "colorize": 1.5}


def flicker(frames, pan: int = PAN, margin: int = MARGIN) -> float:
    """Mean |frame[t+1](x) - frame[t](x + pan)| over t and x: (T, H, W, C) values in, same units out."""
    a = np.asarray(frames, dtype=np.float32)
    later = a[1:, margin:-margin, margin : -margin - pan]
    earlier = a[:-1, margin:-margin, margin + pan : -margin]
    return float(np.abs(later - earlier).mean())


def chroma(frames) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, H, W, 2) Lab a, b."""
    x = torch.from_numpy(np.asarray(frames, dtype=np.float32) / 255).permute(0, 3, 1, 2)
    return rgb_to_lab(x)[:, 1:].permute(0, 2, 3, 1).numpy()


def sharpness(frames) -> float:
    """Mean gradient magnitude (8-bit levels per pixel) of the frames' grey values."""
    g = np.asarray(frames, dtype=np.float32).mean(axis=3)
    return float(np.hypot(np.diff(g, axis=1)[:, :, :-1], np.diff(g, axis=2)[:, :-1, :]).mean())


def make_clip(path: Path, frames: int, noise: float, codec: str | None = None) -> Path:
    photo = load_photo(DATA / "sr/val/Set14/monarch.png")
    return write_clip(
        path, pan_zoom(photo, (640, 360), frames, pan=(PAN, 0), start=(0, 76), noise=noise), fps=24, codec=codec
    )


def engine_for(model_path: Path, adapter_for) -> Engine:
    model = load_model(model_path)
    return Engine(model, adapter_for(model), device="cpu")


def run_clip(engine: Engine, clip: Path, out: Path, video: VideoOptions) -> tuple[float, Path]:
    """-> (frames per second, output path) of one clip through the clip pipeline."""
    start = time.perf_counter()
    [result] = ClipProcessor(engine, video).process(
        [Job(str(clip), Path(clip.name))], OutputOptions(out=str(out), overwrite=True)
    )
    seconds = time.perf_counter() - start
    assert result.ok, result.error
    return result.frames / seconds, Path(result.output)


def model_only_fps(engine: Engine, frames: list[np.ndarray]) -> float:
    """The network alone on already decoded frames, in the engine's batches."""
    x = [engine.adapter.prepare(_image_data(f)) for f in frames]
    start = time.perf_counter()
    for i in range(0, len(x), engine.batch_size):
        engine.runner(torch.stack(x[i : i + engine.batch_size]))
    return len(x) / (time.perf_counter() - start)


def speed(work: Path, n: int, upscale: Path, style: Path) -> None:
    clip = make_clip(work / "pan_h264.mp4", n, noise=2.0)
    frames = read_frames(clip)
    for name, path, adapter_for in (
        ("upscale x2", upscale, lambda m: RGBAdapter(task=m.task, keep_gray=True)),
        ("stylize", style, lambda m: RGBAdapter(task=m.task)),
    ):
        engine = engine_for(path, adapter_for)
        alone = model_only_fps(engine, frames)
        fps, _ = run_clip(engine, clip, work / name.replace(" ", "-"), VideoOptions())
        print(
            f"{name}: {fps:.3f} fps through the clip pipeline ({n} frames 640x360, H.264 in and out), "
            f"model alone {alone:.3f} fps: ratio {fps / alone:.2f}"
        )
        emit(f"video {name} 640x360 fps", fps, "fps")
        emit(f"video {name} pipeline / model alone", fps / alone, "x", "close to 1")


def consistency(work: Path, n: int, noise: float, style: Path, colorize: Path) -> None:
    clip = make_clip(work / f"pan_sigma{noise}.mkv", n, noise=noise, codec="ffv1")
    source = read_frames(clip)
    base, base_ab = flicker(source), flicker(chroma(source))
    print(
        f"sigma {noise}: input {len(source)} frames 640x360 (FFV1), flicker {base:.3f} levels, "
        f"chroma {base_ab:.3f} Lab units"
    )
    emit(f"video sigma {noise} input flicker", base, "levels")
    for name, path, adapter_for in (
        ("stylize", style, lambda m: RGBAdapter(task=m.task)),
        ("colorize", colorize, lambda m: ColorizeAdapter(task=m.task, multiple=m.spec.size_multiple(m.config))),
    ):
        engine = engine_for(path, adapter_for)
        _, plain = run_clip(
            engine, clip, work / f"{name}-sigma{noise}-frame-by-frame", VideoOptions(encoder=LOSSLESS, consistent=False)
        )
        _, smooth = run_clip(engine, clip, work / f"{name}-sigma{noise}-temporal", VideoOptions(encoder=LOSSLESS))
        plain_frames, smooth_frames = read_frames(plain), read_frames(smooth)
        off, on = flicker(plain_frames) / base, flicker(smooth_frames) / base
        kept = sharpness(smooth_frames) / sharpness(plain_frames)
        print(
            f"  {name}: flicker frame by frame {off:.2f}x the input's, temporal {on:.2f}x "
            f"({off / on:.1f}x lower); sharpness kept {kept:.3f}"
        )
        tag = f"video sigma {noise} {name}"
        emit(f"{tag} flicker frame by frame", off, "x input")
        emit(f"{tag} flicker temporal", on, "x input", f"<= {TARGET[name]}")
        emit(f"{tag} flicker reduction", off / on, "x", ">= 3")
        emit(f"{tag} sharpness kept", kept, "", "close to 1")
        if name == "colorize":
            off_ab = flicker(chroma(plain_frames)) / base_ab
            on_ab = flicker(chroma(smooth_frames)) / base_ab
            print(
                f"  colorize chroma: frame by frame {off_ab:.2f}x the input's, temporal {on_ab:.2f}x "
                f"({off_ab / on_ab:.1f}x lower)"
            )
            emit(f"{tag} chroma flicker frame by frame", off_ab, "x input")
            emit(f"{tag} chroma flicker temporal", on_ab, "x input")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=32, help="frames of the flicker clips")
    parser.add_argument("--speed-frames", type=int, default=8, help="frames of the speed clip")
    parser.add_argument("--keep", type=Path, help="keep the clips in this folder (to look at them)")
    args = parser.parse_args()
    style = WEIGHTS / "style-starry-night.safetensors"
    colorize = WEIGHTS / "colorize.safetensors"
    upscale = WEIGHTS / "upscale-x2.safetensors"
    print(f"# video benchmark on {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        speed(work, args.speed_frames, upscale, style)
        for noise in (2.0, 0.5):
            consistency(work, args.frames, noise, style, colorize)


if __name__ == "__main__":
    main()
