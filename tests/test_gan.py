"""Unconditional GANs: generate, latent arithmetic, inversion, dissection (issue 21)."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import start_cli
from PIL import Image

from i2i.archs.dcgan import DCGANGenerator, DCGANGeneratorConfig, init_weights
from i2i.checkpoint import ModelInfo, save_model
from i2i.errors import UsageError
from i2i.gan.dissect import dissect, sky_mask
from i2i.gan.generator import LatentGenerator, UnitEdit, parse_edit
from i2i.gan.latents import arithmetic, interpolate, sample_latents, save_latents, slerp
from i2i.models import shipped
from i2i.training.dcgan import calibrated, generate_task

SHIPPED = shipped()


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory) -> str:
    """A random 32x32 DCGAN generator file (precise-BN statistics, as the recipe exports)."""
    torch.manual_seed(0)
    cfg = DCGANGeneratorConfig(z_dim=16, size=32, ngf=8)
    net = DCGANGenerator(cfg)
    init_weights(net)
    path = tmp_path_factory.mktemp("gen") / "tiny.safetensors"
    save_model(
        path,
        calibrated(net, cfg.z_dim, batches=2, batch=32),
        ModelInfo(arch="dcgan_generator", options=dataclasses.asdict(cfg), task=generate_task(), name="tiny"),
    )
    return str(path)


def test_latents_are_seeded_per_index_and_truncated():
    a, b = sample_latents(8, 10, seed=3), sample_latents(3, 10, seed=3)
    assert torch.equal(a[:3], b) and not torch.equal(a, sample_latents(8, 10, seed=4))
    assert sample_latents(50, 10, seed=0, truncation=0.5).abs().max() <= 0.5
    with pytest.raises(UsageError):
        sample_latents(1, 10, 0, truncation=0)


def test_slerp_walks_the_sphere_between_its_ends():
    a, b = sample_latents(2, 100, seed=1)
    walk = interpolate(a, b, 5)
    assert torch.allclose(walk[0], a) and torch.allclose(walk[-1], b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    assert abs(mid.norm() - (a.norm() + b.norm()) / 2) < 0.1 * a.norm()  # no dip toward 0
    assert mid.norm() > ((a + b) / 2).norm()


def test_arithmetic_over_latent_files_and_seeds(tmp_path):
    z = sample_latents(4, 6, seed=0)
    save_latents(tmp_path / "set-a.safetensors", z)
    result = arithmetic(f"{tmp_path}/set-a.safetensors[0,1] - seed:5 + {tmp_path}/set-a.safetensors", 6)
    expected = z[:2].mean(0) - sample_latents(1, 6, seed=5)[0] + z.mean(0)
    assert torch.allclose(result, expected)
    for bad in ("seed:1 -", "seed:1 * seed:2", f"{tmp_path}/set-a.safetensors[9]", "missing.safetensors"):
        with pytest.raises(UsageError):
            arithmetic(bad, 6)


def test_generate_is_deterministic_per_seed(tiny_generator, tmp_path):
    def generate(*args):  # start-up bound: the runs go side by side, in two waves
        return start_cli("generate", "--model", tiny_generator, *args)

    def finish(process):
        out, err = process.communicate(timeout=600)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    a_latents = tmp_path / "a/latents.safetensors"
    first = {
        name: generate("-n", "3", "--seed", seed, "-o", tmp_path / name)
        for name, seed in (("a", 1), ("b", 1), ("c", 2))
    }
    first["grid"] = generate("-n", "3", "-o", tmp_path / "x.png")
    first["walk"] = generate("--interpolate", "1", "2", "--steps", "5", "--grid", "-o", tmp_path / "walk.png")
    first = {name: finish(p) for name, p in first.items()}
    runs = []
    for name in ("a", "b", "c"):
        assert first[name].returncode == 0, first[name].stderr
        runs.append([(tmp_path / name / f"{i:04d}.png").read_bytes() for i in range(3)])
        assert Image.open(tmp_path / name / "0000.png").size == (32, 32)
    assert runs[0] == runs[1] and runs[0] != runs[2]
    r = first["grid"]
    assert r.returncode == 2 and b"--grid" in r.stderr
    r = first["walk"]
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "walk.png").size == (5 * 34 + 2, 36)  # make_grid pads by 2
    # The latents file regenerates the same pictures; arithmetic over it; a second run into a
    # folder that holds outputs is refused.
    second = {
        "again": generate("-n", "3", "--seed", "1", "-o", tmp_path / "a"),
        "latent": generate("--latent", a_latents, "-o", tmp_path / "d"),
        "sum": generate(
            "--arithmetic", f"{a_latents}[0,1] - seed:3 + {a_latents}[2]", "-n", "2", "-o", tmp_path / "sum"
        ),
    }
    second = {name: finish(p) for name, p in second.items()}
    r = second["again"]
    assert r.returncode == 2 and b"exists" in r.stderr
    r = second["latent"]
    assert r.returncode == 0 and (tmp_path / "d/0002.png").read_bytes() == runs[0][2]
    r = second["sum"]
    assert r.returncode == 0, r.stderr
    from i2i.gan.latents import load_latents

    z = load_latents(a_latents)
    expected = z[:2].mean(0) - sample_latents(1, 16, seed=3)[0] + z[2]
    assert torch.allclose(load_latents(tmp_path / "sum/latents.safetensors")[0], expected)


def test_engine_commands_refuse_a_latent_generator(tiny_generator, tmp_path, cli):
    Image.new("RGB", (32, 32)).save(tmp_path / "in.png")
    r = cli("translate", "--model", tiny_generator, tmp_path / "in.png", "-o", tmp_path / "out.png")
    assert r.returncode == 2 and b"i2i generate" in r.stderr


def test_ablation_changes_exactly_those_channels(tiny_generator):
    gen = LatentGenerator.load(tiny_generator, device="cpu")
    z = sample_latents(4, gen.z_dim, seed=0)
    plain = gen.features("layer2", z)
    edits = [parse_edit("layer2:1,5", boost=False)]
    with gen.edited(edits):
        cut = gen.features("layer2", z)
        edited = gen(z)
    assert torch.equal(cut[:, [1, 5]], torch.zeros_like(cut[:, [1, 5]]))
    others = [c for c in range(plain.shape[1]) if c not in (1, 5)]
    assert torch.equal(cut[:, others], plain[:, others])
    assert not torch.equal(edited, gen(z))  # and the hooks are gone afterwards
    assert torch.equal(gen.features("layer2", z), plain)
    with gen.edited([UnitEdit(layer="layer1", units=(0,), boost=True, value=7.0)]):
        assert torch.all(gen.features("layer1", z)[:, 0] == 7.0)
    with pytest.raises(UsageError, match="units 0.."):
        with gen.edited([UnitEdit(layer="layer2", units=(999,))]):
            pass
    with pytest.raises(UsageError):
        parse_edit("layer2:1=3", boost=False)


class TopPainter(torch.nn.Module):
    """A toy generator: unit K of layer1 fires on the top third of the frame (and paints it
    white); the other units are noise. Dissection must find unit K for a "top" concept."""

    K, UNITS, SIZE = 5, 12, 32

    def __init__(self):
        super().__init__()
        self.layer1 = torch.nn.Identity()

    def forward(self, z):
        n = z.shape[0]
        g = torch.Generator().manual_seed(int(z.abs().sum() * 1000) % 2**31)
        maps = torch.rand(n, self.UNITS, 8, 8, generator=g)
        top = torch.zeros(8, 8)
        top[:3] = 1.0
        maps[:, self.K] = top * (1 + z[:, :1, None].abs()) + 0.05 * maps[:, self.K]
        maps = self.layer1(maps)
        up = torch.nn.functional.interpolate(maps[:, self.K : self.K + 1], size=(self.SIZE, self.SIZE))
        return (up.clamp(0, 1) * 2 - 1).expand(n, 3, self.SIZE, self.SIZE)

    def layers(self):
        return {"layer1": self.layer1}


def test_dissection_finds_the_unit_wired_to_the_top_of_the_image():
    gen = LatentGenerator(TopPainter(), z_dim=4, size=TopPainter.SIZE, device="cpu")
    n = 20
    top = torch.zeros(n, 32, 32, dtype=torch.bool)
    top[:, :12] = True
    report = dissect(gen, "layer1", concepts={"top": top, "bright": None}, n=n, quantile=0.6)
    assert report.top_units("top", 1) == (TopPainter.K,)
    assert report.ranking["top"][0].iou > 0.7 > report.ranking["top"][1].iou
    assert report.top_units("bright", 1) == (TopPainter.K,)


def test_sky_rule_marks_blue_tops_only():
    image = torch.zeros(1, 3, 10, 10)
    image[:, :, :5] = torch.tensor([0.45, 0.65, 0.95]).view(1, 3, 1, 1)  # blue sky on top
    image[:, :, 5:] = torch.tensor([0.45, 0.65, 0.95]).view(1, 3, 1, 1)  # the same blue below
    mask = sky_mask(image)[0]
    assert mask[:5].all() and not mask[6:].any()


def test_dissect_command_writes_a_report(tiny_generator, tmp_path, cli):
    r = cli(
        "dissect",
        "--model",
        tiny_generator,
        "--layer",
        "layer2",
        "-n",
        "16",
        "--top",
        "2",
        "--ablate-top",
        "2",
        "--concept",
        "sky",
        "--concept",
        "dark",
        "-o",
        tmp_path / "rep",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "rep/report.json").read_text())
    assert report["layer"] == "layer2" and set(report["ranking"]) == {"sky", "dark"}
    text = (tmp_path / "rep/report.md").read_text()
    for concept in ("sky", "dark"):
        unit = report["ranking"][concept][0]["unit"]
        assert (tmp_path / f"rep/units/{concept}_1_unit{unit}.png").is_file()
        assert (tmp_path / f"rep/ablate_{concept}.png").is_file() and f"ablate_{concept}.png" in text
    r = cli("dissect", "--model", tiny_generator, "--layer", "conv9", "-o", tmp_path / "bad")
    assert r.returncode == 2 and b"layer1" in r.stderr


@pytest.mark.slow  # the default budget of optimisation steps, run to the end
def test_invert_recovers_an_image_the_generator_made(tiny_generator, tmp_path, cli):
    """Default budget, random starts only: its own sample comes back at >= 25 dB, and the
    latent written regenerates the reconstruction; a broken file is that input's error."""
    r = cli("generate", "--model", tiny_generator, "-n", "1", "--seed", "11", "-o", tmp_path / "g")
    assert r.returncode == 0, r.stderr
    (tmp_path / "broken.png").write_bytes(b"not a png")
    r = cli(
        "invert",
        "--model",
        tiny_generator,
        tmp_path / "g/0000.png",
        tmp_path / "broken.png",
        "-o",
        tmp_path / "inv",
        "--json",
    )  # threads chosen by timing the first steps (devices.StepThreads)
    assert r.returncode == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["psnr"] >= 25 and lines[0]["threads"] in (1, 2), lines  # run_cli's OMP_NUM_THREADS=2
    assert lines[1]["error"] and "broken.png" in lines[1]["error"]
    r = cli("generate", "--model", tiny_generator, "--latent", lines[0]["latent"], "-o", tmp_path / "again")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again/0000.png").read_bytes() == (tmp_path / "inv/0000.png").read_bytes()


