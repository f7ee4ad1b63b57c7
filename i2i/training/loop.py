"""The one training loop: device, data loading, logging, checkpoints, exact resume, time budget.

Every method plugs in a Recipe. Data order is a pure function of (seed, global sample index), so a
resumed run sees exactly the batches an uninterrupted run would, whatever the worker count.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import UsageError
from ..files import atomic_write_bytes
from ..kernels import use_nnpack
from .options import LoopOptions
from .plots import save_curves, save_grid
from .recipe import Recipe
from .rundir import agree_with_state
from .state import capture, latest_state, load_state, restore, save_state, state_path

# Signals that stop a run cleanly after the current step (a second one aborts at once).
FIXED_BATCH = 4
"""Items in the fixed batch the sample grids are drawn from (fewer when the data holds fewer)."""
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@dataclass
class RunResult:
    run_dir: Path
    step: int
    finished: bool
    """All planned steps done."""
    exported: list[Path]
    metrics: dict
    stopped_by: str | None = None
    """Why an unfinished run stopped: a signal name (SIGINT, SIGTERM, SIGHUP) or "max_minutes"."""


class TrainingAborted(Exception):
    """A second stop signal: the run ends at once, without a checkpoint of the interrupted step."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


Event = Callable[[str, dict], None]


def _noop(kind: str, data: dict) -> None:
    pass


