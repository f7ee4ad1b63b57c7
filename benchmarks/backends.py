"""Inference backends side by side: seconds per image for each shipped model at a typical size.

Rows: upscale x4 and x2 of a 640x480 photo, stylize 1024x768, colorize 1024x768, facades
(label -> photo) 256x256, and a pytorch-CycleGAN-and-pix2pix resnet_9blocks (its own key layout,
random weights: speed does not depend on training) at 256x256. Whether a lower precision stays
within the tolerance does depend on the weights, and random ones are the worst case: a random
resnet_9blocks is chaotic (a rounding in its first convolution alone moves the output 0.4/255 on
average), so bf16 lands at 0.8/255 and `auto-prec` keeps fp32, where trained ResNet generators
hold bf16 to 0.1/255. --resnet-9blocks FILE times a trained one (pytorch-CycleGAN-and-pix2pix's
latest_net_G.pth, or an `i2i train cyclegan --ngf 64 --blocks 9` export) in the row and the folder.
Columns, all on the same image, each the median of --rounds runs after a warm-up, run in
alternation (each round starting one column later) so that a busy spell on this shared machine
hits all of them alike:
  plain         a plain PyTorch loop: fp32, NCHW, batch 1, torch.inference_mode, the same
                pre- and post-processing as i2i (the adapter), the module called directly
  torch, onnxruntime, openvino, openvino-bf16, onnxruntime-int8, openvino-int8
                i2i (Engine.run_image) with --backend X and --precision fp32, bf16 or int8
                (a forced lower precision still falls back to fp32 outside the tolerance: the
                `ran` column says what ran; i2i's torch backend runs stride-1 convolutions
                through NNPACK, i2i/kernels.py)
  auto          i2i with --backend auto --precision fp32
  auto-prec     i2i with --backend auto --precision auto: the CLI's default (bf16 or int8 where
                native, within tolerance and measurably faster, else fp32)
plus each one's max and mean difference to the plain loop (output units: 8-bit levels), and for
SR the PSNR-Y change on Set5 + Set14 against the plain loop. Each row also prints the network's
FLOPs (torch's FLOP counter, a multiply-add is 2) and the throughput each variant reached, next
to this machine's fp32 (and bf16) peak as a large matrix product reaches it: a row whose plain loop
already runs near that peak cannot be sped up much in fp32 by any runtime.
Then the community models users bring (--only community): RRDB in RealESRGAN_x4plus's shape
(23 blocks, 64 features) and SRVGGNetCompact in realesr-general-x4v3's (32 convolutions, 64
features, PReLU), built with spandrel's architecture code and random weights (speed does not
depend on the weights), x4 of the 640x480 photo: i2i with its defaults against the PyTorch-eager
path of their own tools (Real-ESRGAN's inference_realesrgan.py with --fp32, tile 0, batch 1;
chaiNNer and ComfyUI call the same spandrel module eagerly).
Then `i2i translate` folder throughput over --images 256x256 photos with the resnet_9blocks
against an emulation of pytorch-CycleGAN-and-pix2pix's test.py (dataset transforms, batch 1,
tensor2im, PIL save), and the time of `i2i --help`.
Then (--only crops) whether `auto`'s measurement crop ranks the fp32 backends as whole images do:
each row's fp32 backends on centre crops of 192-480 pixels a side and on the whole input, each
backend's fastest of --rounds, as the ratio of each runtime's time to torch's (on a Zen 1 the
192 crop ranked them within 8 % where whole photos differed by 26 %: selection.MEASURE_SIDE).
The cache folder is a fresh temporary one: `auto`'s first use (export, quantisation and
measurement) is timed. Every runtime and torch get --threads intra-op threads.

Run: python benchmarks/backends.py [--rounds 5] [--images 50] [--threads 2]
     [--only rows,community,folder,help,crops] [--rows NAMES] [--variants NAMES]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, image_data, machine, photo_640x480  # noqa: E402

VARIANTS = {  # name -> (backend, precision)
    "torch": ("torch", "fp32"),
    "onnxruntime": ("onnxruntime", "fp32"),
    "openvino": ("openvino", "fp32"),
    "openvino-bf16": ("openvino", "bf16"),
    "onnxruntime-int8": ("onnxruntime", "int8"),
    "openvino-int8": ("openvino", "int8"),
    "auto": ("auto", "fp32"),
    "auto-prec": ("auto", "auto"),
}
FOLDER_CHUNK = 10
TARGETS = {  # issue 33's bars for the default precision (auto-prec); issue 16's for fp32 (auto)
    "upscale-x4 640x480": {"auto": ">= 2x plain (stretch 3x), <= 1 s", "auto-prec": ">= 4x plain, <= 0.6 s"},
    "stylize 1024x768": {"auto": ">= 2x plain", "auto-prec": ">= 3x plain"},
    "resnet_9blocks 256x256": {"auto": ">= 1.4x plain", "auto-prec": ">= 2x plain"},
}
LOWER = ("openvino-bf16", "onnxruntime-int8", "openvino-int8")


def rgb_image(path, size) -> object:
    return image_data(Image.open(path).convert("RGB").resize(size, Image.BICUBIC))


def rows(tmp: Path, resnet: Path | None = None):
    """(row name, checkpoint path, adapter factory, ImageData input); resnet: a trained
    resnet_9blocks file for its row (None: random weights)."""
    from i2i.engine.adapters import ColorizeAdapter, RGBAdapter

    photo = image_data(photo_640x480())
    rgb = lambda m: RGBAdapter(task=m.task, keep_gray=m.task.kind == "upscale")  # noqa: E731
    out = [
        ("upscale-x4 640x480", WEIGHTS / "upscale-x4.safetensors", rgb, photo),
        ("upscale-x2 640x480", WEIGHTS / "upscale-x2.safetensors", rgb, photo),
        (
            "stylize 1024x768",
            WEIGHTS / "style-starry-night.safetensors",
            rgb,
            rgb_image(DATA / "sr/val/Set14/lenna.png", (1024, 768)),
        ),
    ]
    gray = image_data(
        Image.open(DATA / "sr/train/BSD200/100075.png").convert("L").convert("RGB").resize((1024, 768), Image.BICUBIC)
    )
    out.append(
        (
            "colorize 1024x768",
            WEIGHTS / "colorize.safetensors",
            lambda m: ColorizeAdapter(task=m.task, multiple=m.spec.size_multiple(m.config)),
            gray,
        )
    )
    facade = Image.open(DATA / "facades/train/1.jpg").convert("RGB")
    labels = facade.crop((256, 0, 512, 256))  # A|B pairs; the shipped model is BtoA: labels -> photo
    out.append(("facades 256x256", WEIGHTS / "facades-label2photo.safetensors", rgb, image_data(labels)))
    out.append(
        (
            "resnet_9blocks 256x256",
            resnet or resnet_9blocks(tmp),
            rgb,
            rgb_image(sorted((DATA / "monet2photo/testB").iterdir())[0], (256, 256)),
        )
    )
    return out


def resnet_9blocks(tmp: Path) -> Path:
    """A pytorch-CycleGAN-and-pix2pix resnet_9blocks generator in its own key layout (.pth)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import peers

    path = tmp / "latest_net_G.pth"
    torch.manual_seed(0)
    net = peers.ResnetGenerator(3, 3, ngf=64, norm_layer=peers.INSTANCE, n_blocks=9).eval()
    torch.save(net.state_dict(), path)
    return path