def _psnr(a: Image.Image, b: Image.Image) -> float:
    import numpy as np

    x, y = (np.asarray(i, dtype=np.float64) / 255 for i in (a, b))
    return 10 * math.log10(1 / max(((x - y) ** 2).mean(), 1e-12))


@pytest.mark.slow  # a full-budget inversion of the shipped 64x64 generator (the tiny one is inverted above)
@pytest.mark.skipif("dcgan-landscapes" not in SHIPPED, reason="dcgan-landscapes not shipped")
def test_shipped_dcgan_inverts_its_own_samples(tmp_path, cli):
    r = cli("generate", "-n", "1", "--seed", "21", "-o", tmp_path / "g")
    assert r.returncode == 0, r.stderr
    r = cli("invert", tmp_path / "g/0000.png", "-o", tmp_path / "inv", "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["psnr"] >= 25
    assert _psnr(Image.open(tmp_path / "g/0000.png"), Image.open(tmp_path / "inv/0000.png")) >= 25


def test_invert_takes_folders_and_globs_and_a_rerun_in_place_has_nothing_to_do(tiny_generator, tmp_path, cli):
    """One rule for inputs (engine/inputs.py): a folder (tree mirrored, videos and other files
    left out with a note) and a glob; with -o at the input folder the reconstructions are not
    taken as inputs again, and a rerun skips every input with a note and exit 0."""
    r = cli("generate", "--model", tiny_generator, "-n", "3", "--seed", "5", "-o", tmp_path / "g")
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.open(tmp_path / "g/0000.png").convert("RGB").save(folder / "a.jpg", quality=95)
    Image.open(tmp_path / "g/0001.png").save(folder / "sub/b.png")
    (folder / "clip.mp4").write_bytes(b"not read: a video is left out by its name")
    (folder / "notes.txt").write_text("not an image")
    fast = ["--model", tiny_generator, "--encoder", "none", "--starts", "1", "--steps", "3", "--perceptual", "0"]
    r = cli("invert", folder, tmp_path / "g/0002.png", tmp_path / "g/000[01].png", "-o", folder, *fast, "--json")
    assert r.returncode == 0, r.stderr
    rows = {Path(row["input"]).name: row for row in map(json.loads, r.stdout.splitlines())}
    written = sorted(Path(row["output"]).relative_to(folder).as_posix() for row in rows.values() if row["latent"])
    assert written == ["0000.png", "0001.png", "0002.png", "a.png"]
    assert all(Path(row["latent"]).is_file() for row in rows.values() if row["latent"])
    assert rows["b.png"]["skipped"] == "exists"  # its output would be itself: never replaced without --overwrite
    made = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    again = cli("invert", folder, "-o", folder, *fast)
    assert again.returncode == 0 and not again.stdout, again.stderr
    err = again.stderr.decode()
    assert "a.png: skipped: an output of an inversion" in err and "clip.mp4: skipped: a video" in err
    assert f"{folder / 'a.jpg'}: skipped: {folder / 'a.png'} exists" in err
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == made
    again = cli("invert", "photos", "-o", "photos", *fast, cwd=tmp_path)  # the sources were named otherwise
    assert again.returncode == 0 and not again.stdout and b"a.jpg: skipped: photos" in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == made
    r = cli("invert", folder / "a.jpg", "-o", folder, *fast, "--overwrite", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["output"] == str(folder / "a.png"), r.stderr
    assert (folder / "a.png").stat().st_mtime_ns != made[folder / "a.png"]


def test_step_threads_keeps_one_thread_where_more_collapse_and_more_where_they_pay():
    """devices.StepThreads times the loop's own steps: here a step takes 10x as long with two
    threads (a busy machine): one step with two ends the trial; then two 4x faster: kept."""
    import time

    from i2i.devices import StepThreads

    before = torch.get_num_threads()
    try:

        def run(chooser, seconds_by_threads):
            counts = []
            for _ in range(12):
                with chooser.timing():
                    counts.append(torch.get_num_threads())
                    time.sleep(seconds_by_threads[torch.get_num_threads()])
            return counts

        chooser = StepThreads(most=2)
        counts = run(chooser, {1: 0.004, 2: 0.04})
        assert chooser.chosen == 1 and counts.count(2) == 1 and counts[-1] == 1, counts
        chooser.restart()
        counts = run(chooser, {1: 0.02, 2: 0.005})
        assert chooser.chosen == 2 and counts[-1] == 2 and counts.count(1) == 4, counts
        assert StepThreads(most=1).chosen == 1
    finally:
        torch.set_num_threads(before)
