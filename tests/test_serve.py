"""`i2i serve`'s jobs (i2i/ui/jobs.py) without a browser: the queue, kept models, limits,
one-line errors, the temporary folder; and the recipe layer the page shares with the CLI.
The page itself, in Chromium: test_serve_browser.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2i.engine.commands import StylizeOptions, UpscaleOptions, build_engine, recipe_for
from i2i.errors import UsageError
from i2i.ui.jobs import GenerateOptions, Limits, Request, Turns, Workspace


@pytest.fixture
def photos(data) -> list[Path]:
    """Real 256x256 JPEG photos."""
    return sorted((data / "monet2photo" / "testB").glob("*.jpg"))[:4]


@pytest.fixture
def workspace(tmp_path):
    with Workspace(root=tmp_path) as ws:
        yield ws


def x2(sr_model) -> Request:
    return Request.of(UpscaleOptions(model=str(sr_model)), backend="torch")


def test_turns_are_first_come_first_served():
    turns, order, ahead = Turns(), [], []
    first = turns.wait()
    started = []

    def job(i):
        started.append(i)
        turns.wait(on_wait=ahead.append)
        order.append(i)
        turns.done()

    threads = []
    for i in range(3):  # each asks for its turn after the previous one did
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        while len(started) <= i or turns.waiting < i + 2:
            time.sleep(0.01)
    assert turns.waiting == 4 and first == 0
    turns.done()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2]
    assert max(ahead) == 3  # the last one waited behind the holder and two others


def test_job_writes_the_input_format_and_keeps_the_model(workspace, sr_model, photos):
    result = workspace.run(x2(sr_model), photos[:2])
    assert result.errors == []
    assert [o.name for o in result.outputs] == [p.name for p in photos[:2]]
    for o, source in zip(result.outputs, photos):
        with Image.open(o.path) as out, Image.open(source) as im:
            assert out.format == "JPEG" and out.size == (im.width * 2, im.height * 2)
        with Image.open(o.before) as before, Image.open(o.after) as after:
            assert before.size == after.size == (512, 512)
    again = workspace.run(x2(sr_model), photos[2:3])
    assert again.errors == [] and workspace.loads == 1 and workspace.runs == 2


def test_job_output_equals_the_engine_the_cli_builds(workspace, sr_model, data):
    """The page's result is the CLI's: the same recipe, the same engine, the same writer."""
    from i2i.data.image_io import read_image

    photo = data / "sr" / "val" / "Set5" / "bird.png"
    result = workspace.run(x2(sr_model), [photo])
    engine = build_engine(recipe_for(UpscaleOptions(model=str(sr_model))), backend="torch")
    expected = engine.run_image(read_image(photo)).pixels
    got = np.asarray(Image.open(result.outputs[0].path), dtype=np.float32) / 255
    assert result.outputs[0].path.name == "bird_upscale.png"
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6  # the same floats, rounded to 8 bits


def test_bad_file_is_the_cli_one_line_error(workspace, sr_model, photos, tmp_path, cli):
    fake = tmp_path / "upload" / "notes.jpg"
    fake.parent.mkdir()
    fake.write_text("not a picture\n")
    result = workspace.run(x2(sr_model), [fake, photos[0]])
    assert len(result.files) == 1  # the photo still ran
    [line] = result.errors
    run = cli("upscale", "notes.jpg", "-o", "out/", "--model", sr_model, "--backend", "torch", cwd=fake.parent)
    assert run.returncode == 1
    assert f"i2i: error: {line}" in run.stderr.decode().splitlines()
    assert line.startswith("notes.jpg: ") and str(workspace.folder) not in line


def test_limits_refuse_large_files_and_images(tmp_path, sr_model, photos):
    size = photos[0].stat().st_size
    with Workspace(Limits(max_file_bytes=size - 1), root=tmp_path) as ws:
        result = ws.run(x2(sr_model), photos[:1])
        [line] = result.errors
        assert result.files == [] and line.startswith(f"{photos[0].name}: the file is") and "above the limit" in line
    with Workspace(Limits(max_pixels=256 * 255), root=tmp_path) as ws:
        assert "--max-pixels" in ws.run(x2(sr_model), photos[:1]).errors[0]
    with Workspace(Limits(max_output_pixels=512 * 511), root=tmp_path) as ws:
        assert "--max-output-pixels" in ws.run(x2(sr_model), photos[:1]).errors[0]


def test_a_model_that_cannot_run_is_the_job_error(workspace, photos):
    result = workspace.run(Request.of(UpscaleOptions(model="style-starry-night")), photos[:1])
    assert result.files == [] and "`i2i upscale` runs upscale and restore models" in result.error


def test_four_jobs_at_once_run_one_at_a_time(workspace, sr_model, photos):
    active, most = [0], [0]
    translate = workspace._translate

    def counted(*args):
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)
            return translate(*args)
        finally:
            active[0] -= 1

    workspace._translate = counted
    results = [None] * 4

    def job(i):
        results[i] = workspace.run(x2(sr_model), [photos[i]])

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [len(r.files) for r in results] == [1, 1, 1, 1] and most[0] == 1 and workspace.loads == 1
    assert len({r.id for r in results}) == 4


def test_progress_reports_each_file(workspace, sr_model, photos):
    seen = []
    workspace.run(x2(sr_model), photos[:3], progress=lambda fraction, text: seen.append((fraction, text)))
    assert seen[-1] == (1.0, "3/3 files") and [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_animation_runs_as_a_clip(workspace, sr_model, photos, tmp_path):
    frames = [Image.open(p).convert("RGB").resize((64, 64)) for p in photos[:3]]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    [out] = workspace.run(x2(sr_model), [gif]).outputs
    assert out.clip and out.error is None and out.before is not None
    with Image.open(out.path) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == (128, 128)


def test_generate_keeps_its_generator(workspace):
    request = Request.of(GenerateOptions(n=2, seed=3), device="cpu")
    first = workspace.run(request)
    second = workspace.run(request)
    assert first.errors == [] and len(first.files) == 3  # the grid, then each image
    assert workspace.loads == 1
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]


def test_folder_removed_on_close_and_at_exit(tmp_path):
    with Workspace(root=tmp_path) as ws:
        (ws.folder / "x").write_text("x")
    assert not ws.folder.exists()
    code = f"from i2i.ui.jobs import Workspace; ws = Workspace(root={str(tmp_path)!r}); print(ws.folder)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() and not Path(run.stdout.strip()).exists()


def test_recipes_refuse_what_the_cli_refuses():
    with pytest.raises(UsageError, match="--denoise auto blends"):
        recipe_for(UpscaleOptions(model="upscale-x4", denoise="auto"))
    assert recipe_for(StylizeOptions(style="great-wave")).model_path.name == "style-great-wave.safetensors"


@pytest.mark.parametrize(
    "host, warned", [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True), ("pc.lan", True)]
)
def test_serve_warns_unless_only_this_machine_can_reach_it(host, warned, capsys):
    from i2i.cli.serve import _warn_if_public

    _warn_if_public(host)
    assert ("warning: --host" in capsys.readouterr().err) == warned


def test_the_page_takes_colorize_portrait_shares_as_the_command_line_does():
    from i2i.ui.page import _options

    own = {"render_size": 256, "saturation": 1.0}
    assert _options("colorize", "colorize", {**own, "portrait": ""}).portrait == "auto"
    assert _options("colorize", "colorize", {**own, "portrait": "0.5"}).portrait == "0.5"
    with pytest.raises(ValueError, match="--portrait must be auto or a number within 0..1"):
        _options("colorize", "colorize", {**own, "portrait": "2"})
    with pytest.raises(ValueError, match="--denoise must be auto"):
        _options("upscale", "", {"scale": "", "denoise": "x"})