class _StepSampler(torch.utils.data.Sampler):
    """Global sample indices start..stop, strided by rank for distributed runs."""

    def __init__(self, start: int, stop: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.rank, self.world = start, stop, rank, world

    def __iter__(self):
        return iter(range(self.start * self.world + self.rank, self.stop * self.world, self.world))

    def __len__(self):
        return self.stop - self.start


class Trainer:
    def __init__(
        self,
        recipe: Recipe,
        loop: LoopOptions,
        run_dir: Path,
        *,
        batch_size: int,
        command: str = "",
        on_event: Event = _noop,
    ):
        self.recipe, self.loop, self.run_dir = recipe, loop, Path(run_dir)
        self.batch_size, self.command, self.on_event = batch_size, command, on_event
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.is_main = self.rank == 0
        self.records: list[dict] = []
        self.train_seconds = 0.0
        self._stop_requested = False
        self._stop_signal: int | None = None
        self._out_of_time = False
        self._pictures_step = -1  # the step the sample grid and curves were last drawn at
        self.board = None  # TensorBoard SummaryWriter on the main process with --tensorboard
        self._owns_process_group = False

    # ---- public ----
    def run(self, resume: bool = False) -> RunResult:
        """Train to loop.steps (or until the time budget or a stop signal), save the training
        state, export; resume=True goes on from the run directory's latest training state."""
        self._prepare()
        step = self._resume() if resume else 0
        if self.is_main:
            self._write_run_json()
            agree_with_state(self.run_dir, step, self.records)
            if self.records:
                save_curves(self.records, self.run_dir / "curves.png")
            self.board = _open_board(self.run_dir, step) if self.loop.tensorboard else None
        dataset = self.recipe.dataset()
        fixed = self._fixed_batch(dataset)
        try:
            with self._stop_signals():
                # An exception (a second signal included) leaves the last periodic save as the
                # state to resume from: the interrupted step's state may be half-updated.
                step = self._train(dataset, step, fixed)
        finally:
            if self.board:
                self.board.flush()
        finished = step >= self.loop.steps
        if self.is_main:
            self._save_state(step)
        metrics = self._final_metrics(step)
        exported = self._finish(step, fixed, metrics, finished) if self.is_main else []
        self._barrier()
        self._close_process_group()
        return RunResult(
            self.run_dir, step, finished, exported, metrics, stopped_by=None if finished else self._stop_reason()
        )

    def _prepare(self) -> None:
        """Threads, device, precision, kernels and seeds; the recipe's networks built on the device
        (and made identical across processes)."""
        loop = self.loop
        if loop.threads:
            torch.set_num_threads(loop.threads)
        self.device = device = self._init_device()
        self.autocast_dtype = _autocast_dtype(loop.precision, device)
        if loop.tensorboard:
            _tensorboard_writer()  # missing package: a usage error before anything is written
        if loop.deterministic:
            _use_deterministic_kernels()
        elif device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # crops have fixed sizes: tune once, reuse
        torch.manual_seed(loop.seed + self.rank)
        random.seed(loop.seed + self.rank)
        np.random.seed(loop.seed + self.rank)
        self.recipe.seed = loop.seed
        self.recipe.setup(device, loop.steps)
        if device.type == "cpu" and self.autocast_dtype is None:
            for net in self.recipe.networks():
                use_nnpack(net)  # Winograd/FFT where it pays (NNPACKConv2d); equal to ~1e-5
        if self.world > 1:
            self._synchronize(device)

    def _finish(self, step: int, fixed, metrics: dict, finished: bool) -> list[Path]:
        """The main process's last pictures and the export (a run stopped by its time budget or
        a signal still leaves a usable model behind); the exported files."""
        if self._pictures_step != step:
            self._refresh_pictures(step, fixed)
        else:  # the grid is this step's already; the curves gain the final evaluation
            save_curves(self.records, self.run_dir / "curves.png")
        exported = self.recipe.export(self.run_dir, self._provenance(step, metrics, finished))
        self.on_event("done", {"step": step, "finished": finished, "exported": exported})
        if self.board:
            self.board.close()
        return exported

    # ---- the loop ----
    def _train(self, dataset, step: int, fixed) -> int:
        before = set(multiprocessing.active_children())
        batches = iter(self._loader(dataset, step))
        workers = [p for p in multiprocessing.active_children() if p not in before]
        step = self._steps(batches, step, fixed)
        # The loader's own shutdown (each worker asked to exit, then waited for) runs when the last
        # reference goes. Not after an exception: its traceback still holds the loader, and a
        # worker killed under a live loader makes PyTorch raise over the exception.
        del batches
        _kill_stuck_workers(workers)
        return step

    def _steps(self, batches, step: int, fixed) -> int:
        loop = self.loop
        started = last_save = time.monotonic()
        base_seconds = self.train_seconds
        window_t, window_steps = time.monotonic(), 0
        for batch in batches:
            with self._autocast():
                losses = self.recipe.train_step(batch, step)
            step += 1
            window_steps += 1
            now = time.monotonic()
            self.train_seconds = base_seconds + (now - started)
            if step % loop.log_every == 0 or step == loop.steps:
                rate = window_steps / max(now - window_t, 1e-9)
                window_t, window_steps = now, 0
                self._log({"step": step, "time": round(self.train_seconds, 2), **losses}, rate=rate)
            if loop.eval_every and step % loop.eval_every == 0:
                self._evaluate(step)
            if self.is_main and step % loop.sample_every == 0:
                self._refresh_pictures(step, fixed)
            if self.is_main and now - last_save > loop.checkpoint_minutes * 60:
                self._save_state(step)
                last_save = now
            self._out_of_time = loop.max_minutes is not None and now - started > loop.max_minutes * 60
            if self._all_agree_to_stop(self._stop_requested or self._out_of_time) or step >= loop.steps:
                break
        return step

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _loader(self, dataset, step: int):
        sampler = _StepSampler(step * self.batch_size, self.loop.steps * self.batch_size, self.rank, self.world)
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.loop.workers,
            drop_last=True,
            prefetch_factor=4 if self.loop.workers else None,
            # Its own generator: creating the loader must not draw from the global RNG that
            # dropout and pools use, or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(self.loop.seed),
            worker_init_fn=_leave_signals_to_the_main_process,
        )

    def _fixed_batch(self, dataset):
        return torch.utils.data.default_collate(dataset.fixed_items(FIXED_BATCH))

    # ---- logging and pictures ----
    def _log(self, record: dict, rate: float | None = None) -> None:
        record = {k: (float(v) if isinstance(v, (int, float)) and k != "step" else v) for k, v in record.items()}
        self.records.append(record)
        if self.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            if self.board:
                group = "eval" if record.get("kind") == "eval" else "train"
                for k, v in record.items():
                    if isinstance(v, float) and k != "time":
                        self.board.add_scalar(f"{group}/{k}", v, record["step"])
            self.on_event("log", {**record, "rate": rate, "total": self.loop.steps})

    def _refresh_pictures(self, step: int, fixed) -> None:
        self._pictures_step = step
        with torch.no_grad():
            grid = self.recipe.sample_grid(fixed)
        picture = save_grid(grid, self.run_dir / "samples" / f"step_{step:07d}.png")
        save_grid(grid, self.run_dir / "samples.png")
        save_curves(self.records, self.run_dir / "curves.png")
        if self.board:
            self.board.add_image("samples", picture, step, dataformats="HWC")

    def _evaluate(self, step: int) -> dict:
        """Validate and log the figures; when the recipe chooses its model on validation
        (Recipe.selection_key) and these figures are the run's best so far, export to RUN/best/."""
        metrics = self.recipe.evaluate() if self.is_main else {}
        if not metrics:
            return metrics
        key = self.recipe.selection_key
        earlier = [key(r) for r in self.records if r.get("kind") == "eval" and r["step"] != step]
        self._log({"step": step, "kind": "eval", **metrics})
        new = key(metrics)
        if new is not None and all(new > k for k in earlier):
            self.recipe.export(self.run_dir / "best", self._provenance(step, metrics, step >= self.loop.steps))
        return metrics

    def _final_metrics(self, step: int) -> dict:
        done = [r for r in self.records if r.get("kind") == "eval" and r["step"] == step]  # --eval-every hit it
        metrics = {k: v for k, v in done[-1].items() if k not in ("step", "kind")} if done else self._evaluate(step)
        last = {}
        for r in self.records:
            if r.get("kind") != "eval":
                last.update({k: v for k, v in r.items() if k not in ("step", "time")})
        return {**{f"final_{k}": round(v, 5) for k, v in last.items()}, **{k: round(v, 4) for k, v in metrics.items()}}

    def _provenance(self, step: int, metrics: dict, finished: bool) -> dict:
        notes = json.loads((self.run_dir / "run.json").read_text()).get("note")
        return {
            "command": self.command,
            "steps": step,
            "planned_steps": self.loop.steps,
            "finished": finished,
            "seed": self.loop.seed,
            **({"note": notes} if notes else {}),
            "train_minutes": round(self.train_seconds / 60, 1),
            "device": str(self.device),
            "precision": str(self.autocast_dtype or torch.float32).removeprefix("torch."),
            "metrics": metrics,
        }

    # ---- training state ----
    def _save_state(self, step: int) -> None:
        path = state_path(self.run_dir, step)
        save_state(capture(step, self.recipe, self.train_seconds, self.records), path, self.loop.keep_checkpoints)
        if self.board:
            self.board.flush()  # events up to the checkpoint are on disk with it
        self.on_event("checkpoint", {"step": step, "path": str(path)})

    def _resume(self) -> int:
        """Load the latest checkpoint (0 when there is none: the run starts over)."""
        path = latest_state(self.run_dir)
        if path is None:
            return 0
        state = load_state(path)
        restore(state, self.recipe, path)
        self.train_seconds = state["train_seconds"]
        self.records = [r for r in state["records"] if r["step"] <= state["step"]]
        self.on_event("resume", {"step": state["step"], "path": str(path)})
        return state["step"]

    def _write_run_json(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "run.json"
        info = json.loads(path.read_text()) if path.is_file() else {}  # keeps a resumed run's notes
        info.setdefault("cwd", os.getcwd())  # what relative paths in the options are relative to
        info.update(
            {
                "method": self.recipe.method,
                "options": asdict(self.recipe.options),
                "loop": asdict(self.loop),
                "batch_size": self.batch_size,
                "command": self.command,
            }
        )
        atomic_write_bytes(json.dumps(info, indent=2).encode(), path)  # a resume reads it back whole

    def _stop_signals(self):
        """SIGINT, SIGTERM and SIGHUP ask for a clean stop after the current step (checkpoint
        and export); a second one aborts at once. Only the main thread can take signals."""
        if threading.current_thread() is not threading.main_thread():
            return nullcontext()
        return _SignalHandlers(STOP_SIGNALS, self._on_stop_signal)

    def _on_stop_signal(self, signum, frame) -> None:
        if self._stop_requested and self._stop_signal is not None:
            raise TrainingAborted(signum)
        self._stop_requested, self._stop_signal = True, signum
        self.on_event("stopping", {"signal": signal.Signals(signum).name})

    def _stop_reason(self) -> str | None:
        if self._stop_signal is not None:
            return signal.Signals(self._stop_signal).name
        return "max_minutes" if self._out_of_time else None

    # ---- devices and processes ----
    def _init_device(self) -> torch.device:
        device = resolve_device(self.loop.device)
        if self.world > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
                self._owns_process_group = True
        return device

    def _close_process_group(self) -> None:
        """Tear down the process group this trainer started, before the interpreter exits:
        gloo's worker threads outliving it can abort the process at exit (SIGABRT, "terminate
        called without an active exception") after a good run."""
        if self._owns_process_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._owns_process_group = False

    def _all_agree_to_stop(self, stop: bool) -> bool:
        """Stop when any process wants to: clocks and Ctrl-C reach processes at different
        steps, and one that stopped alone would leave the others waiting in a collective."""
        if self.world == 1:
            return stop
        import torch.distributed as dist

        flag = torch.tensor([float(stop)], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _synchronize(self, device) -> None:
        """Start every process from rank 0's weights; synchronized batch norm on CUDA (it has
        no CPU kernel, so on CPU each process keeps its own batch statistics)."""
        import torch.distributed as dist

        if device.type == "cuda":
            self.recipe.wrap_distributed(torch.nn.SyncBatchNorm.convert_sync_batchnorm)
        for net in self.recipe.networks():
            for tensor in net.state_dict().values():
                dist.broadcast(tensor, src=0)

    def _barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def _open_board(run_dir: Path, step: int):
    """A TensorBoard writer for RUN/tensorboard; on resume, events logged after `step` (by the
    run that was killed) are purged so the curves continue from the checkpoint."""
    return _tensorboard_writer()(str(run_dir / "tensorboard"), purge_step=step + 1 if step else None)


def _tensorboard_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(
            "--tensorboard needs the tensorboard package: pip install 'i2i[tensorboard]' (or pip install tensorboard)"
        ) from None
    return SummaryWriter


class _SignalHandlers:
    """Install one handler for several signals inside a `with` block, then restore the old ones."""

    def __init__(self, signums, handler):
        self.signums, self.handler, self.previous = signums, handler, {}

    def __enter__(self):
        self.previous = {s: signal.signal(s, self.handler) for s in self.signums}
        return self

    def __exit__(self, *exc):
        for s, h in self.previous.items():
            signal.signal(s, h)


def _leave_signals_to_the_main_process(worker_id: int) -> None:
    """Data-loader workers ignore the stop signals: Ctrl-C, systemd, docker stop and SLURM signal
    the whole process group, and a worker that died of it would fail the main process's next
    batch (PyTorch raises from its SIGCHLD handler, even mid-step) before the run could save its
    checkpoint. The main process stops them when it is done (_kill_stuck_workers for one that does
    not answer); if it is killed outright, PyTorch's workers notice their parent is gone and exit."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def _kill_stuck_workers(workers) -> None:
    """SIGKILL the data-loader workers still alive after the loader's shutdown (one stuck reading a
    photo): PyTorch's fallback, terminate(), sends the SIGTERM they ignore, and the interpreter's
    exit would then wait for them for good."""
    for p in workers:
        if p.is_alive():
            p.kill()
            p.join(timeout=5)


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype for training steps, None for plain fp32.

    bf16 keeps fp32's exponent range, so no loss scaling is needed and GAN losses cannot
    overflow; GPUs without bf16 (before Ampere) train in fp32 under "auto".
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise UsageError(f"--precision must be auto, fp32 or bf16, not {precision!r}")
    bf16_here = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "bf16" and not bf16_here:
        raise UsageError(f"--precision bf16 needs a CUDA device with bf16 ({device.type} here); use fp32")
    return torch.bfloat16 if precision != "fp32" and bf16_here else None


def _use_deterministic_kernels() -> None:
    # cuBLAS needs a fixed workspace to be deterministic; it must be set before its first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