def network_input(model, adapter, image) -> tuple[torch.Tensor, tuple[int, int]]:
    """The (1, C, H', W') tensor the network gets for `image` (the adapter's preparation in the
    task's value range, padded to the architecture's size multiple) and the (H, W) before padding."""
    from i2i.engine.tiling import pad_to_multiple

    x = model.task.to_net(adapter.prepare(image)[None])
    return pad_to_multiple(x, model.spec.size_multiple(model.config))[0], tuple(x.shape[-2:])


def network_gflop(model, adapter, image) -> float:
    """GFLOP of one forward pass of the network on `image` (convolutions and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.module.eval()(network_input(model, adapter, image)[0])
    return counter.get_total_flops() / 1e9


def matmul_peak_gflops(dtype=torch.float32, n: int = 2048, rounds: int = 7) -> float:
    """GFLOP/s of an n x n matrix product in `dtype` at torch's thread count (median of `rounds`):
    what this CPU's vector units deliver in practice, the roof for a convolution in that dtype."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def plain_loop(model, adapter):
    """The network called directly (NCHW fp32, batch 1) between the same adapter steps as i2i."""
    module = copy.deepcopy(model.module).eval()
    task, s = model.task, model.spec.scale(model.config)

    def run(image):
        x, (h, w) = network_input(model, adapter, image)
        with torch.inference_mode():
            y = module(x)
        y = task.from_net(y[..., : h * s, : w * s]).clamp(0, 1)
        return adapter.finish(image, y[0])

    return run


