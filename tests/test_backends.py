"""Inference backends: every architecture and peer layout on every installed runtime equals torch,
at odd sizes, in batches and in tiles (with whole-image instance-norm statistics); the export
cache is rebuilt when it should be; `i2i export` round-trips; a missing runtime is said and skipped."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import peers
import pytest
import torch
from test_archs import SMALL
from torch import nn

from i2i.archs.registry import ARCHS, build, get_spec
from i2i.checkpoint import LoadedModel, ModelInfo, load_model, save_model
from i2i.engine.backends import RUNTIMES, BackendError, ModelGraphs, runtime_missing
from i2i.engine.runner import ModelRunner
from i2i.errors import UsageError
from i2i.task import Task

INSTALLED = [name for name in RUNTIMES if runtime_missing(name) is None]
TOLERANCE = 1e-3  # output units of [0, 1]; fp32 runtimes measure 1e-7 .. 4e-5 here
# The matrices below (every architecture, peer layout and community family on every runtime)
# run on the first installed runtime by default and on the others with the slow tests: each
# runtime takes the same exported graph, and the engine tests here run on all of them.
MATRIX_RUNTIMES = [r if r == INSTALLED[0] else pytest.param(r, marks=pytest.mark.slow) for r in INSTALLED]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "cache"))


def _loaded(arch: str, options: dict, task: Task) -> LoadedModel:
    torch.manual_seed(0)
    module, cfg = build(arch, options)
    info = ModelInfo(arch=arch, options=dataclasses.asdict(cfg), task=task)
    return LoadedModel(module=module.eval().requires_grad_(False), info=info, spec=get_spec(arch), config=cfg)


def _task_for(arch: str, cfg) -> Task:
    if arch == "srresnet":
        return Task(kind="upscale", value_range="0,1", scale=cfg.scale)
    if arch == "transformer_net":
        return Task(kind="stylize", value_range="0,255")
    if getattr(cfg, "in_channels", 3) == 1:
        return Task(kind="colorize", in_space="L", out_space="ab")
    return Task()


def _randomize(module: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                t.copy_(
                    torch.rand(t.shape, generator=g) + 0.5
                    if name.endswith("running_var")
                    else torch.randn(t.shape, generator=g) * 0.1
                )
    return module.eval()


def _peer(make, tmp_path) -> LoadedModel:
    path = tmp_path / "peer.pth"
    torch.save(_randomize(make()).state_dict(), path)
    return load_model(path)


# Built from options; the "spandrel" architecture is built from community files (below).
GENERATORS = sorted(a for a in ARCHS if ARCHS[a].generator and ARCHS[a].from_weights is None)
PEERS = {
    "pix2pix unet_128 instance": lambda: peers.UnetGenerator(3, 3, 7, ngf=4, norm_layer=peers.INSTANCE),
    "colorization unet batch": lambda: peers.UnetGenerator(1, 2, 7, ngf=4),
    "cyclegan resnet instance": lambda: peers.ResnetGenerator(3, 3, ngf=4, norm_layer=peers.INSTANCE, n_blocks=2),
    "fast_neural_style": peers.TransformerNet,
    "basicsr msrresnet x4": lambda: peers.MSRResNet(num_feat=8, num_block=2, upscale=4),
}


def _photo_batch(data, channels: int) -> torch.Tensor:
    """Three real 45x37 crops (odd sizes: the engine pads them), in [0, 1]."""
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    img = rgb_of(read_image(data / "sr/val/Set14/lenna.png"))
    x = torch.stack([img[:, 100:137, 200:245], img[:, 300:337, 50:95], img[:, 400:437, 400:445]])
    return x.mean(1, keepdim=True) if channels == 1 else x


def _check_runtime_equals_torch(model: LoadedModel, data, runtime: str) -> None:
    channels = getattr(model.config, "in_channels", 3)
    x = _photo_batch(data, channels)
    expected = ModelRunner(model, device="cpu", backend="torch", tile=0)(x)
    runner = ModelRunner(model, device="cpu", backend=runtime, tile=0)
    got = runner(x)
    assert runner.last_backend == runtime, runner.notes
    assert got.shape == expected.shape and (got - expected).abs().max() <= TOLERANCE
    if model.spec.tiles:  # 24 px tiles over 45x37: a 2x2 grid with blended overlaps
        expected = ModelRunner(model, device="cpu", backend="torch", tile=24)(x[:1])
        tiled = ModelRunner(model, device="cpu", backend=runtime, tile=24)
        got = tiled(x[:1])
        assert tiled.last_backend == runtime, tiled.notes
        assert (got - expected).abs().max() <= TOLERANCE


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize("runtime", MATRIX_RUNTIMES)
@pytest.mark.parametrize("arch", GENERATORS)
def test_every_architecture_runs_on_every_runtime(arch, runtime, data):
    _, cfg = build(arch, SMALL[arch])
    _check_runtime_equals_torch(_loaded(arch, SMALL[arch], _task_for(arch, cfg)), data, runtime)


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize("runtime", MATRIX_RUNTIMES)
@pytest.mark.parametrize(
    "arch,extra", [("unet", {"full_res_channels": 4}), ("transformer_net", {})], ids=["unet", "transformer_net"]
)
def test_bilinear_upsampling_runs_on_every_runtime(runtime, arch, extra, data):
    """The U-Net (with a full-resolution hidden layer) and the TransformerNet with bilinear x2
    steps: ONNX's Resize in linear mode matches torch's bilinear x2."""
    options = {**SMALL[arch], "upsample": "bilinear", **extra}
    _, cfg = build(arch, options)
    _check_runtime_equals_torch(_loaded(arch, options, _task_for(arch, cfg)), data, runtime)


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize("runtime", MATRIX_RUNTIMES)
@pytest.mark.parametrize("layout", sorted(PEERS))
def test_every_peer_layout_runs_on_every_runtime(layout, runtime, data, tmp_path):
    _check_runtime_equals_torch(_peer(PEERS[layout], tmp_path), data, runtime)


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize("runtime", MATRIX_RUNTIMES)
@pytest.mark.parametrize(
    "family",
    [
        "esrgan-old-layout",
        "realesrgan-x2plus-unshuffle",
        "srvggnet-compact",
        "swinir",
        "realcugan",
        "span-dataparallel-safetensors",
    ],
)
def test_every_community_family_runs_on_every_runtime_or_says_why(family, runtime, data, tmp_path):
    """Community files (through spandrel) on a runtime: torch's output within tolerance, or, for
    a network whose export fails or disagrees, an error naming the runtime (and another backend
    under auto)."""
    from test_spandrel import make_family

    model = load_model(make_family(family, tmp_path)[0])
    x = _photo_batch(data, 3)
    expected = ModelRunner(model, device="cpu", backend="torch", tile=0)(x)
    runner = ModelRunner(model, device="cpu", backend=runtime, tile=0)
    try:
        got = runner(x)
    except BackendError as e:
        assert f"--backend {runtime}: " in str(e)
        runner = ModelRunner(model, device="cpu", backend="auto", tile=0)
        got = runner(x)
        assert runner.last_backend != runtime
    else:
        assert runner.last_backend == runtime
    assert got.shape == expected.shape and (got - expected).abs().max() <= TOLERANCE


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize("runtime", INSTALLED)
def test_engine_features_on_every_runtime(runtime, data, tmp_path):
    """A batch of three same-size images (RGBA, gray, 16-bit gray) and a tiled RGB image streamed
    to PNG band by band, through the runtime: the same files as torch writes, within a level."""
    from PIL import Image

    from i2i.data.image_io import quantize, read_image
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import OutputOptions, expand_inputs

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    photo = Image.open(data / "sr/val/Set14/lenna.png").convert("RGB")
    Image.fromarray(
        np.dstack([np.asarray(photo.resize((30, 20))), rng.integers(0, 255, (20, 30), dtype=np.uint8)])
    ).save(folder / "a_rgba.png")
    photo.convert("L").resize((30, 20)).save(folder / "b_gray.png")
    Image.fromarray(np.asarray(photo.convert("L").resize((30, 20)), dtype=np.uint16) * 257).save(folder / "c_g16.png")
    photo.resize((150, 110)).save(folder / "d_big.png")
    _, cfg = build("srresnet", SMALL["srresnet"])
    model = _loaded("srresnet", SMALL["srresnet"], _task_for("srresnet", cfg))
    engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu", backend=runtime, tile=64)
    jobs, _, _ = expand_inputs([str(folder)])
    results = list(engine.process(jobs, OutputOptions(out=str(tmp_path / "out"))))
    assert [r.backend for r in results] == [runtime] * 4 and all(r.ok for r in results), results
    reference = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu", backend="torch", tile=64)
    for name, mode, depth in (("a_rgba", "RGBA", 8), ("b_gray", "L", 8), ("c_g16", "I;16", 16), ("d_big", "RGB", 8)):
        written = Image.open(tmp_path / "out" / f"{name}.png")
        expected = reference.run_image(read_image(folder / f"{name}.png"))
        assert written.mode == mode and written.size == expected.size, name
        got = np.asarray(written).astype(np.int64)
        want = quantize(expected.pixels, depth).astype(np.int64)
        if mode == "RGBA":
            got = got[..., :3]
        assert np.abs(got - want.reshape(got.shape)).max() <= (1 if depth == 8 else 300), name


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
def test_instance_norm_tiles_get_whole_image_statistics_on_the_runtime(data):
    """Tiles normalised with their own statistics would differ from the whole image by far more."""
    model = _loaded("transformer_net", {"width": 8, "res_blocks": 2}, Task(kind="stylize", value_range="0,255"))
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    x = rgb_of(read_image(data / "sr/val/Set14/lenna.png"))[None]
    runner = ModelRunner(model, device="cpu", backend=INSTALLED[0], tile=160)
    tiled = runner(x)
    assert runner.last_backend == INSTALLED[0], runner.notes
    whole = ModelRunner(model, device="cpu", backend="torch", tile=0)(x)
    for y0 in range(0, 512, 128):
        for x0 in range(0, 512, 128):
            a = whole[..., y0 : y0 + 128, x0 : x0 + 128].mean(dim=(2, 3))
            b = tiled[..., y0 : y0 + 128, x0 : x0 + 128].mean(dim=(2, 3))
            assert (a - b).abs().max().item() < 0.03


class _Unexportable(nn.Module):
    """Uses an operation the ONNX exporter has no translation for (aten::cummax)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return torch.cummax(self.conv(x), -1)[0]


