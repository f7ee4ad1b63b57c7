"""Small test clips made from real photos: a slow pan and zoom, optional sensor noise, a cut to
another photo, an audio tone and subtitles, in any of the containers i2i reads.

Used by tests/test_video.py and benchmarks/video.py (the flicker figure needs a clip whose
motion is known exactly: an integer pan with no zoom).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

AUDIO_CODEC = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus", ".avi": "pcm_s16le"}
SUBTITLE_CODEC = {".mkv": "subrip", ".mp4": "mov_text", ".mov": "mov_text", ".webm": "webvtt"}
VIDEO_CODEC = {".webm": "libvpx-vp9"}


def load_photo(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def pan_zoom(
    photo: np.ndarray,
    size: tuple[int, int],
    frames: int,
    *,
    pan: tuple[float, float] = (2, 0),
    zoom: float = 1.0,
    start: tuple[float, float] = (0, 0),
    noise: float = 0.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """`frames` views (H, W, 3) uint8 of `photo`, moving `pan` px per frame (in photo pixels)
    and narrowing the view by the factor `zoom` per frame; size = (width, height) of the clip.

    With zoom 1 and an integer pan each frame is an exact crop (no resampling), so the motion
    between frames is known to the pixel. `noise`: sigma of Gaussian sensor noise in 8-bit levels,
    drawn afresh for every frame.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    out = []
    pil = Image.fromarray(photo)
    for t in range(frames):
        x0, y0 = start[0] + pan[0] * t, start[1] + pan[1] * t
        if zoom == 1.0 and float(x0).is_integer() and float(y0).is_integer():
            view = photo[int(y0) : int(y0) + h, int(x0) : int(x0) + w]
            if view.shape[:2] != (h, w):
                raise ValueError(f"photo {photo.shape[1]}x{photo.shape[0]} too small for this pan")
        else:
            s = zoom**-t  # the view's side, relative to the clip's
            cx, cy = x0 + w / 2, y0 + h / 2
            box = (cx - w * s / 2, cy - h * s / 2, cx + w * s / 2, cy + h * s / 2)
            view = np.asarray(pil.resize((w, h), Image.BICUBIC, box=box))
        if noise:
            view = np.clip(view + rng.normal(0, noise, view.shape), 0, 255).round().astype(np.uint8)
        out.append(np.ascontiguousarray(view))
    return out


def tone(seconds: float, rate: int = 48000, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.25 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write_clip(
    path,
    frames: list[np.ndarray],
    *,
    fps: float = 24,
    times_ms: list[int] | None = None,
    audio: bool = True,
    subtitles: list[tuple[float, float, str]] | None = None,
    rotation: int = 0,
    sar: Fraction | None = None,
    codec: str | None = None,
) -> Path:
    """Encode `frames` (H, W, 3 uint8) into `path`, its container chosen by the extension.

    times_ms: each frame's start in milliseconds (variable frame rate; the time base becomes
    1/1000); otherwise a constant `fps`. audio: a 440 Hz tone as long as the video.
    subtitles: (start s, end s, text) cues. rotation: display matrix rotation in degrees.
    """
    path = Path(path)
    ext = path.suffix.lower()
    h, w = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    if times_ms is not None:
        time_base = Fraction(1, 1000)
        starts = list(times_ms)
        ends = starts[1:] + [starts[-1] + (starts[-1] - starts[-2] if len(starts) > 1 else 40)]
    else:
        time_base = 1 / rate
        starts = list(range(len(frames)))
        ends = [s + 1 for s in starts]
    seconds = float(ends[-1] * time_base)
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec or VIDEO_CODEC.get(ext, "libx264"), rate=rate)
        v.width, v.height = w, h
        v.pix_fmt = "bgr0" if v.codec_context.name == "ffv1" else "yuv420p"  # FFV1: lossless RGB
        v.time_base = v.codec_context.time_base = time_base
        if ext == ".avi":
            v.codec_context.max_b_frames = 0
        if rotation:
            v.set_display_rotation(rotation)
        if sar:
            v.codec_context.sample_aspect_ratio = sar
        a = None
        if audio:
            a = out.add_stream(AUDIO_CODEC[ext], rate=48000)
            a.layout = "mono"
        s = None
        if subtitles:
            s = out.add_mux_stream(SUBTITLE_CODEC[ext])
            s.time_base = Fraction(1, 1000)
            s.metadata["language"] = "eng"
        for frame, start, end in zip(frames, starts, ends):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.duration, vf.time_base = start, end - start, time_base
            out.mux(v.encode(vf))
        out.mux(v.encode(None))
        if a is not None:
            _write_audio(out, a, tone(seconds))
        for start, end, text in subtitles or []:
            payload = text.encode()
            if SUBTITLE_CODEC[ext] == "mov_text":
                payload = len(payload).to_bytes(2, "big") + payload
            p = av.Packet(payload)
            p.stream, p.time_base = s, Fraction(1, 1000)
            p.pts = p.dts = round(start * 1000)
            p.duration = round((end - start) * 1000)
            out.mux(p)
    return path


def _write_audio(out, stream, samples: np.ndarray):
    if not stream.codec_context.is_open:
        stream.codec_context.open()  # to learn the encoder's frame size
    step = stream.codec_context.frame_size or 1024
    fmt = "s16" if stream.codec_context.name == "pcm_s16le" else "flt"
    for k in range(0, len(samples), step):
        chunk = samples[None, k : k + step]
        if fmt == "s16":
            chunk = (chunk * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt, layout="mono")
        frame.sample_rate, frame.pts = 48000, k
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def read_frames(path) -> list[np.ndarray]:
    """All frames of a video as (H, W, 3) uint8 RGB (for checking outputs)."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def probe(path) -> dict:
    """What tests check of a video: the first video stream's codec, size, pixel format, sample
    aspect ratio, rotation, frame times and the last frame's end (s); every audio/subtitle packet
    as (time s, bytes)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {
            "format": c.format.name,
            "codec": v.codec_context.name,
            "size": (v.width, v.height),
            "pix_fmt": v.codec_context.pix_fmt,
            "sar": v.sample_aspect_ratio,
            "rotation": 0,
            "streams": [s.type for s in c.streams],
            "packets": {},
        }
        times, end = [], 0.0
        for i, f in enumerate(c.decode(video=0)):
            if i == 0:
                info["rotation"] = f.rotation
            times.append(float(f.pts * v.time_base))
            end = float((f.pts + (f.duration or 0)) * v.time_base)
        info["times"], info["end"] = times, end
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.stream.type in ("audio", "subtitle") and p.size:
                info["packets"].setdefault(p.stream.type, []).append((round(float(p.pts * p.time_base), 3), bytes(p)))
    return info
