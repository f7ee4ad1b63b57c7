"""Folder jobs on Ray Data against the single-process engine, on this machine.

images/s of one folder job over 200 real 256x256 photos (monet2photo trainB) through `i2i
stylize` (a light network: ~25 ms a photo, so Ray's fixed start is much of the job) or `i2i
upscale` (`--command upscale`: the shipped default, x4 to 1024x1024 with the per-photo blend):
the command as a user runs it on one machine (`i2i stylize IN/ -o OUT/`) against the
same command on Ray Data with 1 and 2 actors (`--ray ADDRESS --ray-actors N`). Each is timed
as a whole command, from its process's start to its exit: interpreter start, imports, model
load, engine build (backend compile), every output written, and for Ray the driver's connection
to the cluster, the pipeline's planning and the actors' start (their imports, the model shipped
and loaded there). The cluster itself is started once, here, and not counted (its start is
printed apart): on a real cluster it runs before and after the job, and `--ray local` adds it.
Before the timed runs each configuration runs one job of 8 photos, so that what a second job
finds on disk (the backend measured and cached for its thread count: one actor of two runs
two-thread networks, two of them one-thread ones) is there for every configuration alike.
Runs alternate, so that a slow spell of a loaded machine hits every configuration; the medians
are reported. Target: Ray with one actor at least 0.9x the single process (the overhead of Ray
on one machine stays small).

Run: python benchmarks/scale.py [--command stylize|upscale] [--images 200] [--repeats 3]
     [--model NAME] (stylize's default: style-starry-night; upscale's: the shipped default)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DATA, ROOT, emit, machine  # noqa: E402

CONFIGS = {"single process": None, "ray 1 actor": 1, "ray 2 actors": 2}
"""name -> Ray actors (None: no Ray)."""


def run_command(
    command_name: str, model: str | None, in_dir: Path, out_dir: Path, address: str | None, actors: int | None
) -> float:
    """Seconds of one `i2i COMMAND IN -o OUT` process, start to exit (on Ray with `actors`)."""
    command = [sys.executable, "-m", "i2i", command_name, str(in_dir), "-o", str(out_dir), "-q"]
    if model:
        command += ["--style" if command_name == "stylize" else "--model", model]
    if actors is not None:
        command += ["--ray", address, "--ray-actors", str(actors)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    written = sum(1 for p in out_dir.rglob("*") if p.is_file())
    expected = sum(1 for p in in_dir.iterdir())
    assert written == expected, f"{out_dir}: {written} outputs for {expected} inputs"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--command", choices=["stylize", "upscale"], default="stylize")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    if args.command == "stylize" and not args.model:
        args.model = "style-starry-night"

    import ray

    files = sorted((DATA / "monet2photo/trainB").iterdir())[: args.images]
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(
        f"{len(files)} photos 256x256 (monet2photo trainB), model {args.model or 'the default'}; "
        f"each run one `i2i {args.command}` process"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        (tmp / "warm-in").mkdir()
        for i, f in enumerate(files):
            shutil.copy(f, tmp / "in" / f.name)
            if i < 8:
                shutil.copy(f, tmp / "warm-in" / f.name)
        t = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        address = ray.get_runtime_context().gcs_address
        print(f"ray.init: {time.perf_counter() - t:.1f} s (the cluster's start, once, not counted below)")
        seconds: dict[str, list[float]] = {name: [] for name in CONFIGS}
        try:
            for actors in CONFIGS.values():  # one small job each: the second job's disk cache
                run_command(args.command, args.model, tmp / "warm-in", tmp / f"warm-{actors}", address, actors)
            for r in range(args.repeats):
                for name, actors in CONFIGS.items():
                    out = tmp / f"{name.replace(' ', '-')}-{r}"
                    s = run_command(args.command, args.model, tmp / "in", out, address, actors)
                    seconds[name].append(s)
                    print(f"{name}, run {r + 1}: {len(files) / s:.2f} images/s ({s:.1f} s)", flush=True)
        finally:
            ray.shutdown()
    rate = {name: len(files) / statistics.median(s) for name, s in seconds.items()}
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    job = f"{args.command} {args.model or 'default'}"
    emit(f"{job} single process images/s", rate["single process"], "images/s")
    emit(f"{job} ray 1 actor images/s", rate["ray 1 actor"], "images/s")
    emit(f"{job} ray 2 actors images/s", rate["ray 2 actors"], "images/s")
    emit(f"{job} ray 1 actor / single process", rate["ray 1 actor"] / rate["single process"], "x", ">= 0.9")
    emit(f"{job} ray 2 actors / single process", rate["ray 2 actors"] / rate["single process"], "x")


if __name__ == "__main__":
    main()