class _BakedWidth(nn.Module):
    """Traces to a graph that keeps its sample width as a constant: wrong at any other width."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(x) + float(x.shape[-1]) / 100


class _BakedBatch(nn.Module):
    """Loops over the images of a batch in Python: the traced graph keeps the sample's batch of one."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.conv(x[i : i + 1]) for i in range(x.shape[0])])


def _custom(module: nn.Module) -> LoadedModel:
    torch.manual_seed(0)
    model = _loaded("transformer_net", {"width": 4, "res_blocks": 1}, Task(kind="translate", value_range="0,1"))
    model.module = module.eval().requires_grad_(False)
    return model


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
@pytest.mark.parametrize(
    "module,problem",
    [(_Unexportable, "cannot export"), (_BakedWidth, "differs from torch"), (_BakedBatch, "differs from torch")],
)
def test_a_case_a_runtime_cannot_run_falls_back_under_auto_and_fails_when_named(module, problem):
    model = _custom(module())
    x = torch.rand(2, 3, 36, 52)
    expected = ModelRunner(model, device="cpu", backend="torch")(x)
    runner = ModelRunner(model, device="cpu", backend="auto")
    got = runner(x)
    assert runner.last_backend == "torch"
    assert torch.equal(got, expected)
    assert any(problem in note for note in runner.notes), runner.notes
    with pytest.raises(BackendError, match=f"--backend {INSTALLED[0]}: .*{problem}"):
        ModelRunner(model, device="cpu", backend=INSTALLED[0])(x)


