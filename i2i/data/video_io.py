"""Video files through PyAV (FFmpeg's libraries): decoded frames out, processed frames in, and
every audio and subtitle stream carried into the output: its packets copied untouched where the
output container holds its codec, else converted to one it holds (CONVERSION), else left out
with a note.

Frames are (H, W, 3) uint8 RGB arrays in the stream's stored orientation; rotation travels as the
output stream's display matrix, so nothing is resampled to turn a portrait phone clip upright.
Timing is kept frame by frame: each output frame carries its input frame's presentation timestamp
and duration in the input stream's time base, so variable frame rate and the audio sync survive.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import ImageError, UsageError
from .media_types import is_video_path  # noqa: F401  (re-exported)

CONTAINER_FORMAT = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
DEFAULT_CODEC = {".webm": "libvpx-vp9"}  # everything else: H.264
FALLBACK_CODEC = "libx264"
DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 30, "libsvtav1": 30}
"""Constant-rate-factor defaults: x264's 18 is the usual 'visually lossless' point (x264 docs;
x265 and SVT-AV1 are a few steps higher for the same look), VP9's 30 is within Google's
recommended 15-35 range for VOD at 640x360 to 1080p (developers.google.com/media/vp9)."""
CODEC_OPTIONS = {
    "libx264": {"preset": "medium"},
    "libx265": {"x265-params": "log-level=error"},  # x265 prints its settings to stderr itself
    # VP9's default 'good' deadline with cpu-used 0 runs about 10x slower than x264 medium;
    # cpu-used 4 with row multithreading is the speed Google recommends for on-demand encodes.
    "libvpx-vp9": {"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
}
COPIED_TYPES = ("audio", "subtitle")
CONVERSION = {
    ("audio", "mp4"): "aac",
    ("audio", "mov"): "aac",
    ("audio", "matroska"): "libopus",
    ("audio", "webm"): "libopus",
    ("audio", "avi"): "pcm_s16le",
    ("subtitle", "mp4"): "mov_text",
    ("subtitle", "mov"): "mov_text",
    ("subtitle", "matroska"): "subrip",
    ("subtitle", "webm"): "webvtt",
}
"""(stream type, container) -> the encoder for a stream whose codec the container cannot hold:
each container's own usual codec (WebM holds only Opus or Vorbis audio and WebVTT text; MP4 and
MOV text subtitles are mov_text; AVI takes PCM at any rate and channel count and holds no
subtitles). Only text subtitles convert; bitmap ones (DVD, PGS) are left out where not held."""
IDENTITY_MATRIX = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)  # FFmpeg display matrix, 16.16 / 2.30 fixed point


@dataclass(frozen=True)
class Frame:
    """One decoded frame and where it sits in time (opaque to all but its writer)."""

    index: int
    pixels: np.ndarray
    """(H, W, 3) uint8 RGB, or (H, W, 4) RGBA for animations with transparency."""
    timing: tuple


@dataclass(frozen=True, kw_only=True)
class EncoderSettings:
    """What the output video stream is encoded with (`--codec`, `--crf`, `--pix-fmt`)."""

    codec: str | None = None
    """FFmpeg encoder name; None: H.264 (libx264), or VP9 (libvpx-vp9) for WebM."""
    crf: int | None = None
    """Constant rate factor (lower = better and bigger); None: the codec's default above."""
    pix_fmt: str | None = None
    """Output pixel format; None: yuv420p where the codec takes it (what players expect)."""

    def __post_init__(self):
        if self.codec is not None:
            _encoder(self.codec)
        if self.crf is not None and self.codec is not None and self.codec not in DEFAULT_CRF:
            raise UsageError(
                f"--crf applies to {', '.join(DEFAULT_CRF)}; {self.codec} has no constant rate factor (leave --crf out)"
            )
        if self.pix_fmt is not None:
            try:
                av.VideoFormat(self.pix_fmt)
            except (ValueError, av.FFmpegError):
                raise UsageError(
                    f"--pix-fmt: unknown pixel format {self.pix_fmt!r} (e.g. yuv420p, yuv444p, yuv420p10le)"
                ) from None

    def resolve(self, ext: str) -> tuple[str, str, dict]:
        """-> (encoder, pixel format, encoder options) for an output with this extension."""
        codec = self.codec or DEFAULT_CODEC.get(ext, FALLBACK_CODEC)
        formats = [f.name for f in (_encoder(codec).video_formats or [])]
        pix_fmt = self.pix_fmt or ("yuv420p" if "yuv420p" in formats or not formats else formats[0])
        if formats and pix_fmt not in formats:
            raise UsageError(f"--pix-fmt {pix_fmt}: {codec} takes {', '.join(formats)}")
        options = dict(CODEC_OPTIONS.get(codec, {}))
        if codec in DEFAULT_CRF:
            options["crf"] = str(self.crf if self.crf is not None else DEFAULT_CRF[codec])
        return codec, pix_fmt, options