def i2i_engine(path, make_adapter, backend: str, precision: str):
    from i2i.checkpoint import load_model
    from i2i.engine.engine import Engine

    model = load_model(path)
    engine = Engine(model, make_adapter(model), device="cpu", backend=backend, precision=precision)
    engine.ran = lambda: engine.runner.last_backend
    return engine.run_image, engine


def available(variant: str) -> bool:
    from i2i.engine.backends import native_bf16, native_int8

    precision = VARIANTS[variant][1]
    return {"bf16": native_bf16, "int8": native_int8}.get(precision, lambda: True)()


def compare_rows(args, tmp: Path) -> None:
    from i2i.checkpoint import load_model
    from i2i.engine.backends import native_bf16

    peak = matmul_peak_gflops()
    peak_bf16 = matmul_peak_gflops(torch.bfloat16) if native_bf16() else float("nan")
    print(f"\nmatrix-product peak at {torch.get_num_threads()} threads: fp32 {peak:.0f} GFLOP/s, bf16 {peak_bf16:.0f}")
    emit("fp32 matrix-product peak", peak, "GFLOP/s")
    for name, path, make_adapter, image in rows(tmp, args.resnet_9blocks):
        if args.rows and not any(r in name for r in args.rows.split(",")):
            continue
        model = load_model(path)
        adapter = make_adapter(model)
        runs = {"plain": plain_loop(model, adapter)}
        engines = {}
        first_use = {}
        for variant, (backend, precision) in VARIANTS.items():
            if not available(variant) or (args.variants and variant not in args.variants.split(",")):
                continue
            runs[variant], engines[variant] = i2i_engine(path, make_adapter, backend, precision)
        outputs = {}
        for variant, run in runs.items():  # warm-up: exports, measurements (first use) and outputs
            start = time.perf_counter()
            outputs[variant] = run(image).pixels
            first_use[variant] = time.perf_counter() - start
        times = {v: [] for v in runs}
        order = list(runs)
        for r in range(args.rounds):  # each round starts one variant later: no fixed neighbours
            for variant in order[r % len(order) :] + order[: r % len(order)]:
                start = time.perf_counter()
                runs[variant](image)
                times[variant].append(time.perf_counter() - start)
        med = {v: statistics.median(t) for v, t in times.items()}
        ref = outputs["plain"]
        gflop = network_gflop(model, adapter, image)
        print(f"\n## {name} ({model.info.arch}, {Path(path).name}); seconds per image, median of {args.rounds}")
        print(
            f"{gflop:.1f} GFLOP per image: at the fp32 matrix-product peak {gflop / peak:.3f} s "
            f"(the plain loop reaches {gflop / med['plain'] / peak:.0%} of it)"
        )
        print(f"{'variant':15} {'seconds':>8} {'vs plain':>9} {'GFLOP/s':>8} {'max diff':>9} {'mean diff':>10}  ran")
        diffs = {}
        for variant in runs:
            d = np.abs(outputs[variant].astype(np.float64) - ref)
            diffs[variant] = (float(d.max()) * 255, float(d.mean()) * 255)
            ran = engines[variant].ran() if variant in engines else ""
            print(
                f"{variant:15} {med[variant]:8.3f} {med['plain'] / med[variant]:8.2f}x {gflop / med[variant]:8.0f} "
                f"{diffs[variant][0]:9.4f} {diffs[variant][1]:10.5f}  {ran}"
            )
        first = next(v for v in runs if v in engines and v != "torch")
        print(
            f"first use of a runtime ({first}: export + measuring every backend, cache empty): "
            f"{first_use[first]:.2f} s, against {med[first]:.3f} s later"
        )
        tag = name
        emit(f"{tag} GFLOP", gflop, "GFLOP")
        emit(f"{tag} time at the fp32 matrix-product peak", gflop / peak, "s")
        emit(f"{tag} plain loop seconds", med["plain"], "s")
        for variant in runs:
            if variant != "plain":
                emit(f"{tag} {variant} seconds", med[variant], "s")
        for auto in ("auto", "auto-prec"):
            if auto in med:
                target = TARGETS.get(name, {}).get(auto, "")
                emit(f"{tag} {auto} speed-up vs plain", med["plain"] / med[auto], "x", target)
        # How good auto's choice is: the time of the explicit variant that runs what auto chose,
        # over the fastest accurate one (same sessions' kind, same noise), and auto's own time.
        fp32 = [v for v in ("torch", "onnxruntime", "openvino") if v in med]
        # A forced lower precision that fell back to fp32 is not a candidate of its own.
        accurate = fp32 + [v for v in LOWER if v in med and engines[v].ran().endswith(VARIANTS[v][1])]
        by_label = {engines[v].ran(): v for v in reversed(accurate)}
        for auto, pool in (("auto", fp32), ("auto-prec", accurate)):
            if auto not in med or not pool:
                continue
            chosen = by_label.get(engines[auto].ran())
            fastest = min(pool, key=med.get)
            if chosen is not None:
                print(
                    f"{auto} chose {engines[auto].ran()}: {med[chosen]:.3f} s; fastest {fastest}: "
                    f"{med[fastest]:.3f} s; {auto} itself {med[auto]:.3f} s"
                )
                emit(f"{tag} {auto} choice / fastest", med[chosen] / med[fastest], "x", "<= 1.10")
            emit(f"{tag} {auto} itself / fastest", med[auto] / med[fastest], "x")
        for variant in (*LOWER, "auto-prec"):
            if variant in diffs:
                emit(f"{tag} {variant} mean diff", diffs[variant][1], "/255", "<= 0.5")
        if "auto" in diffs:
            emit(f"{tag} auto max diff", diffs["auto"][0], "/255", "<= 1")
        if model.task.kind == "upscale":
            sr_quality_change(tag, model, runs, engines)


