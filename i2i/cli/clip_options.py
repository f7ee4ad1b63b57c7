"""The options every inference command takes for clips (video files and animated images).

`@clip_options()` adds --codec, --crf, --pix-fmt, --temporal/--no-temporal, --norm-window,
--smoothing and --cut-threshold to a command and hands the command one typed VideoOptions as its
`video` argument, so the commands' own signatures stay about images.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from .options import handing

P = inspect.Parameter
NAMES = ("codec", "crf", "pix_fmt", "temporal", "norm_window", "smoothing", "cut_threshold")


def _parameters(smoothing: float) -> list[inspect.Parameter]:
    def option(name, annotation, default, *flags, **kwargs):
        return P(
            name, P.KEYWORD_ONLY, default=default, annotation=Annotated[annotation, typer.Option(*flags, **kwargs)]
        )

    return [
        option(
            "codec",
            str | None,
            None,
            rich_help_panel="Video",
            metavar="CODEC",
            help="Video encoder: libx264 (default; libvpx-vp9 for .webm), libx265, libsvtav1, mpeg4...",
        ),
        option(
            "crf",
            int | None,
            None,
            min=0,
            max=63,
            rich_help_panel="Video",
            help="Constant rate factor, lower = better (default: 18 for x264, 30 for VP9).",
        ),
        option(
            "pix_fmt",
            str | None,
            None,
            rich_help_panel="Video",
            metavar="FORMAT",
            help="Output pixel format (default yuv420p; e.g. yuv444p, yuv420p10le).",
        ),
        option(
            "temporal",
            bool,
            True,
            "--temporal/--no-temporal",
            rich_help_panel="Video",
            help="Keep clips consistent in time (shared normalisation, motion-compensated smoothing); "
            "--no-temporal runs every frame on its own.",
        ),
        option(
            "norm_window",
            int,
            16,
            min=1,
            rich_help_panel="Video",
            help="Frames over which instance-norm statistics are pooled, reset at shot cuts (1 = per frame).",
        ),
        option(
            "smoothing",
            float,
            smoothing,
            min=0.0,
            max=0.99,
            rich_help_panel="Video",
            help="Weight of the motion-compensated previous frame in each output frame (0 = off).",
        ),
        option(
            "cut_threshold",
            float,
            0.4,
            min=0.01,
            max=1.0,
            rich_help_panel="Video",
            help="Fraction of a frame that motion must leave unexplained to count as a shot cut.",
        ),
    ]


def clip_options(smoothing: float = 0.8):
    """Decorator for an inference command: adds the clip options; the command gets `video`."""
    return handing("video", _parameters(smoothing), video_options)


def video_options(values: dict):
    """The VideoOptions of the clip options' values, keyed by NAMES (the web page passes the
    command line's defaults)."""
    from ..data.video_io import EncoderSettings
    from ..engine.temporal import TemporalOptions
    from ..engine.video import VideoOptions

    return VideoOptions(
        encoder=EncoderSettings(codec=values["codec"], crf=values["crf"], pix_fmt=values["pix_fmt"]),
        temporal=TemporalOptions(
            norm_window=values["norm_window"],
            smoothing=values["smoothing"],
            cut_threshold=values["cut_threshold"],
        ),
        consistent=values["temporal"],
    )