def _encoder(name: str) -> av.codec.Codec:
    try:
        codec = av.codec.Codec(name, "w")
    except (ValueError, av.FFmpegError):
        raise UsageError(
            f"--codec: no video encoder {name!r} in this FFmpeg build "
            "(e.g. libx264, libx265, libvpx-vp9, libsvtav1, mpeg4)"
        ) from None
    if codec.type != "video":
        raise UsageError(f"--codec: {name} is not a video encoder")
    return codec


def even_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The largest size <= (width, height) that the pixel format's chroma subsampling allows
    (yuv420p needs even width and height): the odd last row or column is cropped."""
    fmt = av.VideoFormat(pix_fmt, 4, 4)
    step_w = 4 // min(c.width for c in fmt.components)
    step_h = 4 // min(c.height for c in fmt.components)
    return max(step_w, width // step_w * step_w), max(step_h, height // step_h * step_h)


def _reason(e: Exception) -> str:
    """An FFmpeg error as a short phrase (without PyAV's errno and file name decoration)."""
    text = getattr(e, "strerror", None) or str(e)
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text).split(": '")[0].strip()


class VideoReader:
    """Demuxes and decodes one video file: `events()` yields Frames and the packets to copy."""

    def __init__(self, path, *, max_pixels: int, name: str | None = None):
        """path: a file, or a binary file object (stdin's bytes); name: what messages call it
        (default: the path)."""
        self.path = name or str(path)
        try:
            self.container = av.open(path if hasattr(path, "read") else str(path), metadata_errors="ignore")
        except av.FFmpegError as e:
            raise ImageError(self.path, f"not a readable video, truncated or corrupt ({_reason(e)})") from None
        try:
            self._inspect(max_pixels)
        except BaseException:
            self.container.close()
            raise

    def _inspect(self, max_pixels: int):
        video = [s for s in self.container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not video:
            raise ImageError(self.path, "no video stream in this file")
        self.stream = video[0]
        self.stream.thread_type = "AUTO"  # frame and slice threads in the decoder
        self.copied = [s for s in self.container.streams if s.type in COPIED_TYPES]
        self.dropped = [s for s in self.container.streams if s is not self.stream and s not in self.copied]
        cc = self.stream.codec_context
        self.width, self.height = cc.width, cc.height
        if self.width * self.height == 0:
            raise ImageError(self.path, "video stream has no frame size (corrupt header?)")
        if self.width * self.height > max_pixels:
            raise ImageError(
                self.path,
                f"{self.width}x{self.height} frames are above the limit of "
                f"{max_pixels / 1e6:.0f} megapixels (raise it with --max-pixels)",
            )
        self.time_base = self.stream.time_base or Fraction(1, 90000)
        self.rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.sample_aspect_ratio = self.stream.sample_aspect_ratio
        self.expected_frames = self.stream.frames or None
        self.expected_seconds = self._stream_seconds()
        self.display_matrix: tuple[int, ...] | None = None
        self.color = None  # (colorspace, range, primaries, trc) of the first frame

    def _stream_seconds(self) -> float | None:
        s = self.stream
        if s.duration:
            return float(s.duration * s.time_base)
        tag = s.metadata.get("DURATION") or s.metadata.get("duration")  # Matroska writes this
        m = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag or "")
        if m:
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        return None

    @property
    def total_frames(self) -> int | None:
        """Frames in the file as its header tells (an estimate from duration x rate if need be)."""
        if self.expected_frames:
            return self.expected_frames
        if self.expected_seconds:
            return max(1, round(self.expected_seconds * float(self.rate)))
        return None

    def events(self) -> Iterator[Frame | av.Packet]:
        """Frames in presentation order, with the audio/subtitle packets interleaved as they come.
        Raises ImageError naming the frame where decoding failed or the file ended early."""
        index, last_end = 0, None
        step = max(1, round(1 / (self.rate * self.time_base)))
        # AVI stores no presentation times (decoders hand out reordered decode times after
        # B-frames) and is constant-rate by design: number its frames instead.
        numbered = self.container.format.name == "avi"
        try:
            for packet in self.container.demux([self.stream, *self.copied]):
                if packet.stream is not self.stream:
                    if packet.size:
                        yield packet
                    continue
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else (last_end or 0)
                    if numbered:
                        pts = (self.stream.start_time or 0) + index * step
                    duration = step if numbered else frame.duration or step
                    if index == 0:
                        self._first_frame(frame)
                    yield Frame(index, self._rgb(frame), (pts, duration))
                    last_end = pts + duration
                    index += 1
        except av.FFmpegError as e:
            raise ImageError(self.path, f"corrupt video data at frame {index} ({_reason(e)})") from None
        self._check_complete(index, last_end)

    def _first_frame(self, frame):
        # side_data is a Mapping keyed by Type; iterating it gave the entries before PyAV 18.1.1
        # and gives the keys from it on, so look the matrix up by key (both versions).
        data = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        if data is not None and len(bytes(data)) == 36:
            self.display_matrix = struct.unpack("<9i", bytes(data))
        self.color = (frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc)

    def _rgb(self, frame) -> np.ndarray:
        kwargs = {"src_color_range": frame.color_range} if frame.color_range else {}
        return frame.to_ndarray(format="rgb24", **kwargs)

    def _check_complete(self, decoded: int, last_end):
        """A clip that ends early, in time (against the stream duration the header gives) or in
        frames (against its frame count), is truncated. MP4/MOV frame counts are left out: an
        edit list can legitimately hide frames that the sample count includes."""
        if decoded == 0:
            raise ImageError(self.path, "no frame could be decoded (truncated or corrupt video)")
        problem = None
        if self.expected_frames and decoded < self.expected_frames and "mp4" not in self.container.format.name:
            problem = f"frame {decoded} of {self.expected_frames}"
        elif self.expected_seconds and last_end is not None:
            ended = float((last_end - (self.stream.start_time or 0)) * self.time_base)
            if ended + max(0.5, 3 / float(self.rate)) < self.expected_seconds:
                problem = f"frame {decoded}, {ended:.2f} s of {self.expected_seconds:.2f} s"
        if problem:
            raise ImageError(self.path, f"decoding stopped at {problem} (truncated or corrupt video)")

    def close(self):
        self.container.close()