def sr_quality_change(tag: str, model, runs: dict, engines: dict) -> None:
    """PSNR-Y on Set5 and Set14 of each variant, as a change against the plain loop's."""
    from benchmarks.sr_quality import evaluate

    scale = model.task.scale

    def upscaler(run):
        def upscale(lr, size):
            out = run(image_data(lr)).pixels
            return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))

        return upscale

    # fp32 runtimes differ from the plain loop by ~1e-4 of a level (the table above): their PSNR
    # change is 0.0000. What can move it is bf16 or int8, one of which auto-prec may run.
    variants = [v for v in (*LOWER, "auto-prec") if v in runs and engines[v].ran().split()[-1] in ("bf16", "int8")]
    for set_name in ("Set5", "Set14"):
        base = evaluate(upscaler(runs["plain"]), set_name, scale)[0]
        line = [f"{set_name} PSNR-Y plain {base:.3f} dB"]
        for variant in variants:
            change = evaluate(upscaler(runs[variant]), set_name, scale)[0] - base
            line.append(f"{variant} ({engines[variant].ran()}) {change:+.4f} dB")
            emit(f"{tag} {variant} {set_name} PSNR-Y change", change, "dB", "abs <= 0.05")
        print("  " + ", ".join(line))


# ---- community models against the PyTorch-eager path of their own tools ---------------------


def community_models(tmp: Path) -> list[tuple[str, Path, object]]:
    """(row name, .pth path, the spandrel module) for RRDB in RealESRGAN_x4plus's shape and
    SRVGGNetCompact in realesr-general-x4v3's, random weights (seeded), in BasicSR's file layout."""
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    made = [
        (
            "RRDB x4plus 640x480",
            "RealESRGAN_x4plus.pth",
            ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4),
        ),
        (
            "SRVGGNetCompact x4v3 640x480",
            "realesr-general-x4v3.pth",
            Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4, act_type="prelu"),
        ),
    ]
    out = []
    for name, file, module in made:
        path = tmp / file
        torch.save(module.eval().state_dict(), path)
        out.append((name, path, module))
    return out