@pytest.mark.skipif("onnxruntime" not in INSTALLED, reason="ONNX Runtime not installed")
def test_the_cache_is_rebuilt_after_the_checkpoint_changes_or_an_entry_is_corrupt(tmp_path, data):
    from i2i.engine import cache

    _, cfg = build("srresnet", SMALL["srresnet"])
    model = _loaded("srresnet", SMALL["srresnet"], _task_for("srresnet", cfg))
    path = tmp_path / "sr.safetensors"
    save_model(path, model.module, model.info)
    x = _photo_batch(data, 3)

    def run(expect_key=None):
        loaded = load_model(path)
        runner = ModelRunner(loaded, device="cpu", backend="onnxruntime", tile=0)
        out = runner(x)
        assert runner.last_backend == "onnxruntime", runner.notes
        torch_out = ModelRunner(loaded, device="cpu", backend="torch", tile=0)(x)
        assert (out - torch_out).abs().max() <= TOLERANCE  # never a stale graph's output
        return ModelGraphs(loaded).graph_key("plain")

    first = run()
    graph = cache.cache_dir() / "onnx" / f"{first}.onnx"
    assert graph.is_file()
    # A changed checkpoint at the same path: a new key, a new graph.
    with torch.no_grad():
        model.module.conv_first.weight.mul_(-1)
    save_model(path, model.module, model.info)
    second = run()
    assert second != first and (cache.cache_dir() / "onnx" / f"{second}.onnx").is_file()
    # A corrupt entry (bytes changed under its record) is rebuilt, not trusted.
    graph = cache.cache_dir() / "onnx" / f"{second}.onnx"
    graph.write_bytes(b"not an onnx graph")
    cache._file_sha256.cache_clear()
    assert run() == second
    assert graph.read_bytes()[:4] != b"not "