class VideoWriter:
    """Encodes frames into a new file of the container `ext` names, copying `source`'s audio and
    subtitle streams; the file is opened on the first frame, when the output size is known."""

    def __init__(self, path: Path, ext: str, settings: EncoderSettings, source: VideoReader):
        self.path, self.ext, self.source = path, ext, source
        self.codec, self.pix_fmt, self.options = settings.resolve(ext)
        self.container = None
        self.pending: list[av.Packet] = []  # copied packets that came before the first frame
        self.last_pts = None
        self.frames = 0
        self.notes: list[str] = []
        """One line for each stream converted or left out (the output container cannot hold it)."""
        self.size: tuple[int, int] | None = None
        """(width, height) of the frames written: cropped to what the pixel format allows."""

    def _open(self, width: int, height: int):
        src = self.source
        options = {"movflags": "+faststart"} if CONTAINER_FORMAT[self.ext] in ("mp4", "mov") else {}
        self.container = av.open(str(self.path), "w", format=CONTAINER_FORMAT[self.ext], options=options)
        try:
            self.container.metadata.update(
                {
                    k: v
                    for k, v in src.container.metadata.items()
                    if k.lower() not in ("encoder", "major_brand", "minor_version", "compatible_brands")
                }
            )
            stream = self.container.add_stream(self.codec, rate=src.rate, options=self.options)
            stream.width, stream.height, stream.pix_fmt = width, height, self.pix_fmt
            stream.time_base = src.time_base
            cc = stream.codec_context
            cc.time_base = src.time_base
            cc.framerate = src.rate
            if self.container.format.name == "avi":
                cc.max_b_frames = 0  # AVI has no presentation times: frames must come in display order
            if src.sample_aspect_ratio:
                cc.sample_aspect_ratio = src.sample_aspect_ratio
            self._tag_colour(cc)
            if src.display_matrix and src.display_matrix != IDENTITY_MATRIX:
                stream.set_display_matrix(src.display_matrix)
            _copy_stream_facts(src.stream, stream)
            self.video = stream
            self.streams = {}
            for s in src.copied:
                self._carry(s)
            if src.container.chapters():
                self.container.set_chapters(src.container.chapters())
            self.container.start_encoding()
        except av.FFmpegError as e:
            raise ImageError(
                src.path, f"cannot write a {self.ext} output with {self.codec} and this file's streams ({_reason(e)})"
            ) from None
        for packet in self.pending:
            self._mux(packet)
        self.pending.clear()

    def _carry(self, s) -> None:
        """Copy stream s where the container holds its codec, else convert it to the one
        CONVERSION names, else leave it out; a note names a stream converted or left out."""
        container = self.container.format.name
        if _holds(container, s):
            out = self.container.add_stream_from_template(s)
            _copy_stream_facts(s, out)
            self.streams[s.index] = out
            return
        codec = s.codec_context.name
        stream = f"{s.type} stream #{s.index} ({codec})"
        encoder = CONVERSION.get((s.type, container))
        if s.type == "subtitle" and not s.codec_context.codec.text_sub:
            encoder = None  # a bitmap has no text to re-encode
        if encoder is None or not _has_encoder(encoder):
            self.notes.append(f"{self.source.path}: {stream} is left out: a {self.ext} file cannot hold it")
            return
        conversion = _Conversion(self.container, s, encoder)
        _copy_stream_facts(s, conversion.out)
        self.streams[s.index] = conversion
        self.notes.append(
            f"{self.source.path}: {stream} is converted to {conversion.out.codec_context.name}: "
            f"a {self.ext} file cannot hold {codec}"
        )

    def _tag_colour(self, cc):
        """Say which matrix the YUV is in: the source's, or BT.601 limited range, which is what
        swscale decoded an untagged source with (players would guess BT.709 for an HD output)."""
        colorspace, color_range, primaries, trc = self.source.color or (0, 0, 0, 0)
        if av.VideoFormat(self.pix_fmt).is_rgb:
            self.colorspace, self.color_range = None, None
            return
        self.colorspace = colorspace if colorspace not in (0, 2) else 5  # 5: BT.470BG = BT.601
        self.color_range = color_range or 1  # 1: limited (MPEG)
        cc.colorspace, cc.color_range = self.colorspace, self.color_range
        if primaries and primaries != 2:
            cc.color_primaries = primaries
        if trc and trc != 2:
            cc.color_trc = trc

    def write(self, pixels: np.ndarray, timing: tuple):
        """pixels: (H, W, 3) uint8 RGB at the output size (an alpha channel is dropped: these
        pixel formats have none); timing: the input Frame's."""
        pixels = pixels[..., :3]
        h, w = pixels.shape[:2]
        w2, h2 = even_size(w, h, self.pix_fmt)
        if self.container is None:
            self._open(w2, h2)
            self.size = (w2, h2)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels[:h2, :w2]), format="rgb24")
        if self.colorspace is None:
            frame = frame.reformat(format=self.pix_fmt)
        else:
            frame = frame.reformat(
                format=self.pix_fmt, dst_colorspace=self.colorspace, dst_color_range=self.color_range
            )
        pts, duration = timing
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a broken source's repeated timestamp; encoders refuse it
        frame.pts, frame.duration, frame.time_base = pts, duration, self.source.time_base
        self.last_pts = pts
        self._encode(frame)
        self.frames += 1

    def _encode(self, frame):
        try:
            for packet in self.video.encode(frame):
                self.container.mux(packet)
        except av.FFmpegError as e:
            raise ImageError(
                self.source.path, f"encoding with {self.codec} failed at frame {self.frames} ({_reason(e)})"
            ) from None

    def copy(self, packet: av.Packet):
        if self.container is None:
            self.pending.append(packet)
        else:
            self._mux(packet)

    def _mux(self, packet: av.Packet):
        source = packet.stream
        target = self.streams.get(source.index)
        if target is None:  # left out (a note says so)
            return
        try:
            if isinstance(target, _Conversion):
                for converted in target.packets(packet):
                    self.container.mux(converted)
            else:
                packet.stream = target
                self.container.mux(packet)
        except av.FFmpegError as e:
            at = f" at {float(packet.pts * packet.time_base):.2f} s" if packet.pts is not None else ""
            raise ImageError(
                self.source.path,
                f"cannot copy {source.type} stream #{source.index}{at} ({_reason(e)}; corrupt timestamps?)",
            ) from None

    def close(self):
        """Flush the encoder and finish the file."""
        if self.container is None:
            raise ImageError(self.source.path, "no frame to write")
        self._encode(None)
        for target in self.streams.values():
            if isinstance(target, _Conversion):
                try:
                    for packet in target.packets(None):  # what the decoder and encoder still hold
                        self.container.mux(packet)
                except av.FFmpegError as e:
                    raise ImageError(
                        self.source.path, f"converting {target.source.type} failed ({_reason(e)})"
                    ) from None
        self.container.close()
        self.container = None

    def abort(self):
        if self.container is not None:
            try:
                self.container.close()
            except av.FFmpegError:
                pass
            self.container = None