def their_eager(module):
    """Real-ESRGAN's inference_realesrgan.py with --fp32 --tile 0 (RealESRGANer.enhance): the
    image as float32 in [0, 1], NCHW, batch 1, the module under torch.no_grad, clamped, rounded to
    8 bits. (chaiNNer and ComfyUI call the same spandrel module eagerly in fp32 on a CPU.)"""
    module = copy.deepcopy(module).eval()

    def run(pil):
        x = torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            y = module(x)
        return (y[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    return run


def community_rows(args, tmp: Path) -> None:
    """i2i's defaults (backend auto, precision auto) against their eager path, alternating."""
    from i2i.checkpoint import load_model
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    photo = photo_640x480()
    for name, path, module in community_models(tmp):
        if args.rows and not any(r in name for r in args.rows.split(",")):
            continue
        model = load_model(path)
        engine = Engine(model, RGBAdapter(task=model.task), device="cpu", precision="auto", tile=0)
        runs = {"eager": their_eager(module), "i2i": lambda p: engine.run_image(image_data(p)).pixels}
        start = time.perf_counter()
        ours = runs["i2i"](photo)  # first use: export, quantisation, measurement
        first_use = time.perf_counter() - start
        times = {v: [] for v in runs}
        theirs = None
        for r in range(args.community_rounds):
            for variant in list(runs)[r % 2 :] + list(runs)[: r % 2]:
                start = time.perf_counter()
                out = runs[variant](photo)
                times[variant].append(time.perf_counter() - start)
                if variant == "eager":
                    theirs = out
        med = {v: statistics.median(t) for v, t in times.items()}
        diff = np.abs(np.clip(ours, 0, 1) * 255 - theirs.astype(np.float64))
        ran = engine.runner.last_backend
        print(
            f"\n## {name} ({model.info.arch}, random weights): eager {med['eager']:.2f} s, i2i {med['i2i']:.2f} s "
            f"({ran}), {med['eager'] / med['i2i']:.2f}x; median of {args.community_rounds}; i2i first use "
            f"{first_use:.1f} s; difference to eager {diff.mean():.3f}/255 mean, {diff.max():.1f}/255 max"
        )
        for note in engine.notes:
            print(f"  note: {note}")
        emit(f"{name} eager seconds", med["eager"], "s")
        emit(f"{name} i2i seconds", med["i2i"], "s")
        emit(f"{name} i2i vs eager", med["eager"] / med["i2i"], "x", ">= 2")


# ---- folder throughput against pytorch-CycleGAN-and-pix2pix's test.py ----------------------


def their_test_py(module, files, out_dir: Path) -> float:
    """What `python test.py --model test --no_dropout` does per image (one process, batch 1,
    num_threads 0): PIL load, Resize(256, BICUBIC) + ToTensor + Normalize(0.5), the generator
    under no_grad, tensor2im ((x + 1) / 2 * 255, uint8), PIL save as PNG. (Its HTML page and
    per-image prints are left out: they cost next to nothing.) Returns seconds for all `files`."""
    from torchvision import transforms

    transform = transforms.Compose(
        [
            transforms.Resize([256, 256], transforms.InterpolationMode.BICUBIC),
            transforms.ToTensor(),
            transforms.Normalize((0.5,) * 3, (0.5,) * 3),
        ]
    )
    start = time.perf_counter()
    for f in files:
        x = transform(Image.open(f).convert("RGB"))[None]
        with torch.no_grad():
            y = module(x)
        arr = ((y[0].cpu().float().numpy().transpose(1, 2, 0) + 1) / 2 * 255).astype(np.uint8)
        Image.fromarray(arr).save(out_dir / (f.stem + ".png"))
    return time.perf_counter() - start


def i2i_translate_folder(engine, in_dir: Path, out_dir: Path) -> tuple[float, str]:
    """`i2i translate`'s engine over a folder (start-up excluded, as for test.py): seconds, backend."""
    from i2i.engine.inputs import OutputOptions, expand_inputs

    jobs, _, _ = expand_inputs([str(in_dir)])
    start = time.perf_counter()
    results = list(engine.process(jobs, OutputOptions(out=str(out_dir), ext="png")))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return time.perf_counter() - start, results[0].backend


def folder_throughput(args, tmp: Path) -> None:
    """The folder in chunks of CHUNK images, test.py and i2i alternating chunk by chunk (so a
    busy spell on the machine hits both); seconds per image over the whole folder."""
    from i2i.checkpoint import load_model
    from i2i.data.datasets import list_images
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    files = list_images(DATA / "monet2photo/testB")[: args.images]
    chunks = [files[i : i + FOLDER_CHUNK] for i in range(0, len(files), FOLDER_CHUNK)]
    for i, chunk in enumerate(chunks):
        (tmp / "in" / str(i)).mkdir(parents=True)
        for f in chunk:
            Image.open(f).save(tmp / "in" / str(i) / f.name)
    path = args.resnet_9blocks or resnet_9blocks(tmp)
    module = load_model(path).module  # their module and ours hold the same weights
    model = load_model(path)
    engine = Engine(model, RGBAdapter(task=model.task), device="cpu", precision="auto")  # i2i translate's defaults
    i2i_translate_folder(engine, tmp / "in" / "0", tmp / "warm")  # first use: export + measure
    theirs = ours = 0.0
    ran = ""
    for i in range(len(chunks)):
        (tmp / "theirs" / str(i)).mkdir(parents=True)
        theirs += their_test_py(module, sorted((tmp / "in" / str(i)).iterdir()), tmp / "theirs" / str(i))
        seconds, ran = i2i_translate_folder(engine, tmp / "in" / str(i), tmp / "ours" / str(i))
        ours += seconds
    t, o = theirs / len(files), ours / len(files)
    print(
        f"\n## folder of {len(files)} 256x256 photos, resnet_9blocks: their test.py {t:.3f} s/image, "
        f"i2i translate {o:.3f} s/image ({ran}), {t / o:.2f}x (chunks of {FOLDER_CHUNK}, alternating)"
    )
    emit("translate folder resnet_9blocks s/image", o, "s")
    emit("test.py folder resnet_9blocks s/image", t, "s")
    emit("translate folder vs test.py", t / o, "x", ">= 1.4")


def help_time() -> None:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "i2i", "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    print(f"\n## i2i --help: {statistics.median(times):.3f} s (median of 5)")
    emit("i2i --help seconds", statistics.median(times), "s", "< 0.3")


def crop_ranking(args, tmp: Path) -> None:
    """The fp32 backends' times on crops of each row's input against the whole input."""
    for name, path, make_adapter, image in rows(tmp, args.resnet_9blocks):
        if args.rows and not any(r in name for r in args.rows.split(",")):
            continue
        runs = {v: i2i_engine(path, make_adapter, v, "fp32")[0] for v in ("torch", "onnxruntime", "openvino")}
        h, w = image.pixels.shape[:2]
        print(f"\n## {name}: fp32 backends on crops (fastest of {args.rounds}; runtime / torch)")
        for side in (192, 256, 320, 384, 480, None):
            if side is not None and side >= min(h, w):
                continue
            top, left = ((h - side) // 2, (w - side) // 2) if side else (0, 0)
            pixels = image.pixels[top : top + side, left : left + side] if side else image.pixels
            crop = dataclasses.replace(image, pixels=np.ascontiguousarray(pixels))  # the rows have no alpha
            for run in runs.values():
                run(crop)  # warm-up: exports, sessions
            times = {v: [] for v in runs}
            for r in range(args.rounds):
                for v in list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]:
                    time.sleep(0.05)
                    start = time.perf_counter()
                    runs[v](crop)
                    times[v].append(time.perf_counter() - start)
            best = {v: min(t) for v, t in times.items()}
            label = f"{side}x{side}" if side else f"whole {w}x{h}"
            ratios = ", ".join(f"{v} {best[v] / best['torch']:.2f}" for v in runs if v != "torch")
            print(f"{label:>14}: torch {best['torch']:.3f} s; {ratios}")
            for v in runs:
                if v != "torch":
                    emit(f"{name} {label} {v} / torch", best[v] / best["torch"], "x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated parts: rows, community, folder, help, crops")
    parser.add_argument("--rows", default="", help="comma-separated row names (or parts of them)")
    parser.add_argument("--variants", default="", help="comma-separated columns (default: all); plain always runs")
    parser.add_argument("--community-rounds", type=int, default=3, help="timed runs of each community model")
    parser.add_argument(
        "--resnet-9blocks",
        type=Path,
        help="a trained resnet_9blocks file for its row and the folder (default: random weights)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = set(args.only.split(",")) if args.only else {"rows", "community", "folder", "help"}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["I2I_CACHE_DIR"] = str(Path(tmp) / "cache")
        from i2i.engine.backends import native_bf16, native_int8, versions

        print(f"# backends on {machine()}; {versions()}; native bf16: {native_bf16()}, int8: {native_int8()}")
        if "rows" in parts:
            compare_rows(args, Path(tmp))
        if "community" in parts:
            community_rows(args, Path(tmp))
        if "folder" in parts:
            folder_throughput(args, Path(tmp))
        if "crops" in parts:
            crop_ranking(args, Path(tmp))
    if "help" in parts:
        help_time()


if __name__ == "__main__":
    main()
