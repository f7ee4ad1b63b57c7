"""Which backend runs a model: `--backend` and `--precision` resolved, measured once, remembered.

On the CPU, the first input of each size class is cropped to at most MEASURE_SIDE pixels a side
(less for a network too heavy to measure there within MEASURE_BUDGET_SECONDS) and run through
torch fp32 and every candidate: each installed runtime in fp32, OpenVINO bf16 where the CPU has
native bf16, and (when the precision asked for allows it) ONNX Runtime and
OpenVINO int8 where the CPU multiplies 8-bit integers natively (the graph quantised by
quantize.py, calibrated on crops that are never an input, so the input is a held-back check).
One warm-up round gives the outputs that are compared with torch fp32's; then two timed rounds
for every candidate, torch included, interleaved so that a busy spell on a shared
machine hits every candidate alike; a candidate's time is its fastest. All candidates are
measured whatever was asked (int8 only under --precision auto or int8), so one measurement per
model, size class, CPU, thread count, runtime versions and calibration (the key in cache.py's
measured.json) serves every later request; each request then takes the fastest accurate
candidate it allows. Relative speeds on the crop match those on whole images within the noise
of a shared machine: benchmarks/backends.py reports how far `auto` lands from the fastest
backend on whole images. On CUDA and MPS the engine runs torch (no runtime here has a GPU
provider installed).

Accurate means, on that real input, in output units of [0, 1]:
  fp32 runtimes  max |runtime - torch| <= FP32_MAX_DIFF: one 8-bit level (they measure 1e-7 to
                 4e-5 of [0, 1] on the shipped models)
  bf16, int8     mean and 99.9th percentile of |output - torch fp32| within TOLERANCE of the
                 task; see there for the figures behind each
and under --precision auto a lower precision runs only when it is also measurably faster
(LOWER_PRECISION_GAIN) than the fastest accurate fp32 candidate; otherwise a note says why not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import UsageError
from . import cache
from .backends import (
    BACKENDS,
    RUNTIME_CLASSES,
    RUNTIMES,
    BackendError,
    ModelGraphs,
    TorchBackend,
    label,
    load_runtime,
    native_bf16,
    native_int8,
    runtime_missing,
    versions,
)
from .onnx_export import FP32_MAX_DIFF

MEASURE_SIDE = 256
"""Side of the measurement crop. On a 2-core AMD Zen 1, x4 with upscale-x4: on a 192 crop the
runtimes were 1.06-1.08x slower than torch (a tie that noise flips: OpenVINO was chosen), from
256 up 1.2-1.3x, as on whole 640x480 images (1.26x): the smaller crop fits caches that a whole
image does not."""
MEASURE_BUDGET_SECONDS = 30.0
"""About how long the timed rounds of a model's first measurement may take: a heavy network
is measured on a smaller crop (down to MIN_MEASURE_SIDE). At 256 a side, RRDB in
RealESRGAN_x4plus's shape (about 47x upscale-x4's work per pixel) made its first use take 256 s
on a 2-core Sapphire Rapids Xeon and 857 s on a Zen 1 before it ran a single image (14 s once
measured). Such a network is compute-bound at any crop, so the small crop ranks the backends as
whole images do; the cache effects that MEASURE_SIDE is there for belong to light networks,
which keep it."""
MIN_MEASURE_SIDE = 64
PROBE_SIDES = (64, 128)
"""Crops that torch runs first, to estimate a network's time per pixel: the small one decides
most networks (within budget at MEASURE_SIDE even at its per-pixel time), the larger one the
rest. A network's time per pixel at 64 px overstates its time at 256 by its per-call costs (4x
for resnet_9blocks, whose bottleneck is then 16x16), at 128 far less."""
MEASURED_CROPS = 4
"""Crops each candidate runs in a measurement: the pair of round 0, then two timed rounds."""
TOLERANCE = {  # task kind -> (mean, 99.9th percentile) of |low precision - fp32|, output units of [0, 1]
    # The SR bar: mean <= 0.5/255 (and PSNR-Y change <= 0.05 dB on Set5/Set14, which
    # benchmarks/backends.py checks); the tail bound keeps a few visibly wrong pixels out. bf16
    # measured 0.26/255 on a 640x480 photo for upscale-x4, and -0.007 dB PSNR-Y on Set5.
    "upscale": (0.5 / 255, 4 / 255),
    "restore": (0.5 / 255, 4 / 255),
    # Judged by eye, as a whole: half a level on average is invisible; bf16 measured 0.15/255
    # (style-starry-night, 1024x768) and 0.11/255 (facades label -> photo).
    "stylize": (0.5 / 255, 4 / 255),
    "translate": (0.5 / 255, 4 / 255),
    # Lab ab, mapped to [0, 1]: 0.5/255 of it is under 0.5 ab units, far below a visible hue
    # change; bf16 measured 0.02/255 of the final RGB on a 1024x768 photo.
    "colorize": (0.5 / 255, 4 / 255),
}
LOWER_PRECISIONS = ("bf16", "int8")
LOWER_PRECISION_GAIN = 1.1
"""Under --precision auto, bf16 or int8 must run the measurement crop at least this many times
faster than the fastest fp32 candidate: a tie within the noise of a shared machine is no reason
to give up exactness."""
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "auto")
MEASUREMENT = 2
"""The measuring method's version, in the key of what is remembered: a change to how candidates
are timed (2: torch timed twice like the runtimes) measures again what the old method chose."""
SETTLE_SECONDS = 0.05
"""Pause before each timed run: the previous backend's worker threads (OpenMP, TBB) spin for a
while after their work, and on two cores they would slow down whichever backend runs next."""


@dataclass(frozen=True)
class Candidate:
    backend: str
    precision: str = "fp32"

    @property
    def label(self) -> str:
        return self.backend if self.precision == "fp32" else f"{self.backend} {self.precision}"


def check_request(backend: str, precision: str, device: torch.device) -> None:
    """Refuse impossible --backend/--precision/--device combinations (UsageError, exit 2)."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be fp32, fp16, bf16, int8 or auto, not {precision!r}")
    if backend in RUNTIMES:
        load_runtime(backend)  # BackendUnavailable: a one-line install hint
        if device.type != "cpu":
            raise UsageError(
                f"--backend {backend} runs on the CPU here; with --device {device.type} use --backend torch (or auto)"
            )
    if (device.type == "cuda" and precision != "int8") or precision in ("fp32", "auto"):
        return
    if precision == "int8":
        _check_int8(backend, device)
        return
    if device.type != "cpu" or precision == "fp16":
        raise UsageError(
            f"--precision {precision} needs a CUDA device"
            + (" (or bf16 on a CPU with native bf16)" if precision == "fp16" else "")
            + f"; on {device.type} use fp32"
        )
    # bf16 on the CPU: through OpenVINO, where the processor has it natively.
    if backend not in ("auto", "openvino"):
        raise UsageError("--precision bf16 on the CPU runs through OpenVINO; use --backend auto or openvino")
    problem = runtime_missing("openvino")
    if problem:
        raise UsageError(f"--precision bf16 on the CPU needs OpenVINO: {problem}")
    if not native_bf16():
        raise UsageError("--precision bf16: this CPU has no native bf16 (AVX512-BF16 or AMX); use fp32 or int8")


