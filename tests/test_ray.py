"""Folder jobs on Ray Data (engine/ray_job.py) on a local cluster of two CPUs: the same outputs
as the single-process job, exactly once when an actor is killed, bad files as one-line errors,
and a rerun that skips what exists."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from i2i.data.image_io import read_image

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a local Ray cluster per module and two jobs on it: ~1 min of the fast suite's 9


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs; -> its address, which the CLI joins with --ray ADDRESS."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture
def photos(tmp_path, data) -> Path:
    """Six real photos, two of them in a subfolder (mirrored in the output), and a broken file."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    files = sorted((data / "monet2photo/testB").iterdir())[:6]
    for i, f in enumerate(files):
        shutil.copy(f, folder / ("sub" if i < 2 else "") / f.name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return folder


def outputs(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}


def json_lines(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def test_cli_ray_matches_single_process_reports_bad_files_and_skips_on_rerun(cli, cluster, photos, sr_model, tmp_path):
    args = ["--model", sr_model, "--ext", "png", "--backend", "torch", "--json"]
    single = cli("upscale", photos, "-o", tmp_path / "single", *args)
    on_ray = cli("upscale", photos, "-o", tmp_path / "ray", *args, "--ray", cluster, "--ray-actors", "2")
    assert single.returncode == on_ray.returncode == 1, on_ray.stderr.decode()  # the broken file
    # One error line naming the broken file; every other input written, the tree mirrored.
    errors = [line for line in on_ray.stderr.decode().splitlines() if line.startswith("i2i: error: ")]
    assert len(errors) == 1 and "broken.png" in errors[0], on_ray.stderr.decode()
    lines = json_lines(on_ray.stdout)
    assert sorted(Path(r["input"]).name for r in lines) == sorted(p.name for p in photos.rglob("*") if p.is_file())
    assert all(r["worker"] for r in lines if r["error"] is None)
    expected, got = outputs(tmp_path / "single"), outputs(tmp_path / "ray")
    assert got.keys() == expected.keys() and len(got) == 6 and sum(n.startswith("sub/") for n in got) == 2
    for name in expected:
        a, b = read_image(expected[name]).pixels, read_image(got[name]).pixels
        assert a.shape == b.shape and np.abs(a - b).max() <= 1 / 255 + 1e-6, name

    # A rerun has only the broken file left to try: the others are skipped, not rewritten.
    # Its driver never imports torch (the actors load the model): Python's import log says so.
    stamps = {name: p.stat().st_mtime_ns for name, p in got.items()}
    again = cli(
        "upscale", photos, "-o", tmp_path / "ray", *args, "--ray", cluster, env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert again.returncode == 1
    imported = [line.rsplit("|", 1)[1].strip() for line in again.stderr.decode().splitlines() if "import time:" in line]
    assert "ray" in imported and "torch" not in imported
    rerun = {Path(r["input"]).name: r for r in json_lines(again.stdout)}
    assert [n for n, r in rerun.items() if r["skipped"] != "exists"] == ["broken.png"]
    assert {name: p.stat().st_mtime_ns for name, p in outputs(tmp_path / "ray").items()} == stamps

    # Paths relative to the driver's folder: the actors run elsewhere (here, the folder pytest
    # started the cluster in), so the job ships them absolute and reports them as given.
    relative = cli("upscale", "in", "-o", "ray-rel", *args, "--ray", cluster, cwd=tmp_path)
    assert relative.returncode == 1, relative.stderr.decode()
    assert outputs(tmp_path / "ray-rel").keys() == expected.keys()
    lines = json_lines(relative.stdout)
    assert {r["input"] for r in lines} == {str(p.relative_to(tmp_path)) for p in photos.rglob("*") if p.is_file()}
    assert all(r["output"].startswith("ray-rel/") for r in lines if r["error"] is None)
    assert [e for e in relative.stderr.decode().splitlines() if e.startswith("i2i: error: in/broken.png")], (
        relative.stderr.decode()
    )


def test_killed_actor_every_input_written_exactly_once(cluster, photos, tmp_path):
    """SIGKILL the actor after its first results: Ray restarts it, the batches it held run again,
    and every input is reported once with a valid output; no temporary file is left."""
    from i2i import RayOptions, run_on_ray
    from i2i.checkpoint import load_model
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.models import resolve

    (photos / "broken.png").unlink()
    for f in sorted(photos.rglob("*.jpg")):  # 12 photos: three actor calls of 4
        shutil.copy(f, f.with_name("copy-" + f.name))
    model = load_model(resolve("upscale-x2"))
    out = tmp_path / "out"
    results, killed = [], None
    # Given by its file, the model is loaded by the actors (a restarted one loads it again).
    job = run_on_ray(
        resolve("upscale-x2"),
        [photos],
        str(out),
        options=RayOptions(actors=1),
        ext="png",
        backend="torch",
        batch_size=1,
    )
    for r in job:
        results.append(r)
        if killed is None:
            killed = int(r.worker.rsplit(":", 1)[1])
            os.kill(killed, signal.SIGKILL)
    assert sorted(r.input for r in results) == sorted(str(p) for p in photos.rglob("*.jpg"))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    workers = {int(r.worker.rsplit(":", 1)[1]) for r in results if r.worker}
    assert len(workers) >= 2 and killed in workers, "the kill came after the actor had finished"
    written = outputs(out)
    assert len(written) == 12 and not [n for n in written if n.endswith(".part")]
    engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), backend="torch")
    for r in results:  # those run again after the kill too: the single-process engine's pixels
        want = engine.run_image(read_image(r.input)).pixels
        assert np.abs(want - read_image(r.output).pixels).max() <= 1 / 255 + 1e-6, r.input


def test_read_task_decodes_without_torch(photos):
    """A read task's process needs no torch (engine.py's): it only decodes, for the actors."""
    code = """
import pickle, sys
import pyarrow as pa
from i2i.engine.inputs import Job
from i2i.engine.ray_job import _read_batch
jobs = [Job(source=s, rel=None) for s in sys.argv[1:]]
batch = pa.table({"job": [pickle.dumps(j) for j in jobs], "clip": [False] * len(jobs)})
out = _read_batch(batch, max_pixels=10**8)
print(sum(i is not None for i in out.column("image").to_pylist()), sum(r is not None for r in out.column("result").to_pylist()), "torch" in sys.modules)
"""
    files = sorted(map(str, photos.glob("*.jpg")))  # (a bad file's error line is engine.py's, with torch)
    done = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(files)), "0", "False"]


