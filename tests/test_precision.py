"""--precision: int8 (quantised after training) and bf16 run only within the task's tolerance of
fp32 and, under auto, only where measurably faster; a fragile model is refused; the int8 cache
follows the calibration crops and the runtime; every precision stays within tolerance on a real
image; --json and `i2i info` say what ran."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
import torch
from test_archs import SMALL
from test_backends import _custom, _loaded, _photo_batch
from torch import nn

from i2i.checkpoint import load_model, save_model
from i2i.engine import cache
from i2i.engine.backends import ModelGraphs, TorchBackend, native_bf16, native_int8, precision_of, runtime_missing
from i2i.engine.runner import ModelRunner
from i2i.engine.selection import TOLERANCE, BackendSelector, Candidate
from i2i.errors import UsageError
from i2i.task import Task

HAS_INT8 = native_int8() and runtime_missing("onnxruntime") is None
HAS_BF16 = runtime_missing("openvino") is None and native_bf16()
needs_int8 = pytest.mark.skipif(not HAS_INT8, reason="no native int8 here (or no ONNX Runtime)")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path / "cache"))


def _differences(got: torch.Tensor, expected: torch.Tensor) -> tuple[float, float]:
    """Mean and 99.9th percentile of |got - expected|, in 8-bit levels."""
    d = (got - expected).abs().flatten().double()
    return float(d.mean()) * 255, float(torch.quantile(d, 0.999)) * 255


class _Fragile(nn.Module):
    """x + 1000 (the first convolution, kept fp32), a 1x1 identity convolution (quantised: its input
    spans 0..1001, so 8 bits step by about 4, and bf16 by 4 too), then - 1000 (the last, fp32):
    exact in fp32, far outside any tolerance in int8 or bf16."""

    def __init__(self):
        super().__init__()
        self.up, self.mid, self.down = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            for conv, bias in ((self.up, 1000.0), (self.mid, 0.0), (self.down, -1000.0)):
                conv.weight.copy_(torch.eye(3)[:, :, None, None])
                conv.bias.fill_(bias)

    def forward(self, x):
        return self.down(self.mid(torch.relu(self.up(x))))


@needs_int8
@pytest.mark.parametrize("precision", ["int8", "auto"])
def test_a_fragile_model_is_refused_with_a_note(data, precision):
    x = _photo_batch(data, 3)
    runner = ModelRunner(_custom(_Fragile()), device="cpu", precision=precision, tile=0)
    got = runner(x)
    assert precision_of(runner.last_backend) == "fp32", runner.notes
    refused = [n for n in runner.notes if "int8 is not used" in n and "over tolerance" in n]
    assert refused and all(len(n.splitlines()) == 1 for n in refused), runner.notes
    assert (got - x).abs().max() <= 1e-3


def _selector(precision: str, backend: str = "auto") -> tuple[BackendSelector, list[str]]:
    model = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=4))
    notes: list[str] = []
    torch_backend = TorchBackend(model.module, torch.device("cpu"))
    return BackendSelector(model, torch_backend, backend=backend, precision=precision, note=notes.append), notes


def test_auto_takes_a_lower_precision_only_when_measurably_faster():
    """The decision on measured results (seconds on the crop, whether within tolerance)."""
    fp32, int8, bf16 = Candidate("onnxruntime"), Candidate("onnxruntime", "int8"), Candidate("openvino", "bf16")
    candidates = [fp32, int8, bf16]

    def results(int8_seconds, int8_ok=True):
        return {
            "torch": {"ok": True, "seconds": 1.0},
            "onnxruntime": {"ok": True, "seconds": 0.5},
            "onnxruntime int8": {"ok": int8_ok, "seconds": int8_seconds, "problem": "over tolerance"},
            "openvino bf16": {"ok": True, "seconds": 0.49},
        }

    selector, notes = _selector("auto")
    assert selector._pick(candidates, results(0.48), just_measured=True) == fp32
    assert any("int8 is not used" in n and "not measurably faster" in n for n in notes), notes
    assert any("bf16 is not used" in n and "not measurably faster" in n for n in notes), notes
    assert selector._pick(candidates, results(0.3), just_measured=False) == int8
    assert selector._pick(candidates, results(0.3, int8_ok=False), just_measured=False) == fp32
    forced, _ = _selector("int8")  # asked for by name: within tolerance is enough
    assert forced._pick([fp32, int8], results(0.48), just_measured=False) == int8
    assert forced._pick([fp32, int8], results(0.48, int8_ok=False), just_measured=False) == fp32


def test_torch_is_timed_as_often_as_the_runtimes():
    """Torch's first batch-1 run after the batch-2 round can pay for new kernels: timed once, it
    lost to OpenVINO on an AVX2-only Zen 1 where whole images ran 1.23x faster through torch."""
    selector, _ = _selector("auto")
    crop = torch.rand(1, 3, 8, 8)
    pair = torch.cat([crop, crop.flip(-1)])
    calls = {"torch": 0, "openvino": 0}

    def runner(name, first_timed, later):
        def run(x):
            calls[name] += 1
            if x.shape[0] == 1:  # a timed round: the first one slow for torch
                time.sleep(first_timed if calls[name] == 2 else later)
            return x

        return run

    runners = {"torch": runner("torch", 0.08, 0.01), "openvino": runner("openvino", 0.03, 0.03)}
    _, times = selector._timed_runs(runners, pair, crop, {})
    assert len(times["torch"]) == len(times["openvino"]) == 2
    assert min(times["torch"]) < min(times["openvino"])


def test_a_heavy_network_is_measured_on_a_smaller_crop(monkeypatch):
    """At MEASURE_SIDE, RRDB in RealESRGAN_x4plus's shape spent 256 s (2-core Sapphire Rapids
    Xeon; 857 s on a Zen 1) measuring backends before its first image; a light network keeps
    the full crop, whose cache effects rank the runtimes as whole images do."""
    from i2i.engine import selection

    photo = torch.rand(1, 3, 300, 300)
    light, _ = _selector("auto")
    crop, pair = light._measurement_pair(photo, runners=6)
    assert crop.shape[-2:] == (selection.MEASURE_SIDE, selection.MEASURE_SIDE) and pair.shape[0] == 2

    heavy, _ = _selector("auto")
    seconds_per_pixel = 2e-5
    heavy.torch = lambda x: time.sleep(seconds_per_pixel * x.shape[-2] * x.shape[-1]) or x
    monkeypatch.setattr(selection, "MEASURE_BUDGET_SECONDS", 1.0)
    crop, _ = heavy._measurement_pair(photo, runners=2)
    # sqrt(1 s / (2 runners x 4 crops x 2e-5 s)) = 79 px a side (both probes say so); a sleep only runs long
    assert selection.MIN_MEASURE_SIDE <= crop.shape[-1] == crop.shape[-2] <= 79
    assert heavy._measurement_pair(photo, runners=2)[0].shape == crop.shape  # once per selector


def test_impossible_precisions_are_one_line_usage_errors():
    model = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=2))
    with pytest.raises(UsageError, match="int8 runs through ONNX Runtime or OpenVINO"):
        ModelRunner(model, device="cpu", precision="int8", backend="torch")
    with pytest.raises(UsageError, match="must be fp32, fp16, bf16, int8 or auto"):
        ModelRunner(model, device="cpu", precision="int4")


@needs_int8
def test_int8_cache_is_rebuilt_when_calibration_or_runtime_changes(tmp_path, monkeypatch):
    from i2i.engine import backends, quantize

    model = _loaded("srresnet", SMALL["srresnet"], Task(kind="upscale", value_range="0,1", scale=2))
    built = []
    real_quantize = quantize.quantize_graph
    monkeypatch.setattr(quantize, "quantize_graph", lambda *a, **k: built.append(a[3]) or real_quantize(*a, **k))
    selector, _ = _selector("auto")
    key_before = selector._measure_key("3ch-2^16px")

    first = quantize.Int8Graphs(ModelGraphs(model)).path()
    assert quantize.Int8Graphs(ModelGraphs(model)).path() == first and len(built) == 1  # cached

    crops = tmp_path / "crops"
    crops.mkdir()
    for path in quantize.calibration_files()[:-1]:  # one crop fewer
        shutil.copy(path, crops / path.name)
    monkeypatch.setattr(quantize, "CALIBRATION_DIR", crops)
    quantize.calibration_sha256.cache_clear()
    try:
        second = quantize.Int8Graphs(ModelGraphs(model)).path()
        assert second != first and second.is_file() and len(built) == 2
        assert selector._measure_key("3ch-2^16px") != key_before  # measured again too

        real_versions = backends.versions()
        monkeypatch.setattr(backends, "versions", lambda: {**real_versions, "onnxruntime": "0.0.0-upgraded"})
        third = quantize.Int8Graphs(ModelGraphs(model)).path()
        assert third not in (first, second) and len(built) == 3
    finally:
        monkeypatch.undo()
        quantize.calibration_sha256.cache_clear()


def _shipped(name: str):
    from i2i.models import resolve

    return load_model(resolve(name))


PRECISIONS = ["fp32", "int8", "bf16"]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_precision_stays_within_tolerance_on_a_real_image(data, precision):
    """upscale-x4 on a real 96x72 crop (never a calibration image), each precision forced."""
    if precision == "int8" and not HAS_INT8 or precision == "bf16" and not HAS_BF16:
        pytest.skip(f"no native {precision} here")
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    x = rgb_of(read_image(data / "sr/val/Set14/comic.png"))[None, :, 100:172, 60:156]
    model = _shipped("upscale-x4")
    expected = ModelRunner(model, device="cpu", backend="torch", tile=0)(x)
    runner = ModelRunner(model, device="cpu", precision=precision, tile=0)
    got = runner(x)
    assert precision_of(runner.last_backend) == precision, runner.notes
    mean, tail = _differences(got, expected)
    bound_mean, bound_tail = TOLERANCE["upscale"]
    assert mean <= bound_mean * 255 and tail <= bound_tail * 255, (runner.last_backend, mean, tail)


def test_the_choice_is_reported_and_remembered(cli, tmp_path, data):
    """CLI default (--precision auto): --json names the backend and precision, `i2i info` the
    same choice for the request auto/auto; a second run measures nothing and runs the same."""
    from PIL import Image

    src = tmp_path / "in.png"
    Image.open(data / "sr/val/Set5/bird.png").resize((64, 48)).save(src)
    model = tmp_path / "sr.safetensors"
    m = _loaded("srresnet", {"channels": 32, "blocks": 4}, Task(kind="upscale", value_range="0,1", scale=4))
    save_model(model, m.module, m.info)
    env = {"I2I_CACHE_DIR": str(tmp_path / "cache")}
    measured = tmp_path / "cache" / "measured.json"
    runs = []
    for name in ("first", "second"):
        r = cli("upscale", "--model", model, src, "-o", tmp_path / f"{name}.png", "--json", env=env)
        assert r.returncode == 0, r.stderr
        runs.append((json.loads(r.stdout), measured.read_bytes()))
    (first, after_first), (second, after_second) = runs
    assert first["precision"] == precision_of(first["backend"]) and first["precision"] in ("fp32", "bf16", "int8")
    assert second["backend"] == first["backend"] and after_second == after_first  # nothing measured again
    info = json.loads(cli("info", model, "--json", env=env).stdout)["backends"]
    assert [r["chosen"] for r in info["ran"] if r["request"] == "auto/auto"] == [first["backend"]]
    assert info["precisions"][0] == "fp32" and any(p.startswith("int8") for p in info["precisions"]) == HAS_INT8
    if HAS_INT8:  # every int8 candidate was measured, and either ran, or is refused with a reason
        seconds = info["ran"][0]["seconds"]
        measured = set(seconds) | set(info["ran"][0]["refused"])
        assert {"onnxruntime int8"} <= measured, info
    out = np.asarray(Image.open(tmp_path / "first.png"))
    assert out.shape == (192, 256, 3)


def test_a_model_of_a_timed_architecture_is_checked_not_timed(data, tmp_path, monkeypatch):
    """A per-photo blend of the shipped x4 models is a new model of a timed architecture: the
    speeds measured on the first hold for it, and only the candidate picked is checked, on it."""
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path))
    timed = []
    real_timed_runs = BackendSelector._timed_runs
    monkeypatch.setattr(BackendSelector, "_timed_runs", lambda self, *a: timed.append(1) or real_timed_runs(self, *a))
    task = Task(kind="upscale", value_range="0,1", scale=4)
    first, second = _loaded("srresnet", SMALL["srresnet"], task), _loaded("srresnet", SMALL["srresnet"], task)
    with torch.no_grad():
        for p in second.module.parameters():
            p.mul_(0.9).add_(0.01)
    x = _photo_batch(data, 3)
    ModelRunner(first, device="cpu", precision="auto", tile=0)(x)
    runner = ModelRunner(second, device="cpu", precision="auto", tile=0)
    got = runner(x)
    assert len(timed) == 1, "the second model was timed again"
    assert not any("measuring backends" in n for n in runner.notes), runner.notes
    with torch.inference_mode():
        expected = second.module(x).clamp(0, 1)  # the second model's own output, not the first's
    assert (got - expected).abs().mean() <= TOLERANCE["upscale"][0]
    record = next(r for r in cache.read_measured().values() if r.get("speeds_of") is not None)
    ran = record["chosen"]["auto/auto"]
    assert ran == "torch" or record["results"][ran]["ok"], record  # what runs was checked on it


def test_a_candidate_that_fails_its_check_on_the_new_model_gives_way(data, tmp_path, monkeypatch):
    """The speeds come from another model; accuracy never does: a runtime over tolerance on the
    new model's own check is passed over for the next fastest (here every one: torch runs)."""
    monkeypatch.setenv("I2I_CACHE_DIR", str(tmp_path))
    task = Task(kind="upscale", value_range="0,1", scale=4)
    first, second = _loaded("srresnet", SMALL["srresnet"], task), _loaded("srresnet", SMALL["srresnet"], task)
    with torch.no_grad():
        next(second.module.parameters()).mul_(0.5)
    x = _photo_batch(data, 3)
    ModelRunner(first, device="cpu", precision="auto", tile=0)(x)
    monkeypatch.setattr(
        BackendSelector,
        "_accurate",
        lambda self, c, got, expected: (False, {"max_diff": 1.0, "mean_diff": 1.0, "tail_diff": 1.0}),
    )
    runner = ModelRunner(second, device="cpu", precision="auto", tile=0)
    runner(x)
    assert runner.last_backend == "torch"
    record = next(r for r in cache.read_measured().values() if r.get("speeds_of") is not None)
    checked = [label for label, r in record["results"].items() if label != "torch" and not r.get("unchecked")]
    assert checked and all(record["results"][label]["ok"] is False for label in checked), record
