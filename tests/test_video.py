"""Clips end to end: videos in every container and animated images through the real CLI (frames,
timing, size, rotation, aspect, audio and subtitles kept), bad clips, --skip-existing, encoder
options, and temporal consistency (flicker down, nothing carried across a cut)."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.clips import load_photo, pan_zoom, probe, read_frames, write_clip
from benchmarks.video import flicker, sharpness
from i2i.archs.registry import build
from i2i.checkpoint import ModelInfo, save_model
from i2i.task import Task

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # tiny frames: one thread is faster, and steady on a busy machine
SUBTITLES = [(0.2, 0.9, "first cue"), (1.1, 1.7, "second cue")]


@pytest.fixture(scope="module")
def translate_model(tmp_path_factory):
    """A small untrained instance-norm ResNet generator (a translate model)."""
    torch.manual_seed(0)
    module, cfg = build("resnet", {"ngf": 4, "blocks": 1})
    path = tmp_path_factory.mktemp("models") / "resnet.safetensors"
    save_model(path, module, ModelInfo(arch="resnet", options=dataclasses.asdict(cfg), task=Task()))
    return path


@pytest.fixture(scope="module")
def shots(data):
    """48 frames 96x64: a pan and zoom across one real photo, then a cut (frame 30) to another."""
    photos = sorted((data / "sr/train/BSD200").glob("*.png"))
    first, second = load_photo(photos[0]), load_photo(photos[3])
    return pan_zoom(first, (96, 64), 30, pan=(1.5, 0.5), zoom=1.01, start=(150, 100)) + pan_zoom(
        second, (96, 64), 18, pan=(2, 0), start=(100, 100)
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory, shots):
    """The same frames in every container: 24 fps (30 for .mov), audio tone, subtitles where the
    container has a text format, rotation in the MP4, a 4:3 pixel aspect in the MKV."""
    folder = tmp_path_factory.mktemp("clips")
    write_clip(folder / "pan.mp4", shots, fps=24, subtitles=SUBTITLES, rotation=90)
    write_clip(folder / "pan.mkv", shots, fps=24, subtitles=SUBTITLES, sar=Fraction(4, 3))
    write_clip(folder / "pan.webm", shots, fps=24, subtitles=SUBTITLES)
    write_clip(folder / "pan.mov", shots + shots[:12], fps=30, subtitles=SUBTITLES)
    write_clip(folder / "pan.avi", shots, fps=24)
    vfr = [0, 40, 90, 100, 180, 200] + [200 + 33 * k for k in range(1, 42)]
    write_clip(folder / "vfr.mkv", shots[: len(vfr)], times_ms=vfr)
    return folder


def _cues(packets):
    """Subtitle packets with text (MP4's mov_text fills the gaps between cues with empty ones)."""
    return [(t, p[2:] if p[:2] == len(p[2:]).to_bytes(2, "big") else p) for t, p in packets if len(p) > 2]


def test_every_container_keeps_frames_timing_and_streams(cli, sr_model, clips, tmp_path):
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, clips, "-o", out, "--json", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    lines = {Path(j["input"]).name: j for j in map(json.loads, r.stdout.decode().splitlines())}
    assert set(lines) == {"pan.mp4", "pan.mkv", "pan.webm", "pan.mov", "pan.avi", "vfr.mkv"}
    for name, line in lines.items():
        src, dst = probe(clips / name), probe(out / name)
        assert line["error"] is None and line["output"] == str(out / name)
        assert line["frames"] == len(src["times"]) == len(dst["times"]), name
        assert line["seconds"] > 0 and line["size"] == [192, 128]
        assert dst["size"] == (192, 128) and dst["format"] == src["format"], name
        assert dst["times"] == pytest.approx(src["times"], abs=1e-3), name
        assert dst["end"] == pytest.approx(src["end"], abs=1e-3), f"{name}: duration changed"
        assert dst["streams"] == src["streams"], name
        assert dst["packets"].get("audio") == src["packets"].get("audio"), f"{name}: audio changed"
        assert _cues(dst["packets"].get("subtitle", [])) == _cues(src["packets"].get("subtitle", [])), name
        assert dst["rotation"] == src["rotation"] and dst["sar"] == src["sar"], name
    assert probe(out / "pan.mp4")["rotation"] == 90 and probe(out / "pan.mkv")["sar"] == Fraction(4, 3)
    assert len(probe(out / "pan.mov")["times"]) == 60 and probe(out / "vfr.mkv")["times"][:4] == [0, 0.04, 0.09, 0.1]
    assert probe(out / "pan.webm")["codec"] == "vp9" and probe(out / "pan.mp4")["codec"] == "h264"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_upscaled_video_frames_are_the_picture(cli, clips, tmp_path):
    """The shipped x2 model through a video: each output frame, shrunk back, is its input frame."""
    out = tmp_path / "up.mp4"
    r = cli("upscale", "--scale", "2", clips / "pan.mp4", "-o", out, "--crf", "12", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    src, dst = read_frames(clips / "pan.mp4"), read_frames(out)
    assert len(dst) == len(src) and dst[0].shape == (128, 192, 3)
    for t in (0, 29, 30, 47):
        small = np.asarray(Image.fromarray(dst[t]).resize((96, 64), Image.BICUBIC), dtype=np.float64)
        mse = np.mean((small - src[t]) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28, f"frame {t}"


def test_animations_keep_kind_durations_loop_and_alpha(cli, translate_model, shots, tmp_path):
    folder = tmp_path / "anim"
    folder.mkdir()
    durations = [40, 80, 120, 40, 60, 200, 40, 100]
    frames = [Image.fromarray(f) for f in shots[:8]]
    frames[0].save(folder / "a.gif", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    frames[0].save(folder / "a.webp", save_all=True, append_images=frames[1:], duration=durations, loop=3)
    alpha = [
        Image.fromarray(np.dstack([f, np.where(np.arange(96) < 20, 0, 255).astype(np.uint8)[None].repeat(64, 0)]))
        for f in shots[:8]
    ]
    alpha[0].save(folder / "a.png", save_all=True, append_images=alpha[1:], duration=durations, loop=2)
    Image.fromarray(shots[0]).save(folder / "still.png")
    out = tmp_path / "out"
    r = cli("translate", "--model", translate_model, folder, "-o", out, "--json", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    lines = {Path(j["input"]).name: j for j in map(json.loads, r.stdout.decode().splitlines())}
    assert lines["a.gif"]["frames"] == 8 and "frames" not in lines["still.png"]
    assert Image.open(out / "still.png").size == (96, 64)
    for name, fmt, loop in (("a.gif", "GIF", 0), ("a.webp", "WEBP", 3), ("a.png", "PNG", 2)):
        with Image.open(out / name) as im:
            assert (im.format, im.size, im.n_frames, im.info.get("loop")) == (fmt, (96, 64), 8, loop), name
            got = []
            for i in range(8):
                im.seek(i)
                im.load()
                got.append(im.info["duration"])
            assert got == durations, name
    with Image.open(out / "a.png") as im:
        im.seek(5)
        a = np.asarray(im.convert("RGBA"))[..., 3]
        assert a[:, :18].max() == 0 and a[:, 22:].min() == 255  # the transparent band


def _gradients(kind: str, n: int = 31) -> list[Image.Image]:
    """48x32 gradient frames. "halves": blues and greys, then (from frame 15) reds, oranges and
    greens that no earlier frame has. "hues": every frame its own hue, more colours over the clip
    than one 256-colour palette holds."""
    import colorsys

    y, x = np.mgrid[0:32, 0:48]
    frames = []
    for t in range(n):
        if kind == "halves":
            f = (
                np.stack([x * 2 + t, x * 2 + t, 120 + y * 4], -1)
                if t < 15
                else np.stack([255 - y * 3, 80 + x * 3 - t, 20 + x + y], -1)
            )
        else:
            f = np.array(colorsys.hsv_to_rgb(t / n, 1, 1)) * 255 * (x[..., None] / 48) + y[..., None] * 2
        frames.append(Image.fromarray(np.clip(f, 0, 255).astype(np.uint8)))
    return frames


def _all_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB"), np.float64))
        return out


def test_a_gif_palette_holds_the_colours_of_the_whole_clip(cli, sr_model, tmp_path):
    """Each GIF beside an APNG twin of its decoded frames: the APNG output is the model's exact
    output, so the GIF output's difference to it is what its palette costs, frame by frame."""
    folder = tmp_path / "in"
    folder.mkdir()
    for kind in ("halves", "hues"):
        frames = _gradients(kind)
        frames[0].save(folder / f"{kind}.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
        decoded = [Image.fromarray(f.astype(np.uint8)) for f in _all_frames(folder / f"{kind}.gif")]
        decoded[0].save(folder / f"{kind}.png", save_all=True, append_images=decoded[1:], duration=50, loop=0)
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, folder, "-o", out, env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    for kind in ("halves", "hues"):
        gif, exact = _all_frames(out / f"{kind}.gif"), _all_frames(out / f"{kind}.png")
        assert len(gif) == len(exact) == 31
        errors = [np.abs(g - e).mean() for g, e in zip(gif, exact)]
        # A palette from the first 16 frames left the last frame of "halves" 12.7 levels off.
        assert errors[-1] < 6 and max(errors) < 6, (kind, np.round(errors, 1))


def test_an_apng_poster_that_is_not_part_of_the_animation_is_not_a_frame(cli, sr_model, tmp_path):
    """An APNG may store a default image (shown by viewers without APNG) before its animation;
    the output is the animation alone: frame for frame what the same APNG without it gives."""
    folder = tmp_path / "in"
    folder.mkdir()
    poster = Image.new("RGB", (16, 12), (255, 0, 255))
    frames = [Image.fromarray(_noise_frame(12, 16, seed)) for seed in range(4)]
    durations = [50, 60, 70, 80]
    poster.save(folder / "poster.png", save_all=True, append_images=frames, default_image=True, duration=durations)
    frames[0].save(folder / "plain.png", save_all=True, append_images=frames[1:], duration=durations)
    with Image.open(folder / "poster.png") as im:
        assert im.n_frames == 5 and im.info["default_image"]  # Pillow counts the poster as frame 0
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, folder, "-o", out, "--json", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert {json.loads(line)["frames"] for line in r.stdout.splitlines()} == {4}
    got, expected = _all_frames(out / "poster.png"), _all_frames(out / "plain.png")
    assert len(got) == 4 and all(np.array_equal(g, e) for g, e in zip(got, expected))
    with Image.open(out / "poster.png") as im:
        assert not im.info.get("default_image")


def _noise_frame(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_bad_clips_fail_alone_and_leave_nothing(cli, sr_model, clips, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = tmp_path / "good.mp4"
    assert cli("upscale", "--model", sr_model, clips / "pan.mp4", "-o", good, env=ONE_THREAD).returncode == 0
    data = good.read_bytes()  # i2i's MP4s have their index first: a cut file still opens
    (folder / "cut.mp4").write_bytes(data[: len(data) * 6 // 10])
    (folder / "noise.mkv").write_bytes(np.random.default_rng(0).bytes(5000))
    (folder / "empty.webm").write_bytes(b"")
    mkv = (clips / "pan.mkv").read_bytes()
    (folder / "cut.mkv").write_bytes(mkv[: len(mkv) // 2])
    frames = [Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)) for i in range(6)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    gif = (folder / "anim.gif").read_bytes()
    (folder / "anim.gif").write_bytes(gif[: len(gif) * 7 // 10])
    (folder / "ok.avi").write_bytes((clips / "pan.avi").read_bytes())
    out = tmp_path / "out"
    r = cli("upscale", "--model", sr_model, folder, "-o", out, env=ONE_THREAD)
    assert r.returncode == 1
    errors = [line for line in r.stderr.decode().splitlines() if "error:" in line or line.startswith(" ")]
    text = " ".join(r.stderr.decode().split())
    for name in ("cut.mp4", "noise.mkv", "empty.webm", "cut.mkv", "anim.gif"):
        assert f"{folder / name}:" in text, name
    assert f"{folder / 'cut.mp4'}: decoding stopped at frame" in text
    assert f"{folder / 'cut.mkv'}: decoding stopped at frame" in text
    assert "5 of 6 input(s) failed" in text and errors
    assert sorted(p.name for p in out.rglob("*")) == ["ok.avi"]


def test_streams_the_output_container_cannot_hold_are_converted_or_left_out_with_a_note(cli, sr_model, tmp_path):
    """SRT subtitles into MP4 become mov_text, AAC audio into WebM becomes Opus (and mov_text
    becomes WebVTT), subtitles into AVI (which holds none) are left out: each said in one note, the cues'
    text and times and the audio's span kept, the clip never lost."""
    frames = [_noise_frame(32, 48, seed) for seed in range(12)]  # 0.5 s at 24 fps
    cues = [(0.1, 0.25, "first cue"), (0.3, 0.45, "second cue")]
    mkv = write_clip(tmp_path / "in.mkv", frames, subtitles=cues)  # AAC and SRT (subrip)
    mp4 = write_clip(tmp_path / "in.mp4", frames, subtitles=cues)  # AAC and mov_text
    for src, dst, codecs, said in (
        (mkv, "out.mp4", ["h264", "aac", "mov_text"], ["subtitle stream #2 (srt) is converted to mov_text"]),
        (
            mp4,
            "out.webm",
            ["vp9", "opus", "webvtt"],
            ["audio stream #1 (aac) is converted to libopus", "subtitle stream #2 (mov_text) is converted to webvtt"],
        ),
        (mkv, "out.avi", ["h264", "aac"], ["subtitle stream #2 (srt) is left out: a .avi file cannot hold it"]),
    ):
        r = cli("upscale", "--model", sr_model, src, "-o", tmp_path / dst, env=ONE_THREAD)
        assert r.returncode == 0, r.stderr
        notes = [line for line in r.stderr.decode().splitlines() if "stream #" in line]
        assert len(notes) == len(said) and all(n.startswith(f"note: {src}: {t}") for n, t in zip(notes, said)), notes
        got, expected = probe(tmp_path / dst), probe(src)
        with av.open(str(tmp_path / dst)) as c:
            assert [s.codec_context.name for s in c.streams] == codecs, dst
        assert len(got["times"]) == 12 and got["size"] == (96, 64)
        if "subtitle" in got["streams"]:
            assert _cue_texts(tmp_path / dst) == _cue_texts(src) == [(0.1, b"first cue"), (0.3, b"second cue")], dst
        audio, source_audio = got["packets"]["audio"], expected["packets"]["audio"]
        assert audio[0][0] == pytest.approx(source_audio[0][0], abs=0.03), dst  # the audio's start
        assert audio[-1][0] == pytest.approx(source_audio[-1][0], abs=0.05), dst  # and its end


def _cue_texts(path) -> list[tuple[float, bytes]]:
    """(time s, text) of each subtitle cue (mov_text: the text after its 2-byte length, without
    the style boxes after it; MP4's empty packets between cues left out)."""
    with av.open(str(path)) as c:
        mov_text = c.streams.subtitles[0].codec_context.name == "mov_text"
    cues = []
    for t, p in probe(path)["packets"].get("subtitle", []):
        text = p[2 : 2 + int.from_bytes(p[:2], "big")] if mov_text else p
        if text:
            cues.append((t, text))
    return cues


def test_a_clip_on_stdin_runs_whole_or_is_refused(cli, sr_model, tmp_path):
    """An animation or a video given on stdin is a clip, every frame of it, named by its content;
    stdout, which takes one still image, refuses it with exit 1."""
    frames = [Image.fromarray(_noise_frame(12, 16, seed)) for seed in range(5)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    write_clip(tmp_path / "v.mp4", [np.asarray(f) for f in frames], audio=False)
    r = cli(
        "upscale", "--model", sr_model, "-", "-o", tmp_path / "out", "--json", input=(tmp_path / "a.gif").read_bytes()
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["frames"] == 5 and json.loads(r.stdout)["output"] == str(tmp_path / "out" / "stdin.gif")
    with Image.open(tmp_path / "out" / "stdin.gif") as im:
        assert (im.n_frames, im.size) == (5, (32, 24))
    r = cli("upscale", "--model", sr_model, "-", "-o", tmp_path / "v.mkv", input=(tmp_path / "v.mp4").read_bytes())
    assert r.returncode == 0, r.stderr
    assert len(probe(tmp_path / "v.mkv")["times"]) == 5 and probe(tmp_path / "v.mkv")["size"] == (32, 24)
    r = cli("upscale", "--model", sr_model, "-", "-o", "-", input=(tmp_path / "a.gif").read_bytes())
    assert r.returncode == 1 and r.stdout == b""
    assert b"<stdin>: videos and animations cannot be written to stdout" in r.stderr


def test_the_loop_count_survives_a_change_of_animation_format(cli, sr_model, tmp_path):
    """Times shown, whatever each format calls it: a GIF without a NETSCAPE block plays once (WebP
    and APNG: loop 1), an APNG shown 3 times is a GIF that repeats twice (NETSCAPE loop 2)."""
    frames = [Image.fromarray(_noise_frame(6, 8, seed)) for seed in range(3)]
    frames[0].save(tmp_path / "once.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(tmp_path / "three.png", save_all=True, append_images=frames[1:], duration=50, loop=3)
    for src, dst, loop in (("once.gif", "once.webp", 1), ("once.gif", "once.png", 1), ("three.png", "three.gif", 2)):
        r = cli("upscale", "--model", sr_model, tmp_path / src, "-o", tmp_path / dst, env=ONE_THREAD)
        assert r.returncode == 0, r.stderr
        with Image.open(tmp_path / dst) as im:
            assert (im.n_frames, im.info.get("loop")) == (3, loop), dst
    with Image.open(tmp_path / "once.gif") as im:
        assert "loop" not in im.info


def test_json_reports_the_size_written_for_a_clip_cropped_to_even(cli, translate_model, tmp_path):
    frames = [_noise_frame(33, 47, seed) for seed in range(3)]
    src = write_clip(tmp_path / "odd.mkv", frames, audio=False, codec="ffv1")  # 47x33: lossless RGB holds it
    r = cli("translate", "--model", translate_model, src, "-o", tmp_path / "out.mp4", "--json", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert probe(tmp_path / "out.mp4")["size"] == (46, 32) and json.loads(r.stdout)["size"] == [46, 32]


def test_an_existing_output_skips_the_whole_video(cli, sr_model, clips, tmp_path):
    out = tmp_path / "out"
    args = ("upscale", "--model", sr_model, clips / "pan.webm", "-o", out)
    r = cli(*args, env={**ONE_THREAD, "I2I_PROGRESS_SECONDS": "0"})  # stderr is a pipe: plain progress lines
    assert r.returncode == 0, r.stderr
    frames = [line for line in r.stderr.decode().splitlines() if line.startswith("frames ")]
    assert len(frames) > 2 and frames[-1].startswith("frames 48/48 ") and "fps" in frames[-1], frames
    before = (out / "pan.webm").stat().st_mtime_ns
    r = cli(*args, env=ONE_THREAD)
    assert r.returncode == 0 and f"skipped: {out / 'pan.webm'} exists".encode() in r.stderr
    r = cli(*args, "--skip-existing", "--json", env=ONE_THREAD)
    assert r.returncode == 0 and json.loads(r.stdout)["skipped"] == "exists"
    assert (out / "pan.webm").stat().st_mtime_ns == before


def test_encoder_options_and_their_errors(cli, sr_model, clips, tmp_path):
    out = tmp_path / "o.mkv"
    r = cli(
        "upscale",
        "--model",
        sr_model,
        clips / "pan.mkv",
        "-o",
        out,
        "--crf",
        "30",
        "--pix-fmt",
        "yuv444p",
        "--codec",
        "libx264",
        env=ONE_THREAD,
    )
    assert r.returncode == 0, r.stderr
    assert (probe(out)["codec"], probe(out)["pix_fmt"]) == ("h264", "yuv444p")
    r = cli("upscale", "--model", sr_model, clips / "pan.mkv", "-o", tmp_path / "x.mkv", "--codec", "nonesuch")
    assert r.returncode == 2 and b"no video encoder 'nonesuch'" in r.stderr, r.stderr
    r = cli(
        "upscale",
        "--model",
        sr_model,
        clips / "pan.mkv",
        "-o",
        tmp_path / "x.mkv",
        "--codec",
        "mpeg4",
        "--pix-fmt",
        "yuv444p",
        env=ONE_THREAD,
    )
    assert r.returncode == 1 and b"mpeg4 takes yuv420p" in r.stderr
    assert not (tmp_path / "x.mkv").exists()


def test_encoder_settings_resolve_and_refuse():
    from i2i.data.video_io import EncoderSettings, even_size
    from i2i.errors import UsageError

    assert EncoderSettings().resolve(".mp4")[:2] == ("libx264", "yuv420p")
    assert EncoderSettings().resolve(".webm")[0] == "libvpx-vp9"
    assert EncoderSettings().resolve(".mkv")[2]["crf"] == "18"
    assert EncoderSettings(codec="libx264", crf=23).resolve(".avi")[2]["crf"] == "23"
    for bad, message in (
        ({"codec": "mpeg4", "crf": 20}, "no constant rate factor"),
        ({"pix_fmt": "yuv7"}, "unknown pixel format"),
        ({"codec": "aac"}, "not a video encoder"),
    ):
        with pytest.raises(UsageError, match=message):
            EncoderSettings(**bad)
    assert even_size(95, 63, "yuv420p") == (94, 62) and even_size(95, 63, "yuv422p") == (94, 63)
    assert even_size(95, 63, "yuv444p") == (95, 63)


def test_odd_sizes_are_cropped_even_for_yuv420(cli, data, tmp_path):
    frames = pan_zoom(load_photo(data / "sr/val/Set14/monarch.png"), (95, 63), 6, pan=(2, 0))
    write_clip(
        tmp_path / "odd.mkv", [np.pad(f, ((0, 1), (0, 1), (0, 0)), mode="edge") for f in frames], audio=False
    )  # even for the H.264 test clip itself; cropped below
    write_clip(tmp_path / "odd444.mkv", frames, audio=False, codec="ffv1")
    r = cli("stylize", tmp_path / "odd444.mkv", "-o", tmp_path / "styled.mkv", env=ONE_THREAD)
    assert r.returncode == 0, r.stderr
    assert probe(tmp_path / "odd444.mkv")["size"] == (95, 63) and probe(tmp_path / "styled.mkv")["size"] == (94, 62)


# ---- temporal consistency ----


@pytest.fixture(scope="module")
def noisy_cut(tmp_path_factory, data):
    """FFV1 (lossless) 96x64: 16 frames of a 2 px/frame pan with noise sigma 0.5, then a cut."""
    folder = tmp_path_factory.mktemp("noisy")
    photo = load_photo(data / "sr/val/Set14/monarch.png")
    other = load_photo(data / "sr/val/Set14/baboon.png")
    frames = pan_zoom(photo, (96, 64), 16, pan=(2, 0), start=(300, 200), noise=0.5) + pan_zoom(
        other, (96, 64), 8, pan=(2, 0), start=(200, 200), noise=0.5, seed=1
    )
    return write_clip(folder / "noisy.mkv", frames, audio=False, codec="ffv1")


def test_temporal_consistency_cuts_flicker_and_stops_at_cuts(cli, noisy_cut, tmp_path):
    lossless = ("--codec", "ffv1", "--pix-fmt", "bgr0")
    runs = {}
    for name, extra in (("plain", ["--no-temporal"]), ("temporal", [])):
        # fp32: the temporal run pools statistics on torch, and the frames are compared level by level
        r = cli(
            "stylize",
            noisy_cut,
            "-o",
            tmp_path / f"{name}.mkv",
            *lossless,
            "--precision",
            "fp32",
            *extra,
            env=ONE_THREAD,
        )
        assert r.returncode == 0, r.stderr
        runs[name] = read_frames(tmp_path / f"{name}.mkv")
    source = read_frames(noisy_cut)
    base = flicker(source[:16])
    plain, temporal = flicker(runs["plain"][:16]) / base, flicker(runs["temporal"][:16]) / base
    assert plain > 3 and temporal < plain / 3, (plain, temporal)
    assert sharpness(runs["temporal"][:16]) > 0.75 * sharpness(runs["plain"][:16])
    # The first frame after the cut is its own: no statistics or smoothing carried across (float
    # rounding of the pooled normalisation aside); the next ones are smoothed again.
    difference = np.abs(runs["temporal"][16].astype(int) - runs["plain"][16])
    assert difference.max() <= 1 and difference.mean() < 0.01
    assert np.abs(runs["temporal"][17].astype(int) - runs["plain"][17]).mean() > 1


def test_colorize_chroma_is_smoothed_and_l_kept(cli, noisy_cut, tmp_path):
    from benchmarks.video import chroma

    runs = {}
    for name, extra in (("plain", ["--no-temporal"]), ("temporal", [])):
        r = cli(
            "colorize",
            noisy_cut,
            "-o",
            tmp_path / f"{name}.mkv",
            "--render-size",
            "64",
            "--codec",
            "ffv1",
            "--pix-fmt",
            "bgr0",
            *extra,
            env=ONE_THREAD,
        )
        assert r.returncode == 0, r.stderr
        runs[name] = read_frames(tmp_path / f"{name}.mkv")
    plain, temporal = flicker(chroma(runs["plain"][:16])), flicker(chroma(runs["temporal"][:16]))
    assert temporal < plain / 2, (plain, temporal)
    grey = lambda frames: np.asarray(frames, dtype=np.float32).mean(axis=3)  # noqa: E731
    assert np.abs(grey(runs["temporal"]) - grey(runs["plain"])).mean() < 2.0  # lightness is the input's


def test_frame_statistics_pool_over_a_shot_and_reset_at_cuts():
    from i2i.engine.norm_stats import FrameStatistics

    torch.manual_seed(0)
    net, _ = build("transformer_net", {"width": 4, "res_blocks": 1})
    net.eval()
    frames = torch.rand(4, 3, 32, 32) * torch.tensor([60.0, 120, 180, 255]).view(4, 1, 1, 1)
    with torch.no_grad():
        own = net(frames)
        same = frames[:1].expand(4, -1, -1, -1)
        own_same = net(same)
        stats = FrameStatistics(net, window=8)
        with stats.over([True] * 4):
            assert torch.allclose(net(frames), own, atol=1e-3)  # each frame a shot: plain instance norm
        with stats.over([True, False, False, False]):
            assert torch.allclose(net(same), own_same, atol=1e-3)  # a still shot: nothing changes
        with stats.over([True, False, False, False]):
            pooled = net(frames)
        assert torch.allclose(pooled[0], own[0], atol=1e-3) and not torch.allclose(pooled[3], own[3], atol=1e-2)
        with stats.over([False, True]):  # state carries over calls; a cut starts afresh
            carried = net(frames[:2])
        assert not torch.allclose(carried[0], own[0], atol=1e-2) and torch.allclose(carried[1], own[1], atol=1e-3)
    assert "forward" not in vars(net.in1)


def test_motion_analysis_finds_the_pan_and_the_cut(data):
    from i2i.engine.temporal import MotionAnalyzer, MotionSmoothing

    photo = load_photo(data / "sr/val/Set14/monarch.png")
    frames = pan_zoom(photo, (160, 96), 3, pan=(2, 0), start=(300, 200), noise=2)
    other = pan_zoom(load_photo(data / "sr/val/Set14/baboon.png"), (160, 96), 1)[0]
    analyze = MotionAnalyzer()
    first, second = analyze(frames[0]), analyze(frames[1])
    assert first.cut and first.flow is None
    assert not second.cut and np.median(second.flow[8:-8, 8:-8, 0]) == pytest.approx(2, abs=0.15)
    assert second.confidence[8:-8, 8:-8].mean() > 0.9 and second.confidence[:, -1].max() == 0
    assert analyze(other).cut
    smooth = MotionSmoothing(0.8)
    ramp = torch.linspace(0, 1, 160).expand(3, 96, 160)  # an output whose shift is easy to see
    assert smooth(ramp, first) is ramp  # a shot's first frame is left alone
    now = torch.full((3, 96, 160), 0.5)
    mixed = smooth(now, second)  # 0.2 now + 0.8 (previous output moved along the 2 px pan)
    expected = 0.2 * 0.5 + 0.8 * (torch.arange(160) + 2) / 159
    assert torch.median((mixed - expected).abs()[:, 8:-8, 8:-8]) < 0.01


_PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


@pytest.mark.slow  # a 300-frame clip
def test_memory_stays_flat_for_longer_clips(sr_model, shots, tmp_path):
    """Peak RSS of `i2i upscale` on a clip and on one ten times longer: frames stream through."""
    import os
    import subprocess
    import sys

    peaks = {}
    for n in (30, 300):
        clip = write_clip(tmp_path / f"clip{n}.mp4", [shots[i % len(shots)] for i in range(n)], fps=30)
        command = [
            sys.executable,
            "-m",
            "i2i",
            "upscale",
            "--model",
            str(sr_model),
            str(clip),
            "-o",
            str(tmp_path / f"out{n}.mp4"),
            "-q",
        ]
        report = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS, *command],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **ONE_THREAD},
        )
        peaks[n] = int(report.stdout.split()[-1]) / 1024  # MiB
        assert len(read_frames(tmp_path / f"out{n}.mp4")) == n
    print(f"peak RSS: {peaks}")
    assert peaks[300] - peaks[30] < 40, peaks


def test_clip_outputs_are_planned_before_anything_runs(tmp_path):
    from i2i.engine.inputs import Job, OutputOptions
    from i2i.engine.video import plan_clips
    from i2i.errors import UsageError

    a, b = Job(str(tmp_path / "a.mp4"), Path("a.mp4")), Job(str(tmp_path / "sub/b.gif"), Path("sub/b.gif"))
    planned, errors = plan_clips([a, b], [], OutputOptions(out=str(tmp_path / "out"), suffix="_s"), 2)
    assert [j.output for j in planned] == [str(tmp_path / "out/a_s.mp4"), str(tmp_path / "out/sub/b_s.gif")]
    assert not errors
    planned, errors = plan_clips([a], [], OutputOptions(out=str(tmp_path / "x.mkv")), 1)
    assert planned[0].output == str(tmp_path / "x.mkv")  # one clip, one named file: converted
    _, errors = plan_clips([a], [], OutputOptions(out=str(tmp_path)), 1)
    assert "would replace it" in errors[0].reason
    image = Job(str(tmp_path / "p.png"), Path("p.png"), output=str(tmp_path / "out/b.gif"))
    _, errors = plan_clips(
        [Job(str(tmp_path / "b.gif"), Path("b.gif"))], [image], OutputOptions(out=str(tmp_path / "out")), 2
    )
    assert "also the output of" in errors[0].reason
    _, errors = plan_clips([a], [], OutputOptions(out="-"), 1)
    assert "stdout" in errors[0].reason
    with pytest.raises(UsageError, match="names one file, but 2 inputs"):
        plan_clips([a, b], [], OutputOptions(out=str(tmp_path / "x.mp4")), 2)