def test_decoded_images_travel_as_8_bits_and_come_back_bit_for_bit(tmp_path, data):
    """8-bit images go through the object store as their 8-bit values (a quarter of float32's
    bytes) and are the pixels read_image gave; 16-bit ones travel as they are."""
    from PIL import Image

    from i2i.engine.ray_job import _pack, _unpack

    rgba = np.random.default_rng(0).integers(0, 256, (40, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.arange(40 * 30, dtype=np.uint16).reshape(40, 30) * 50).save(tmp_path / "deep.png")
    files = [*sorted((data / "monet2photo/testB").iterdir())[:3], tmp_path / "rgba.png", tmp_path / "deep.png"]
    for f in files:
        image = read_image(f)
        packed = _pack(image)
        back = _unpack(packed)
        assert back.pixels.dtype == np.float32 and np.array_equal(back.pixels, image.pixels), f
        assert (back.alpha is None) == (image.alpha is None) and (
            image.alpha is None or np.array_equal(back.alpha, image.alpha)
        )
        assert back.bit_depth == image.bit_depth
        if image.bit_depth == 8:
            assert len(packed) < image.pixels.nbytes / 2


def test_ray_refuses_stdin(cli, tmp_path):
    r = cli("upscale", "-", "-o", tmp_path / "out", "--ray", "local", input=b"")
    assert r.returncode == 2 and "--ray" in r.stderr.decode()
