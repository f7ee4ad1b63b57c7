"""The options every inference command takes for clips (video files and animated images).

`@clip_options()` adds --codec, --crf, --pix-fmt, --temporal/--no-temporal, --norm-window,
--smoothing and --cut-threshold to a command, built from ClipOptions' fields as every command's
options are (cli/options.py), and hands the command one typed VideoOptions as its `video`
argument, so the commands' own signatures stay about images.
"""

from dataclasses import dataclass

from ..engine.options import option
from .options import dataclass_parameters, dataclass_values, handing

NAMES = ("codec", "crf", "pix_fmt", "temporal", "norm_window", "smoothing", "cut_threshold")
VIDEO = "Video"  # the help panel


@dataclass(frozen=True, kw_only=True)
class ClipOptions:
    """The clip options as the command line takes them (flat), made into the engine's nested
    VideoOptions by video(). The defaults are VideoOptions()'s (tests/test_options.py holds them
    equal): torch-free, so that the command line is built without importing the video stack."""

    codec: str | None = option(
        None,
        "Video encoder: libx264 (default; libvpx-vp9 for .webm), libx265, libsvtav1, mpeg4...",
        metavar="CODEC",
        panel=VIDEO,
    )
    crf: int | None = option(
        None, "Constant rate factor, lower = better (default: 18 for x264, 30 for VP9).", min=0, max=63, panel=VIDEO
    )
    pix_fmt: str | None = option(
        None, "Output pixel format (default yuv420p; e.g. yuv444p, yuv420p10le).", metavar="FORMAT", panel=VIDEO
    )
    temporal: bool = option(
        True,
        "Keep clips consistent in time (shared normalisation, motion-compensated smoothing); "
        "--no-temporal runs every frame on its own.",
        flag="--temporal/--no-temporal",
        panel=VIDEO,
    )
    norm_window: int = option(
        16,
        "Frames over which instance-norm statistics are pooled, reset at shot cuts (1 = per frame).",
        min=1,
        panel=VIDEO,
    )
    smoothing: float = option(
        0.8,
        "Weight of the motion-compensated previous frame in each output frame (0 = off).",
        min=0.0,
        max=0.99,
        panel=VIDEO,
    )
    cut_threshold: float = option(
        0.4,
        "Fraction of a frame that motion must leave unexplained to count as a shot cut.",
        min=0.01,
        max=1.0,
        panel=VIDEO,
    )

    def video(self):
        """The engine's VideoOptions (engine/video.py). Raises UsageError for values the encoder
        or the temporal options refuse."""
        from ..data.video_io import EncoderSettings
        from ..engine.options import TemporalOptions, VideoOptions

        return VideoOptions(
            encoder=EncoderSettings(codec=self.codec, crf=self.crf, pix_fmt=self.pix_fmt),
            temporal=TemporalOptions(
                norm_window=self.norm_window, smoothing=self.smoothing, cut_threshold=self.cut_threshold
            ),
            consistent=self.temporal,
        )


def clip_options(smoothing: float = ClipOptions.smoothing):
    """Decorator for an inference command: adds the clip options (smoothing: the command's
    default for --smoothing); the command gets `video`, a VideoOptions."""
    added = dataclass_parameters(ClipOptions, defaults={"smoothing": smoothing})
    return handing("video", added, video_options)


def video_options(values: dict):
    """The VideoOptions of the clip options' values, keyed by NAMES (the web page passes the
    command line's defaults)."""
    return ClipOptions(**dataclass_values(ClipOptions, values)).video()