@pytest.mark.skipif("onnxruntime" not in INSTALLED, reason="ONNX Runtime not installed")
def test_export_round_trips_with_metadata(cli, tmp_path, data):
    import onnxruntime as ort

    from i2i.engine.onnx_export import read_metadata

    src = tmp_path / "latest_net_G.pth"
    torch.save(_randomize(peers.ResnetGenerator(3, 3, ngf=4, norm_layer=peers.INSTANCE, n_blocks=2)).state_dict(), src)
    out = tmp_path / "g.onnx"
    r = cli("export", src, "-o", out, "--image", data / "sr/val/Set5/bird.png", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["max_diff"] < 1e-4 and report["runtime"].startswith("onnxruntime")
    assert report["input"] == [2, 3, 288, 288]  # bird.png, 288x288, and its mirror image
    meta = read_metadata(out)
    assert report["metadata"] == meta
    task = json.loads(meta["i2i.task"])
    assert (meta["i2i.arch"], task["value_range"], meta["i2i.scale"]) == ("resnet", "-1,1", "1")
    assert (meta["i2i.in_space"], meta["i2i.out_space"], meta["i2i.size_multiple"]) == ("RGB", "RGB", "4")
    assert json.loads(meta["i2i.options"])["blocks"] == 2
    # The file runs on its own at another size and batch, and equals torch.
    model = load_model(src)
    x = torch.rand(3, 3, 44, 60) * 2 - 1
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        expected = model.module(x).numpy()
    assert np.abs(got - expected).max() < 1e-4
    r = cli("export", src, "-o", out)
    assert r.returncode == 2 and b"exists" in r.stderr


def test_export_of_an_unexportable_module_fails_cleanly(tmp_path):
    from i2i.engine.onnx_export import ExportError, export_file

    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="cannot export"):
        export_file(_custom(_Unexportable()), out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_impossible_requests_are_usage_errors():
    model = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=2))
    with pytest.raises(UsageError, match="--backend must be"):
        ModelRunner(model, device="cpu", backend="tensorrt")
    with pytest.raises(UsageError, match="fp16 needs a CUDA"):
        ModelRunner(model, device="cpu", precision="fp16")
    with pytest.raises(UsageError, match="runs through OpenVINO"):
        ModelRunner(model, device="cpu", precision="bf16", backend="onnxruntime")


@pytest.fixture
def without_openvino(tmp_path):
    """A PYTHONPATH on which `import openvino` fails, as on a machine without the extra."""
    fake = tmp_path / "no-openvino" / "openvino"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named openvino')\n")
    return {"PYTHONPATH": str(fake.parent)}


def test_a_missing_runtime_is_one_line_and_auto_goes_on(cli, tmp_path, data, without_openvino):
    src = tmp_path / "in.png"
    from PIL import Image

    Image.open(data / "sr/val/Set5/baby.png").resize((40, 30)).save(src)
    model = tmp_path / "x2.safetensors"
    m = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=4))
    save_model(model, m.module, m.info)
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "a.png", "--backend", "openvino", env=without_openvino)
    assert r.returncode == 2 and not (tmp_path / "a.png").exists()
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "OpenVINO is not installed" in lines[0] and "i2i[openvino]" in lines[0]
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "b.png", env=without_openvino)
    assert r.returncode == 0 and (tmp_path / "b.png").is_file(), r.stderr
    assert b"OpenVINO is not installed" in r.stderr


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
def test_an_unwritable_cache_is_named_and_a_named_runtime_never_silently_replaced(cli, tmp_path):
    """The cache folder's onnx/ cannot be made (a file is in the way; permissions would not stop
    root): a runtime named by --backend fails the input with that cause; auto runs torch and says
    why, without remembering it; once the folder is writable, the named runtime runs."""
    from PIL import Image

    runtime = INSTALLED[0]
    src = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(src)
    model = tmp_path / "x2.safetensors"
    m = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=4))
    save_model(model, m.module, m.info)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "onnx").write_text("in the way")
    env = {"I2I_CACHE_DIR": str(cache)}
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "named.png", "--backend", runtime, env=env)
    assert r.returncode == 1 and not (tmp_path / "named.png").exists()
    error = r.stderr.decode().splitlines()[-2]
    assert error.startswith(f"i2i: error: {src}: --backend {runtime}: cannot run ") and "cannot load" not in error
    assert f"cannot write the exported graph to the cache folder {cache / 'onnx'}" in error and "I2I_CACHE_DIR" in error
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "auto.png", env=env)
    assert r.returncode == 0 and (tmp_path / "auto.png").is_file(), r.stderr
    assert f"note: {runtime} is not used for srresnet: cannot write the exported graph".encode() in r.stderr
    assert not (cache / "measured.json").exists()  # a cause of the moment is not remembered
    (cache / "onnx").unlink()
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "fixed.png", "--backend", runtime, "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["backend"].split()[0] == runtime, r.stderr  # in any precision


