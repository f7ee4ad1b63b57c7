"""Which files are clips (videos, animated images): cheap checks, without loading FFmpeg or
OpenCV, so that deciding costs an image-only job nothing (FFmpeg is asked only about bytes on
stdin that are not an image)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from PIL import Image

from .image_io import is_image_path

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
ANIMATED_SUFFIXES = {".gif": "GIF", ".webp": "WEBP", ".png": "PNG", ".apng": "PNG"}
"""Still-image formats that can also hold an animation, and their Pillow format names."""
CLIP_SUFFIXES = VIDEO_SUFFIXES | set(ANIMATED_SUFFIXES)

J = TypeVar("J")


def is_video_path(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_animated_image(path) -> bool:
    """Whether `path` is a GIF, WebP or PNG with more than one frame (a header probe)."""
    if Path(path).suffix.lower() not in ANIMATED_SUFFIXES:
        return False
    try:
        with Image.open(path) as im:
            return bool(getattr(im, "is_animated", False))
    except Exception:  # unreadable: the still-image path reports it
        return False


def is_media_path(path) -> bool:
    """What folders and globs pick up: images (by extension) and video files."""
    return is_image_path(path) or Path(path).suffix.lower() in CLIP_SUFFIXES


def is_clip_path(path) -> bool:
    """A video file, or a GIF/WebP/PNG with more than one frame."""
    return is_video_path(path) or is_animated_image(path)


CONTAINER_SUFFIX = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".mkv", "avi": ".avi"}
"""FFmpeg's demuxer names -> the extension a video given as bytes (stdin) is named with (the
MP4 and Matroska demuxers do not tell MOV from MP4 or WebM from MKV; these hold either's streams)."""


def clip_suffix(data: bytes) -> str | None:
    """The extension of a clip given as bytes (stdin): .gif, .webp or .png for an animated image,
    .mp4, .mkv or .avi for a video with a picture stream; None for a still image or anything else."""
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            animated = bool(getattr(im, "is_animated", False))
            fmt = im.format
        suffixes = {name: ext for ext, name in ANIMATED_SUFFIXES.items() if ext != ".apng"}
        return suffixes.get(fmt) if animated else None
    except Exception:  # not an image Pillow reads: perhaps a video
        pass
    import av

    try:
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            if container.streams.video:
                return CONTAINER_SUFFIX.get(container.format.name)
    except (av.FFmpegError, ValueError, OSError):
        pass
    return None


def split_clips(jobs: Iterable[J]) -> tuple[list[J], list[J]]:
    """Jobs (with .source, a path or '-' for stdin, and .rel, whose extension names what stdin
    holds) -> (still images, clips)."""
    images, clips = [], []
    for job in jobs:
        clip = Path(job.rel).suffix.lower() in CLIP_SUFFIXES if job.source == "-" else is_clip_path(job.source)
        (clips if clip else images).append(job)
    return images, clips
