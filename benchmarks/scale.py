"""Folder jobs on Ray Data against the single-process engine, on this machine.

images/s of one folder job over 200 real 256x256 photos (monet2photo trainB): the single-process
engine (what `i2i stylize IN/ -o OUT/` runs) and Ray Data with 1 and 2 actors (`--ray local
--ray-actors N`), each timed from the job's start (model load, actor start included) to its last
output; Ray's own start (ray.init, once per cluster) is reported apart. Runs alternate, so that a
slow spell of a loaded machine hits every configuration; the medians are reported. Target: Ray
with one actor at least 0.9x the single process (the overhead of Ray on one machine stays small).

Run: python benchmarks/scale.py [--images 200] [--repeats 2] [--model style-starry-night]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DATA, emit, machine  # noqa: E402


def single_process(model_path: str, in_dir: Path, out_dir: Path) -> float:
    """Seconds for the job through the engine in this process, model load included."""
    from i2i.checkpoint import load_model
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import OutputOptions
    from i2i.engine.jobs import plan_job
    from i2i.engine.ray_job import default_adapter

    start = time.perf_counter()
    out = OutputOptions(out=str(out_dir))
    plan = plan_job([str(in_dir)], out)
    model = load_model(model_path)
    results = list(plan.run(Engine(model, default_adapter(model)), out))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return time.perf_counter() - start


def on_ray(model_path: str, in_dir: Path, out_dir: Path, actors: int) -> float:
    """Seconds for the same job on the running Ray cluster, actors' start included."""
    from i2i import RayOptions, run_on_ray

    start = time.perf_counter()
    results = list(run_on_ray(model_path, [str(in_dir)], str(out_dir), options=RayOptions(actors=actors)))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="style-starry-night")
    args = parser.parse_args()

    import ray

    from i2i.models import resolve

    model_path = str(resolve(args.model))
    files = sorted((DATA / "monet2photo/trainB").iterdir())[: args.images]
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{len(files)} photos 256x256 (monet2photo trainB), model {args.model}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        for f in files:
            shutil.copy(f, tmp / "in" / f.name)
        single_process(model_path, tmp / "in", tmp / "warm")  # the backend measured and cached once
        t = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        print(f"ray.init: {time.perf_counter() - t:.1f} s (once per cluster, not counted below)")
        seconds: dict[str, list[float]] = {"single process": [], "ray 1 actor": [], "ray 2 actors": []}
        try:
            for r in range(args.repeats):
                for name in seconds:
                    out = tmp / f"{name.replace(' ', '-')}-{r}"
                    if name == "single process":
                        s = single_process(model_path, tmp / "in", out)
                    else:
                        s = on_ray(model_path, tmp / "in", out, actors=int(name.split()[1]))
                    seconds[name].append(s)
                    print(f"{name}, run {r + 1}: {len(files) / s:.2f} images/s ({s:.1f} s)", flush=True)
        finally:
            ray.shutdown()
    rate = {name: len(files) / statistics.median(s) for name, s in seconds.items()}
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    emit("single process images/s", rate["single process"], "images/s")
    emit("ray 1 actor images/s", rate["ray 1 actor"], "images/s")
    emit("ray 2 actors images/s", rate["ray 2 actors"], "images/s")
    emit("ray 1 actor / single process", rate["ray 1 actor"] / rate["single process"], "x", ">= 0.9")
    emit("ray 2 actors / single process", rate["ray 2 actors"] / rate["single process"], "x")


if __name__ == "__main__":
    main()