@pytest.mark.skipif(not INSTALLED, reason="no ONNX runtime installed")
def test_json_and_info_say_which_backend_ran(cli, tmp_path, data):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.open(data / "sr/val/Set5/bird.png").resize((48, 40)).save(src)
    model = tmp_path / "sr.safetensors"
    m = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=4))
    save_model(model, m.module, m.info)
    r = cli("upscale", "--model", model, src, "-o", tmp_path / "out.png", "--json")
    assert r.returncode == 0, r.stderr
    ran = json.loads(r.stdout)["backend"]
    assert ran.split()[0] in ("torch", *INSTALLED)  # "openvino int8": --precision auto is the default
    info = json.loads(cli("info", model, "--json").stdout)
    assert [r["chosen"] for r in info["backends"]["ran"] if r["request"] == "auto/auto"] == [ran]
    assert set(INSTALLED) <= set(info["backends"]["installed"])


class _Cancelling(nn.Module):
    """Adds 1000 then takes it away: exact in fp32, about 2 (of an output range of 1) off in bf16."""

    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            for conv, bias in ((self.up, 1000.0), (self.down, -1000.0)):
                conv.weight.copy_(torch.eye(3)[:, :, None, None])
                conv.bias.fill_(bias)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


def _native_bf16() -> bool:
    from i2i.engine.backends import native_bf16

    return native_bf16()


@pytest.mark.skipif("openvino" not in INSTALLED or not _native_bf16(), reason="no native bf16 through OpenVINO")
def test_bf16_runs_only_within_tolerance(data):
    x = _photo_batch(data, 3)
    model = _custom(_Cancelling())
    runner = ModelRunner(model, device="cpu", precision="bf16")
    got = runner(x)
    assert not runner.last_backend.endswith("bf16")
    assert any("bf16" in n and "over tolerance" in n for n in runner.notes), runner.notes
    assert (got - x).abs().max() <= TOLERANCE
    _, cfg = build("srresnet", SMALL["srresnet"])
    model = _loaded("srresnet", SMALL["srresnet"], _task_for("srresnet", cfg))
    runner = ModelRunner(model, device="cpu", precision="bf16", tile=0)
    got = runner(x)
    assert runner.last_backend == "openvino bf16", runner.notes
    expected = ModelRunner(model, device="cpu", backend="torch", tile=0)(x)
    assert (got - expected).abs().mean() <= 0.5 / 255


def test_help_imports_no_runtime():
    import subprocess

    code = (
        "import sys, i2i.cli; i2i.cli._register(); "
        "print([m for m in ('torch', 'onnx', 'onnxruntime', 'openvino') if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


@pytest.mark.skipif(runtime_missing("openvino") is not None, reason="OpenVINO not installed")
def test_loading_openvino_sends_no_telemetry_and_starts_no_process():
    """openvino's import sends a usage event through openvino_telemetry, which forks a process
    from a worker thread: it can deadlock the interpreter's exit. i2i imports it with the
    converter's own no-op stub, and leaves openvino_telemetry importable afterwards."""
    import subprocess

    code = (
        "import multiprocessing, sys\n"
        "from i2i.engine.backends import load_runtime\n"
        "load_runtime('openvino')\n"
        "from openvino.tools.ovc import telemetry_utils\n"
        "assert telemetry_utils.tm.__name__.endswith('telemetry_stub'), telemetry_utils.tm\n"
        "assert multiprocessing.active_children() == [] and 'openvino_telemetry' not in sys.modules\n"
        "import openvino_telemetry\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