def _check_int8(backend: str, device: torch.device) -> None:
    """int8 runs on the CPU, through ONNX Runtime or OpenVINO, on a graph ONNX Runtime's
    quantiser makes, where the CPU has 8-bit multiply-adds."""
    if device.type != "cpu":
        raise UsageError(f"--precision int8 runs on the CPU (ONNX Runtime or OpenVINO); on {device.type} use fp32")
    if backend == "torch":
        raise UsageError(
            "--precision int8 runs through ONNX Runtime or OpenVINO; use --backend auto, onnxruntime or openvino"
        )
    problem = runtime_missing("onnxruntime")
    if problem:
        raise UsageError(f"--precision int8 needs ONNX Runtime's quantiser: {problem}")
    if not native_int8():
        raise UsageError(
            "--precision int8: this CPU has no 8-bit multiply-add instructions (AVX2, VNNI or Arm dot product); use fp32"
        )


def size_class(x: torch.Tensor) -> str:
    """Inputs whose measurements would agree: by channels, with everything from MEASURE_SIDE**2
    pixels up in one class (they are measured on the same crop) and everything smaller in
    another (measured on the first such input). Smaller inputs were once classed by their
    power-of-two pixel count: the demo's 64x64, 100x100 and 128x128 photos were then measured
    three times, 10 s each on a Zen 1, to save a fraction of a second each on running them."""
    pixels = x.shape[-2] * x.shape[-1]
    bits = int(math.log2(MEASURE_SIDE**2))
    return f"{x.shape[1]}ch-2^{bits}px" if pixels >= 2**bits else f"{x.shape[1]}ch-under-2^{bits}px"


