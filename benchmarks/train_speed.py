"""Training iterations/s of pix2pix (unet_256, batch 1, 256x256) and CycleGAN (resnet_9blocks,
batch 1, 256x256) through i2i's loop, against a plain loop of the same networks and losses
(NCHW, data loaded at batch 1 in the main thread, PyTorch's default kernels), side by side in
one run, as a ratio. What the loop adds: data loading in a worker process, PyTorch's fused Adam
(the plain loop has the default one), and on the CPU the stride-1 convolutions (forward and
input gradient) through NNPACK's Winograd kernels.
Also: training it/s with 1 and 2 torchrun processes (gloo) for pix2pix.

Run: python benchmarks/train_speed.py [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import DATA, ROOT, emit, machine  # noqa: E402
from i2i.training.api import recipe_classes, train  # noqa: E402
from i2i.training.loop import LoopOptions  # noqa: E402

OPTIONS = {
    "pix2pix": dict(data=str(DATA / "facades"), direction="BtoA"),
    "cyclegan": dict(data=str(DATA / "monet2photo")),
}


def ours(method: str, steps: int, run_dir: Path, batch_size: int = 1, **loop_values) -> float:
    options_cls, _ = recipe_classes(method)
    loop = LoopOptions(**{"steps": steps + 2, "log_every": 1, "sample_every": 10**6, "workers": 1, **loop_values})
    train(method, options_cls(**OPTIONS[method], batch_size=batch_size), loop, run_dir)
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    times = [r["time"] for r in recs if "time" in r]
    return 1 / statistics.median(b - a for a, b in zip(times[1:], times[2:]))  # two warm-up steps


def plain(method: str, steps: int) -> float:
    """The same recipe's step, fed by a hand-written batch-1 loop over the dataset."""
    options_cls, recipe_cls = recipe_classes(method)
    recipe = recipe_cls(options_cls(**OPTIONS[method]))
    recipe.setup(torch.device("cpu"), steps + 2)
    default_optimizers(recipe)
    dataset = recipe.dataset()
    collate = torch.utils.data.default_collate
    for k in range(2):
        recipe.train_step(collate([dataset[k]]), k)
    seconds = []
    for k in range(2, steps + 2):
        start = time.perf_counter()
        recipe.train_step(collate([dataset[k]]), k)
        seconds.append(time.perf_counter() - start)
    return 1 / statistics.median(seconds)


def default_optimizers(recipe) -> None:
    """Swap the recipe's fused Adams for PyTorch's default Adam, as a hand-written loop has it.

    The schedulers stay bound to the old optimizers, so the plain loop keeps its first learning
    rate: that changes no amount of work.
    """
    for name, opt in list(vars(recipe).items()):
        if isinstance(opt, torch.optim.Adam):
            (group,) = opt.param_groups
            setattr(recipe, name, torch.optim.Adam(group["params"], lr=group["lr"], betas=group["betas"]))


# Networks as the shipped models train them: (arch, options, batch, crop)
NETWORKS = [
    ("resnet", {}, 1, 256),
    ("srresnet", {"channels": 48, "blocks": 8, "scale": 4, "upsampler": "direct"}, 16, 32),
    ("transformer_net", {"width": 16}, 4, 160),
]


def kernels(repeats: int = 3) -> None:
    """One forward + backward of each network, PyTorch's kernels vs with NNPACK (use_nnpack)."""
    from i2i.archs.registry import build
    from i2i.kernels import use_nnpack

    for arch, options, batch, crop in NETWORKS:
        nets = {}
        for mode in ("default", "nnpack"):
            torch.manual_seed(0)
            nets[mode], _ = build(arch, options)
            if mode == "nnpack":
                use_nnpack(nets[mode])
        x = torch.randn(batch, 3, crop, crop)
        seconds = {mode: [] for mode in nets}
        for _ in range(repeats + 1):  # alternated, so that a slow spell hits both
            for mode, net in nets.items():
                start = time.perf_counter()
                net(x).square().mean().backward()
                seconds[mode].append(time.perf_counter() - start)
        rates = {mode: statistics.median(s[1:]) for mode, s in seconds.items()}
        ratio = rates["default"] / rates["nnpack"]
        print(
            f"{arch} forward+backward, batch {batch} at {crop}px: {rates['default']:.3f} s default, "
            f"{rates['nnpack']:.3f} s with NNPACK, {ratio:.2f}x"
        )
        emit(f"train step {arch} NNPACK speed-up", ratio, "x")


def distributed(steps: int, tmp: Path) -> None:
    for n in (1, 2):
        run = tmp / f"ddp{n}"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(n),
            "-m",
            "i2i",
            "train",
            "pix2pix",
            "--data",
            str(DATA / "facades"),
            "--direction",
            "BtoA",
            "--ngf",
            "32",
            "--ndf",
            "32",
            "--crop",
            "128",
            "--load-size",
            "143",
            "--num-downs",
            "7",
            "--steps",
            "40",
            "--workers",
            "0",
            "--run-dir",
            str(run),
            "--quiet",
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(2 // n)}
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        timed = [r for r in recs if "time" in r]  # logged every 10 steps; the first 10 are warm-up
        rate = (timed[-1]["step"] - timed[0]["step"]) / (timed[-1]["time"] - timed[0]["time"])
        print(f"pix2pix (unet_128, ngf 32) with {n} process(es): {rate:.2f} it/s, {rate * n:.2f} samples/s")
        emit(f"pix2pix torchrun {n} proc samples/s", rate * n, "samples/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"# training speed on {machine()}")
    kernels()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for method in ("pix2pix", "cyclegan"):
            base = plain(method, args.steps)
            mine = ours(method, args.steps, tmp / method)
            print(
                f"{method}: plain loop {base:.3f} it/s, i2i loop {mine:.3f} it/s, ratio {mine / base:.2f} "
                f"(medians of {args.steps} steps after 2 warm-up steps)"
            )
            emit(f"train {method} it/s", mine, "it/s")
            emit(f"train {method} ratio vs plain loop", mine / base, "x", ">= 1.5")
        distributed(args.steps, tmp)


if __name__ == "__main__":
    main()