class _Conversion:
    """One audio or text subtitle stream decoded and encoded again, into a codec the output
    container holds: PyAV's audio encoder resamples to the encoder's sample format and rate and
    regroups samples into its frame size, keeping the timestamps; a subtitle keeps its packet's
    times and its styling (through the decoder's ASS form)."""

    def __init__(self, container, source, encoder: str):
        self.source, self.decoder = source, source.codec_context
        if source.type == "audio":
            codec = av.codec.Codec(encoder, "w")
            rate = self.decoder.sample_rate
            if codec.audio_rates and rate not in codec.audio_rates:  # Opus: 8 to 48 kHz only
                rate = min((r for r in codec.audio_rates if r >= rate), default=max(codec.audio_rates))
            self.out = container.add_stream(encoder, rate=rate, layout=self.decoder.layout.name)
            formats = [f.name for f in codec.audio_formats or []]
            if formats and self.decoder.format.name not in formats:
                # float where the encoder takes it: the decoded samples lose nothing on the way
                self.out.codec_context.format = next((f for f in formats if f.startswith("flt")), formats[0])
        else:
            if not self.decoder.is_open:
                self.decoder.open()  # it makes the ASS header that text encoders start from
            self.out = container.add_stream(encoder)
            self.out.codec_context.subtitle_header = self.decoder.subtitle_header
            self.out.time_base = source.time_base

    def packets(self, packet: av.Packet | None) -> Iterator[av.Packet]:
        """The output packets for one input packet; None: flush what the codecs still hold."""
        if self.source.type == "audio":
            for frame in self.decoder.decode(packet):
                yield from self.out.encode(frame)
            if packet is None:
                yield from self.out.encode(None)
            return
        if packet is None:
            return
        subtitle = self.decoder.decode2(packet)
        if subtitle is None or not len(subtitle):  # MP4's empty packets between cues
            return
        out = self.out.codec_context.encode_subtitle(subtitle)
        out.stream, out.time_base = self.out, packet.time_base
        out.pts = out.dts = packet.pts
        out.duration = packet.duration
        yield out


def _holds(container: str, stream) -> bool:
    """Whether FFmpeg's muxer for `container` takes `stream`'s packets as they are: a header is
    written to memory with that stream alone. (The codec tables alone say yes to Opus in MOV;
    the MOV header writer refuses it.)"""
    scratch = av.open(io.BytesIO(), "w", format=container)
    try:
        scratch.add_stream_from_template(stream)
        scratch.start_encoding()
        return True
    except (ValueError, av.FFmpegError):
        return False
    finally:
        try:
            scratch.close()
        except (ValueError, av.FFmpegError):
            pass


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except (ValueError, av.FFmpegError):
        return False


def _copy_stream_facts(src, dst):
    """Language, title and default/forced flags travel with each stream."""
    dst.metadata.update(
        {k: v for k, v in src.metadata.items() if k.lower() not in ("duration", "encoder", "handler_name", "vendor_id")}
    )
    try:
        dst.disposition = src.disposition
    except (AttributeError, TypeError, ValueError):
        pass