class BackendSelector:
    """Resolves the backend per size class, measuring once where the choice is open."""

    def __init__(
        self,
        model,
        torch_backend: TorchBackend,
        *,
        backend: str,
        precision: str,
        note: Callable[[str], None],
        threads: int | None = None,
    ):
        self.model, self.torch = model, torch_backend
        self.requested, self.precision = backend, precision
        self.note = note
        self.threads = threads or torch.get_num_threads()
        self.graphs = ModelGraphs(model)
        self._chosen: dict[str, object] = {}
        self._runtimes: dict[Candidate, object] = {}
        self._int8_graphs = None  # quantize.Int8Graphs, made when an int8 candidate first runs
        self._passed_over: set[str] = set()  # candidates already noted as not used: once per run
        self._side: int | None = None  # the measurement crop's side (_measurement_side)
        self.on_cpu = torch_backend.device.type == "cpu"

    # ---- public ----
    def backend_for(self, x: torch.Tensor):
        """The backend for inputs shaped like x (padded, in the network's value range)."""
        if not self.on_cpu or self.requested == "torch":
            return self.torch
        cls = size_class(x)
        if cls not in self._chosen:
            try:
                self._chosen[cls] = self._choose(x, cls)
            except BackendError as e:  # a named runtime that cannot run: every such input fails alike
                self._chosen[cls] = e
        chosen = self._chosen[cls]
        if isinstance(chosen, BackendError):
            raise BackendError(str(chosen))
        return chosen

    def fall_back(self, x: torch.Tensor, problem: str):
        """After a runtime failed on a real input: torch for this size class from now on, under
        `auto`; BackendError (this input's error) for a runtime named by --backend."""
        self.refuse_fallback(problem)
        self.note(f"{problem}; running torch instead")
        self._chosen[size_class(x)] = self.torch
        return self.torch

    def refuse_fallback(self, problem: str) -> None:
        """BackendError when a runtime was named by --backend: one that cannot run is an error,
        never silently replaced by torch; only `auto` falls back."""
        if self.requested in RUNTIMES:
            raise BackendError(f"--backend {self.requested}: {problem} (--backend auto runs torch instead)")

    def statistics_checked(self, backend, reference: torch.Tensor) -> bool:
        """Whether `backend`'s record + frozen graphs reproduce torch on `reference` (once per model)."""
        if backend is self.torch:
            return True
        key = self._measure_key(f"statistics-{label(backend)}")
        known = cache.read_measured().get(key)
        if known is not None:
            return bool(known.get("ok"))
        with torch.inference_mode():
            expected = self._to_output(self.torch(reference))
            got = self._to_output(backend(reference, backend.statistics(reference)))
        ok, diff = self._accurate(Candidate(backend.name, backend.precision), got, expected)
        cache.remember(key, {"ok": ok, **diff})
        return ok

    # ---- choosing ----
    def _measurable(self) -> list[Candidate]:
        """Every installed runtime in fp32, OpenVINO bf16 where the CPU has it natively, and
        under --precision auto or int8 each runtime in int8 where the CPU has 8-bit multiply-adds
        (quantising takes a few seconds per model; fp32 requests skip it): all are measured
        together, whatever was asked, so that one measurement serves every later request."""
        found = []
        for name in RUNTIMES:
            problem = runtime_missing(name)
            if problem:
                if self.requested == "auto":
                    self.note(f"{problem}; auto chooses among the others")
                continue
            found.append(Candidate(name))
        if runtime_missing("openvino") is None and native_bf16():
            found.append(Candidate("openvino", "bf16"))
        if self.precision in ("auto", "int8") and runtime_missing("onnxruntime") is None and native_int8():
            found += [Candidate(c.backend, "int8") for c in found if c.precision == "fp32"]
        return found

    def _allowed(self, c: Candidate) -> bool:
        """Whether the request lets candidate c run (bf16 or int8 only where the precision asks
        for it or is auto)."""
        if self.requested not in ("auto", c.backend):
            return False
        return c.precision in ("fp32", self.precision) or self.precision == "auto"

    def _choose(self, x: torch.Tensor, cls: str):
        measurable = self._measurable()
        key = self._measure_key(cls)
        measured = cache.read_measured()
        record = measured.get(key)
        just_measured = not _covers(record, measurable)
        speeds_known = False
        if just_measured:
            # Measured again with more candidates (an int8 request after fp32 ones): what the
            # earlier requests ran is kept until they ask again.
            earlier = record.get("chosen", {}) if isinstance(record, dict) else {}
            speeds = measured.get(self._measure_key(cls, weights=False))
            # Only where every candidate ran there: a failure (it does not export) may come from
            # something the architecture's key cannot see, so such a model is measured itself.
            speeds_known = _covers(speeds, measurable) and all("seconds" in r for r in speeds["results"].values())
            if speeds_known:
                # Another model of this architecture was timed (a per-photo blend of the shipped
                # x4 models): its speeds hold, and only what is chosen is checked on this input.
                record = {
                    "results": _unchecked(speeds["results"]),
                    "crop": speeds.get("crop"),
                    "speeds_of": speeds.get("model"),
                }
            else:
                record = self._measure(x, measurable)
            record.update(
                file_sha256=self._file_sha256(),
                model=self.model.info.name or self.model.info.arch,
                size_class=cls,
                threads=self.threads,
                date=time.strftime("%Y-%m-%d %H:%M"),
                chosen=dict(earlier) if isinstance(earlier, dict) else {},
            )
        if just_measured and not speeds_known and _lasting(record):
            cache.remember(self._measure_key(cls, weights=False), _speeds(record))
        allowed = [c for c in measurable if self._allowed(c)]
        checked = False
        try:
            while True:
                chosen = self._pick(allowed, record["results"], just_measured and not speeds_known)
                if chosen is None or not record["results"][chosen.label].get("unchecked"):
                    break
                record["results"][chosen.label] = self._check(x, chosen, record["results"][chosen.label], record)
                checked = True
        except BackendError:  # the runtime named by --backend cannot run: what was measured stays
            if (just_measured or checked) and _lasting(record):
                cache.remember(key, record)
            raise
        request, ran = f"{self.requested}/{self.precision}", chosen.label if chosen else "torch"
        if _lasting(record) and (just_measured or checked or record.get("chosen", {}).get(request) != ran):
            record.setdefault("chosen", {})[request] = ran
            cache.remember(key, record)
        return self.torch if chosen is None else self._runtime(chosen)

    def _check(self, x: torch.Tensor, c: Candidate, known: dict, record: dict) -> dict:
        """Candidate c's entry from its speed (`known`, timed on another model of this
        architecture) and its accuracy on this model and input's measurement crop."""
        # On the crop the architecture's speeds were measured on: no probe for a new blend.
        side = max(record["crop"]) if record.get("crop") else None
        _, pair = self._measurement_pair(x, side=side)
        try:
            with torch.inference_mode():
                expected = self._to_output(self.torch(pair))
                got = self._to_output(self._runtime(c)(pair))
        except BackendError as e:
            return _failed(e)
        return self._entry(c.label, [c], [known["seconds"]], got, expected)

    def _pick(self, candidates: list[Candidate], results: dict, just_measured: bool) -> Candidate | None:
        """The candidate to run, None for torch; notes say why a requested one was passed over."""
        # An unchecked candidate (a speed known from another model of the architecture) counts
        # as accurate here; _choose checks it on this model when it is the one picked.
        ok = {c: results[c.label]["seconds"] for c in candidates if _usable(results.get(c.label, {}))}
        name = self.model.info.name or self.model.info.arch
        for c in candidates:
            r = results.get(c.label, {})
            if self.requested == c.backend and c.precision == "fp32" and not _usable(r):
                self.refuse_fallback(f"cannot run {name}: {r.get('problem', 'not measured')}")
            asked_for = self.requested == c.backend or self.precision == c.precision != "fp32"
            nothing_ran = not ok and c.precision == "fp32"  # torch runs it: say why
            if not _usable(r) and (asked_for or just_measured or nothing_ran):
                self._say_passed_over(c, f"{c.label} is not used for {name}: {r.get('problem', 'not measured')}")
        fp32 = {c: s for c, s in ok.items() if c.precision == "fp32"}
        best = min(fp32, key=fp32.get) if fp32 else None
        if self.requested == "auto":  # torch is a candidate too
            torch_seconds = results.get("torch", {}).get("seconds", math.inf)
            best = best if best is not None and fp32[best] < torch_seconds else None
            best_seconds = torch_seconds if best is None else fp32[best]
        else:
            best_seconds = fp32[best] if best is not None else math.inf
        lower = {c: s for c, s in ok.items() if c.precision != "fp32"}
        if self.precision in LOWER_PRECISIONS:  # asked for by name: within tolerance is enough
            return min(lower, key=lower.get) if lower else best
        if self.precision != "auto":
            return best
        faster = {c: s for c, s in lower.items() if s * LOWER_PRECISION_GAIN <= best_seconds}
        if just_measured:
            ran = "torch" if best is None else best.label
            for c in lower.keys() - faster.keys():
                self._say_passed_over(
                    c,
                    f"{c.label} is not used for {name}: not measurably faster than fp32 ({ran}): "
                    f"{lower[c]:.3f} s against {best_seconds:.3f} s on the measurement crop",
                )
        return min(faster, key=faster.get) if faster else best

    def _say_passed_over(self, c: Candidate, message: str) -> None:
        if c.label not in self._passed_over:  # once per run
            self._passed_over.add(c.label)
            self.note(message)

    def _runtime(self, c: Candidate):
        if c not in self._runtimes:
            graphs = self.graphs
            if c.precision == "int8":
                from .quantize import Int8Graphs

                self._int8_graphs = self._int8_graphs or Int8Graphs(self.graphs)
                graphs = self._int8_graphs
            self._runtimes[c] = RUNTIME_CLASSES[c.backend](graphs, self.threads, c.precision)
        return self._runtimes[c]

    # ---- measuring ----
    def _measure(self, x: torch.Tensor, candidates: list[Candidate]) -> dict:
        crop, pair = self._measurement_pair(x, runners=1 + len(candidates))
        name = self.model.info.name or self.model.info.arch
        # The same words for every size class, so the run's notes say it once (runner._note).
        self.note(
            f"measuring backends for {name} (once per size of input on this machine; "
            f"remembered in {cache.cache_dir()}; `i2i info` shows the results)"
        )
        runners: dict[str, Callable] = {"torch": self.torch}
        results: dict[str, dict] = {}
        for c in candidates:
            try:
                runners[c.label] = self._runtime(c)
            except BackendError as e:
                results[c.label] = _failed(e)
        outputs, times = self._timed_runs(runners, pair, crop, results)
        for name_ in runners:
            results[name_] = self._entry(name_, candidates, times[name_], outputs[name_], outputs["torch"])
        return {"results": results, "crop": list(crop.shape[-2:])}

    def _measurement_pair(
        self, x: torch.Tensor, runners: int = 2, side: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(crop, pair): the measurement crop of x, and it beside its mirror image as one batch
        of two, on which outputs are compared: a graph that baked in its traced batch size (a
        Python loop over images) fails there, not later. runners: how many backends will run
        it (torch included), for the crop's budget (_measurement_side); side: a crop side already
        known (the one another model of the architecture was measured on)."""
        multiple = self.model.spec.size_multiple(self.model.config)
        if side is None:
            if self._side is None:
                self._side = self._measurement_side(x, multiple, runners)
            side = self._side
        crop = measurement_crop(x, multiple, side)
        return crop, torch.cat([crop, crop.flip(-1)])

    def _measurement_side(self, x: torch.Tensor, multiple: int, runners: int) -> int:
        """MEASURE_SIDE, or less where torch's time per pixel on the PROBE_SIDES crops (after a
        first run that pays for allocations) says that `runners` backends running MEASURED_CROPS
        crops each would take more than MEASURE_BUDGET_SECONDS; never under MIN_MEASURE_SIDE."""
        affordable = math.inf
        with torch.inference_mode():
            self.torch(measurement_crop(x, multiple, PROBE_SIDES[0]))
            for side in PROBE_SIDES:
                probe = measurement_crop(x, multiple, side)
                start = time.perf_counter()
                self.torch(probe)
                per_pixel = (time.perf_counter() - start) / (probe.shape[-2] * probe.shape[-1])
                affordable = math.sqrt(MEASURE_BUDGET_SECONDS / (runners * MEASURED_CROPS * max(per_pixel, 1e-12)))
                if affordable >= MEASURE_SIDE:
                    break
        return int(max(MIN_MEASURE_SIDE, min(MEASURE_SIDE, affordable)))

    def _timed_runs(self, runners: dict, pair: torch.Tensor, crop: torch.Tensor, results: dict) -> tuple[dict, dict]:
        """Round 0 runs `pair` (outputs kept), rounds 1-2 time `crop`, every runner alike. A runner
        that fails leaves `runners` (in place) with its failure in `results`. -> (outputs, times)."""
        outputs: dict[str, torch.Tensor] = {}
        times: dict[str, list[float]] = {k: [] for k in runners}
        for round_ in range(3):
            for name_, run in list(runners.items()):
                # torch too gets two timed runs: its first at batch 1 after the batch-2 round
                # can pay for new kernels, and on an AVX2-only Zen 1 it is the fastest (x4 of
                # 640x480: torch 2.43 s, OpenVINO 2.99 s), so one slow run chose the wrong one.
                time.sleep(SETTLE_SECONDS)
                start = time.perf_counter()
                try:
                    with torch.inference_mode():
                        y = run(pair if round_ == 0 else crop)
                except BackendError as e:
                    results[name_] = _failed(e)
                    del runners[name_]
                    continue
                if round_ == 0:
                    outputs[name_] = self._to_output(y)
                if round_:
                    times[name_].append(time.perf_counter() - start)
        return outputs, times

    def _entry(self, name_: str, candidates: list[Candidate], times: list[float], output, reference) -> dict:
        """One backend's measurement: its fastest time, and (a runtime) whether it is within tolerance."""
        entry = {"seconds": round(min(times), 4)}
        if name_ == "torch":
            entry["ok"] = True
            return entry
        c = next(c for c in candidates if c.label == name_)
        entry["ok"], diff = self._accurate(c, output, reference)
        entry.update(diff)
        if not entry["ok"]:
            entry["problem"] = (
                f"output differs from torch by {diff['max_diff'] * 255:.2f}/255 max, "
                f"{diff['mean_diff'] * 255:.3f}/255 mean (over tolerance)"
            )
        return entry

    def _accurate(self, c: Candidate, got: torch.Tensor, expected: torch.Tensor) -> tuple[bool, dict]:
        if got.shape != expected.shape:
            return False, {"max_diff": math.inf, "mean_diff": math.inf, "tail_diff": math.inf}
        d = (got - expected).abs().flatten()
        sample = d[torch.randperm(d.numel(), generator=torch.Generator().manual_seed(0))[:1_000_000]]
        diff = {
            "max_diff": float(d.max()),
            "mean_diff": float(d.mean()),
            "tail_diff": float(torch.quantile(sample, 0.999)),
        }
        if c.precision == "fp32":
            ok = diff["max_diff"] <= FP32_MAX_DIFF
        else:
            mean, tail = TOLERANCE.get(self.model.task.kind, TOLERANCE["translate"])
            ok = diff["mean_diff"] <= mean and diff["tail_diff"] <= tail
        return ok, {k: round(v, 7) for k, v in diff.items()}

    def _to_output(self, y: torch.Tensor) -> torch.Tensor:
        return self.model.task.from_net(y.float().cpu()).clamp(0, 1)

    def _measure_key(self, what: str, *, weights: bool = True) -> str:
        """Model | what | threads | CPU | runtime versions | calibration (int8 graphs depend on it) |
        measuring method. weights=False: the model's architecture and shapes without its
        weights' values (cache.model_key), under which speeds are remembered."""
        from .quantize import calibration_sha256

        v = versions()
        runtimes = ",".join(f"{k}{v[k]}" for k in sorted(v))
        model = self.graphs.key if weights else "speed-" + cache.model_key(self.model, weights=False)
        parts = [model, what, f"{self.threads}threads", cache.cpu_name(), runtimes]
        return "|".join([*parts, f"calibration-{calibration_sha256()}", f"measurement-{MEASUREMENT}"])

    def _file_sha256(self) -> str | None:
        try:
            return cache.file_sha256(self.model.path) if self.model.path else None
        except OSError:
            return None


