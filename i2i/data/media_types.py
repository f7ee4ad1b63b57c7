"""Which files are clips (videos, animated images): cheap checks, without loading FFmpeg or
OpenCV, so that deciding costs an image-only job nothing."""

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


def split_clips(jobs: Iterable[J]) -> tuple[list[J], list[J]]:
    """Jobs (anything with a .source path, '-' for stdin) -> (still images, clips)."""
    images, clips = [], []
    for job in jobs:
        (clips if job.source != "-" and is_clip_path(job.source) else images).append(job)
    return images, clips
