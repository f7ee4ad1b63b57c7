"""torchrun: data-parallel training with gloo on CPU, and folder jobs split between processes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from i2i.training.loop import _StepSampler

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """torchrun with two processes; on a timeout its workers die too (not only the launcher)."""
    proc = subprocess.Popen(
        [*TORCHRUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sampler_gives_ranks_disjoint_samples():
    a = list(_StepSampler(0, 8, rank=0, world=2))
    b = list(_StepSampler(0, 8, rank=1, world=2))
    assert not set(a) & set(b) and len(a) == len(b) == 8
    assert list(_StepSampler(3, 8, rank=1, world=2))[0] == 7  # resumes at the same place


WORKER = """
import hashlib, json, os, sys
from pathlib import Path
import torch, torch.distributed as dist
sys.path.insert(0, {tests!r})
sys.path.insert(0, str(Path({tests!r}).parent))  # this checkout's i2i, not an installed one
from test_training import tiny_options
from i2i.training.loop import LoopOptions, Trainer
from i2i.training.srgan import SRGANRecipe

recipe = SRGANRecipe(tiny_options("srgan", Path({data!r})))
seen = []
step_fn = recipe.train_step
def train_step(batch, step):
    seen.append(hashlib.sha1(batch["hr"].numpy().tobytes()).hexdigest())
    out = step_fn(batch, step)
    if step + 1 == 2 and dist.get_rank() == 0:
        trainer._stop_requested = True  # as Ctrl-C or --max-minutes on one process only
    return out
recipe.train_step = train_step
loop = LoopOptions(steps=4, log_every=1, sample_every=100, workers=0, threads=1, seed=3)
trainer = Trainer(recipe, loop, Path({run!r}), batch_size=2)
trainer.run()
# No collectives after the run: each process reports to its own file.
flat = torch.cat([p.detach().flatten() for p in recipe.g.parameters()])
Path({report!r}.format(os.environ["RANK"])).write_text(json.dumps({{
    "weights": hashlib.sha1(flat.numpy().tobytes()).hexdigest(), "batches": seen,
    "closed": not dist.is_initialized()}}))  # the trainer tears down the process group it started
"""


@pytest.mark.slow  # two processes under torchrun, each starting torch and gloo
def test_two_processes_train_then_resume_alone(data, tmp_path):
    from i2i.training.api import resume

    run, report = tmp_path / "run", str(tmp_path / "report{}.json")
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(ROOT / "tests"), data=str(data), run=str(run), report=report))
    r = torchrun(str(script))
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    rank0, rank1 = (json.loads(Path(report.format(rank)).read_text()) for rank in (0, 1))
    assert rank0["weights"] == rank1["weights"] and rank0["closed"] and rank1["closed"]
    rank0, rank1 = rank0["batches"], rank1["batches"]
    assert len(rank0) == len(rank1) == 2 and not set(rank0) & set(rank1)
    resumed = resume(run)  # one process continues the two-process run
    assert resumed.finished and resumed.step == 4


@pytest.mark.slow  # two processes under torchrun, each starting torch and gloo
def test_folder_job_processes_every_input_exactly_once(data, tmp_path):
    from i2i.archs.registry import build
    from i2i.checkpoint import ModelInfo, save_model
    from i2i.task import Task

    module, cfg = build("srresnet", {"scale": 2, "channels": 4, "blocks": 1})
    model = tmp_path / "m.safetensors"
    save_model(
        model,
        module,
        ModelInfo(
            arch="srresnet", options=dataclasses.asdict(cfg), task=Task(kind="upscale", value_range="0,1", scale=2)
        ),
    )
    src = tmp_path / "in"
    src.mkdir()
    files = sorted((data / "monet2photo/testB").iterdir())[:7]
    for f in files:
        Image.open(f).resize((32, 32)).save(src / f.name)
    (src / "broken.png").write_bytes(b"nope")
    r = torchrun("-m", "i2i", "upscale", "--model", str(model), str(src), "-o", str(tmp_path / "out"), "--json")
    assert r.returncode != 0  # the broken input on one rank fails the whole job
    lines = [json.loads(line) for line in r.stdout.decode().splitlines() if line.startswith("{")]
    inputs = sorted(Path(line["input"]).name for line in lines)
    assert inputs == sorted([f.name for f in files] + ["broken.png"])
    assert len(list((tmp_path / "out").iterdir())) == 7