def _covers(record, candidates: list[Candidate]) -> bool:
    """Whether a remembered record has a result for every candidate."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("results"), dict)
        and all(c.label in record["results"] for c in candidates)
    )


def _speeds(record: dict) -> dict:
    """What another model of the same architecture can use from a measurement: each candidate's
    seconds (accuracy depends on the weights; a candidate that failed has none)."""
    results = {label_: {"seconds": r["seconds"]} if "seconds" in r else {} for label_, r in record["results"].items()}
    return {"results": results, "model": record.get("model"), "crop": record.get("crop")}


def _unchecked(speeds: dict) -> dict:
    """Results for a new model from its architecture's speeds: torch as it is (the reference),
    each runtime `unchecked` until _choose checks its accuracy on this model."""
    return {
        label_: {"seconds": r["seconds"], **({"ok": True} if label_ == "torch" else {"unchecked": True})}
        for label_, r in speeds.items()
    }


def _lasting(record: dict) -> bool:
    """No failure of the moment (the cache folder unwritable) among the results: such a failure
    is not a fact about the model, so the record is measured again next time, not remembered."""
    return not any(r.get("transient") for r in record["results"].values())


def _usable(r: dict) -> bool:
    """A candidate that passed its check, or whose check is still to come (unchecked)."""
    return bool(r.get("ok") or r.get("unchecked"))


def _failed(e: BackendError) -> dict:
    """A candidate's result when it could not run; `transient` when the cause is not the model's
    (BackendError.lasting), so that the measurement is not remembered."""
    return {"ok": False, "problem": str(e), **({} if e.lasting else {"transient": True})}


def measurement_crop(x: torch.Tensor, multiple: int, side: int = MEASURE_SIDE) -> torch.Tensor:
    """The first image of a batch, cropped to at most `side` (rounded down to the multiple)."""
    side = max(multiple, side // multiple * multiple)
    return x[:1, :, : min(x.shape[-2], side), : min(x.shape[-1], side)].contiguous()
