"""Community model files (ESRGAN, Real-ESRGAN, SRVGGNetCompact, SwinIR, Real-CUGAN, SPAN) run
through spandrel: each family is built with spandrel's own architecture code at a tiny size with
random weights, saved in that family's published file layout, upscaled by the real CLI, and
compared with spandrel's own forward."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import peers
import pytest
import torch
from conftest import start_cli
from PIL import Image

from i2i.checkpoint import convert, load_model, read_info
from i2i.errors import CheckpointError

spandrel = pytest.importorskip("spandrel")
from spandrel import MAIN_REGISTRY  # noqa: E402
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.DAT import DAT  # noqa: E402
from spandrel.architectures.DnCNN import DnCNN  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.HAT import HAT  # noqa: E402
from spandrel.architectures.OmniSR import OmniSR  # noqa: E402
from spandrel.architectures.PLKSR import PLKSR  # noqa: E402
from spandrel.architectures.RealCUGAN import UpCunet2x  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402


def _prefixed(state: dict, prefix: str = "module.") -> dict:
    return {prefix + k: v for k, v in state.items()}


def _quieter(module, layer: str, factor: float):
    """Scale one layer's weights so random weights do not drive most outputs past [0, 1]
    (SPAN works at 0..255 inside), which would leave little to compare."""
    with torch.no_grad():
        for p in module.get_submodule(layer).parameters():
            p.mul_(factor)
    return module


# id: (module maker, file layout, file name, spandrel arch id, scale)
FAMILIES = {
    "esrgan-old-layout": (
        lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=2, scale=4),
        lambda s: s,
        "4x-UltraSharp.pth",
        "ESRGAN",
        4,
    ),
    "realesrgan-x4plus": (
        lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=2, scale=4),
        lambda s: {"params_ema": peers.esrgan_new_layout(s)},
        "RealESRGAN_x4plus.pth",
        "ESRGAN",
        4,
    ),
    "realesrgan-x2plus-unshuffle": (
        lambda: ESRGAN(in_nc=12, out_nc=3, num_filters=8, num_blocks=1, scale=4, shuffle_factor=2),
        lambda s: {"params_ema": peers.esrgan_new_layout(s)},
        "RealESRGAN_x2plus.pth",
        "ESRGAN",
        2,
    ),
    "srvggnet-compact": (
        lambda: Compact(num_feat=8, num_conv=3, upscale=4),
        lambda s: {"params": s},
        "realesr-general-x4v3.pth",
        "Compact",
        4,
    ),
    "swinir": (
        lambda: SwinIR(
            img_size=16,
            embed_dim=12,
            depths=[1],
            num_heads=[2],
            window_size=4,
            mlp_ratio=2,
            upscale=2,
            upsampler="pixelshuffle",
        ),
        lambda s: {"params_ema": s},
        "001_classicalSR_DF2K_s64w8_SwinIR-M_x2.pth",
        "SwinIR",
        2,
    ),
    "realcugan": (
        lambda: UpCunet2x(in_channels=3, out_channels=3),
        lambda s: s,
        "up2x-latest-conservative.pth",
        "RealCUGAN",
        2,
    ),
    "span-dataparallel-safetensors": (
        lambda: _quieter(SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2), "upsampler.0", 0.01),
        _prefixed,
        "2x-span.safetensors",
        "SPAN",
        2,
    ),
}


def _save(obj: dict, path):
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in obj.items()}, str(path))
    else:
        torch.save(obj, path)


def make_family(family: str, folder):
    """(path of the saved file, spandrel's own descriptor of the same weights)."""
    make, layout, name, _, _ = FAMILIES[family]
    torch.manual_seed(0)
    module = make().eval()
    state = {k: v.clone() for k, v in module.state_dict().items()}
    path = folder / name
    _save(layout(state), path)
    return path, MAIN_REGISTRY.load(dict(state)).eval()


@pytest.fixture(scope="module")
def photo(data, tmp_path_factory):
    """A real photo (Set5 baby) downscaled to 26x18: not a multiple of 4, under Real-CUGAN's
    32 px minimum, so padding to the descriptor's requirements is exercised."""
    path = tmp_path_factory.mktemp("photo") / "baby.png"
    Image.open(data / "sr/val/Set5/baby.png").convert("RGB").resize((26, 18), Image.BICUBIC).save(path)
    return path


def spandrel_output(descriptor, image_path) -> np.ndarray:
    """spandrel's own forward (its padding, call function and clamp), as 8-bit pixels."""
    x = torch.from_numpy(np.asarray(Image.open(image_path), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    if descriptor.input_channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    y = descriptor(x)[0].permute(1, 2, 0).numpy()
    return np.round(y * 255).astype(np.int16)


@pytest.fixture(scope="module")
def cli_runs(photo, tmp_path_factory):
    """Every family's `i2i upscale` (and a gray model's, and one `i2i convert`) started at once:
    each is a separate process whose time is mostly start-up, so running them side by side
    keeps this file quick on two cores. family -> (process result, output, spandrel's descriptor).
    They run on torch: each family on each runtime is test_backends.py's, and measuring the
    runtimes for each new model would cost more than its run."""
    folder = tmp_path_factory.mktemp("families")
    torch_backend = ("--backend", "torch")
    jobs, runs = {}, {}
    for family in FAMILIES:
        (folder / family).mkdir()
        path, descriptor = make_family(family, folder / family)
        out = folder / family / "out.png"
        jobs[family] = (
            start_cli("upscale", "--model", path, photo, "-o", out, "--json", *torch_backend),
            out,
            descriptor,
        )
    gray, gray_descriptor = make_gray_model(folder)
    jobs["gray"] = (
        start_cli("upscale", "--model", gray, photo, "-o", folder / "gray.png", *torch_backend),
        folder / "gray.png",
        gray_descriptor,
    )
    x4plus = folder / "realesrgan-x4plus" / FAMILIES["realesrgan-x4plus"][2]
    converted = folder / "x4plus.safetensors"
    jobs["convert"] = (start_cli("convert", x4plus, converted), converted, None)
    for name, (process, out, descriptor) in jobs.items():
        stdout, stderr = process.communicate(timeout=600)
        runs[name] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), out, descriptor)
    return runs


def make_gray_model(folder):
    torch.manual_seed(0)
    module = ESRGAN(in_nc=1, out_nc=1, num_filters=8, num_blocks=1, scale=2).eval()
    path = folder / "2x-gray.pth"
    torch.save(module.state_dict(), path)
    return path, MAIN_REGISTRY.load(dict(module.state_dict())).eval()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_upscales_like_spandrel(family, cli_runs):
    r, out, descriptor = cli_runs[family]
    scale = FAMILIES[family][4]
    assert (descriptor.architecture.id, descriptor.scale) == FAMILIES[family][3:]
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["error"] is None and line["size"] == [26 * scale, 18 * scale]
    got = np.asarray(Image.open(out), dtype=np.int16)
    expected = spandrel_output(descriptor, line["input"])
    assert got.shape == expected.shape == (18 * scale, 26 * scale, 3)
    assert np.abs(got - expected).max() <= 1
    # Random weights still give an image, not a constant: the comparison means something.
    assert expected.std() > 2 and ((expected > 0) & (expected < 255)).mean() > 0.2


def test_gray_model_gets_luma_and_writes_gray(cli_runs, photo, tmp_path):
    """A 1-channel community model: the RGB input is converted to what it takes (BT.601 luma),
    and `info` says so."""
    from i2i.checkpoint import model_info
    from i2i.cli.info import summary

    r, out, descriptor = cli_runs["gray"]
    assert r.returncode == 0, r.stderr
    got = Image.open(out)
    assert got.mode == "L" and got.size == (52, 36)
    expected = spandrel_output(descriptor, photo)[..., 0]
    assert np.abs(np.asarray(got, dtype=np.int16) - expected).max() <= 1
    path = make_gray_model(tmp_path)[0]
    assert summary(path, model_info(path))["channels"] == {"in": "1 (gray)", "out": "1 (gray)"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_converted_checkpoint_reloads_without_detection(family, tmp_path, monkeypatch):
    path, descriptor = make_family(family, tmp_path)
    dst = tmp_path / "converted.safetensors"
    info = convert(path, dst)
    assert info.arch == "spandrel" and info.options["arch"] == FAMILIES[family][3]
    assert read_info(dst).task.scale == FAMILIES[family][4]

    def no_detection(*args, **kwargs):
        raise AssertionError("a converted checkpoint must not need detection")

    monkeypatch.setattr(type(MAIN_REGISTRY), "load", no_detection)
    loaded = load_model(dst)
    x = torch.rand(1, 3, 36, 36)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x).clamp(0, 1), descriptor(x), atol=1e-5)


MORE_FAMILIES = {  # in-process only: the same path as the CLI runs above, without a process each
    "HAT": lambda: HAT(
        img_size=16,
        embed_dim=12,
        depths=(1,),
        num_heads=(2,),
        window_size=4,
        mlp_ratio=2,
        upscale=2,
        upsampler="pixelshuffle",
        compress_ratio=3,
        squeeze_factor=3,
    ),
    "DAT": lambda: DAT(
        img_size=16,
        embed_dim=16,
        split_size=[2, 4],
        depth=[1],
        num_heads=[2],
        expansion_factor=2,
        upscale=2,
        upsampler="pixelshuffle",
    ),
    "OmniSR": lambda: OmniSR(num_feat=8, block_num=1, window_size=4, up_scale=2),
    "PLKSR": lambda: PLKSR(dim=8, n_blocks=2, upscaling_factor=2, kernel_size=7),
    "DnCNN": lambda: DnCNN(in_nc=3, out_nc=3, nc=8, nb=17),  # a 1x restoration (denoise) model
}


@pytest.mark.parametrize("arch", sorted(MORE_FAMILIES))
def test_more_families_run_like_spandrel(arch, tmp_path):
    from i2i.data.image_io import ImageData
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    torch.manual_seed(0)
    state = {k: v.clone() for k, v in MORE_FAMILIES[arch]().eval().state_dict().items()}
    torch.save({"params": state}, tmp_path / f"{arch}.pth")
    model = load_model(tmp_path / f"{arch}.pth")
    descriptor = MAIN_REGISTRY.load(dict(state)).eval()
    assert model.config.arch == arch
    assert model.task.kind == ("restore" if descriptor.scale == 1 else "upscale")
    image = ImageData(pixels=np.random.default_rng(0).random((26, 30, 3), dtype=np.float32))
    got = Engine(model, RGBAdapter(task=model.task)).run_image(image).pixels
    expected = descriptor(torch.from_numpy(image.pixels).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4
    assert expected.std() > 0.01


def test_descriptor_requirements_reach_the_engine(tmp_path):
    """Size requirements, tiling advice and precision flags come from spandrel's descriptor."""
    swinir = load_model(make_family("swinir", tmp_path)[0])
    assert swinir.config.size_minimum == 16 and swinir.config.tiling == "discouraged"
    assert not swinir.spec.tiles  # never tiled: the engine runs it whole
    assert not swinir.spec.half_precision and swinir.spec.bfloat16
    x2plus = load_model(make_family("realesrgan-x2plus-unshuffle", tmp_path)[0])
    assert x2plus.spec.size_multiple(x2plus.config) == 4 and x2plus.spec.tiles
    assert x2plus.task.scale == 2 and x2plus.task.kind == "upscale"
    with torch.no_grad():  # a 5x3 input is padded to the minimum and multiple, the output cropped
        assert x2plus.module(torch.rand(1, 3, 3, 5)).shape == (1, 3, 6, 10)


def test_tiled_output_matches_whole(tmp_path, photo):
    """A model spandrel marks as tileable goes through the engine's tiles like i2i's own."""
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    model = load_model(make_family("srvggnet-compact", tmp_path)[0])
    assert model.spec.tiles
    big = tmp_path / "big.png"
    Image.open(photo).resize((52, 36), Image.BICUBIC).save(big)
    image = read_image(big)
    outputs = [
        Engine(model, RGBAdapter(task=model.task), tile=tile, tile_overlap=12).run_image(image).pixels
        for tile in (0, 24)
    ]
    assert outputs[0].shape == (144, 208, 3)
    assert np.abs(outputs[0] - outputs[1]).max() <= 1 / 255


def test_info_and_convert_through_the_cli(cli_runs, cli):
    r, converted, _ = cli_runs["convert"]
    assert r.returncode == 0, r.stderr
    r = cli("info", converted)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    for expected in (
        "name: RealESRGAN_x4plus",
        "arch: spandrel",
        "arch: ESRGAN",
        "scale: 4",
        "size_minimum: 2",
        "tiling: supported",
        "in: 3 (RGB)",
        "licence: architecture code from spandrel",
    ):
        assert expected in text, text


def test_edited_options_of_a_converted_file_are_refused(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    path, _ = make_family("srvggnet-compact", tmp_path)
    dst = tmp_path / "c.safetensors"
    convert(path, dst)
    with safe_open(str(dst), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    for edit, message in (
        ({"arch": "HAT"}, "not a spandrel HAT layout"),
        ({"arch": "NoSuchNet"}, "not a spandrel NoSuchNet layout"),
        ({"size_minimum": 100000}, "size_minimum = 100000"),
        ({"scale": 2}, "task scale 4 disagrees"),
    ):
        options = {**json.loads(meta["options"]), **edit}
        bad = tmp_path / "bad.safetensors"
        save_file(tensors, str(bad), metadata={**meta, "options": json.dumps(options)})
        with pytest.raises(CheckpointError, match=message) as e:
            load_model(bad)
        assert str(bad) in str(e.value)


def test_unrecognised_files_name_spandrel_too(tmp_path):
    torch.save({"params": {"foo.weight": torch.zeros(3)}}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="unknown checkpoint layout.*spandrel does not recognise it"):
        load_model(tmp_path / "odd.pth")


def test_extra_arches_are_flagged_non_commercial(tmp_path, monkeypatch):
    """With spandrel_extra_arches installed (never by i2i), its models load and `info` says
    their licence is non-commercial. A stand-in package plays that role here."""
    package = tmp_path / "site" / "spandrel_extra_arches"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("""
import torch
from spandrel import ArchRegistry, ArchSupport, Architecture, ImageModelDescriptor

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.nc_conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    def forward(self, x):
        return self.nc_conv(x)

class TinyNCArch(Architecture):
    def __init__(self):
        super().__init__(id="TinyNC", detect=lambda s: "nc_conv.weight" in s)
    def load(self, state):
        return ImageModelDescriptor(Tiny(), state, architecture=self, purpose="Restoration",
                                    tags=[], supports_half=False, supports_bfloat16=False,
                                    scale=1, input_channels=3, output_channels=3)

EXTRA_REGISTRY = ArchRegistry()
EXTRA_REGISTRY.add(ArchSupport.from_architecture(TinyNCArch()))
""")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "spandrel_extra_arches", raising=False)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    torch.save({"nc_conv.weight": conv.weight.data, "nc_conv.bias": conv.bias.data}, tmp_path / "nc.pth")
    model = load_model(tmp_path / "nc.pth")
    assert model.task.kind == "restore" and model.config.arch == "TinyNC"
    from i2i.cli.info import summary

    assert "NON-COMMERCIAL" in summary(tmp_path / "nc.pth", model.info)["licence"]
    monkeypatch.delitem(sys.modules, "spandrel_extra_arches")


def test_rgba_model_gets_alpha_and_gives_it(tmp_path):
    """A 4-channel model takes RGB + alpha and its fourth output channel is the output alpha."""
    from i2i.data.image_io import ImageData
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    torch.manual_seed(0)
    module = ESRGAN(in_nc=4, out_nc=4, num_filters=8, num_blocks=1, scale=2).eval()
    torch.save(module.state_dict(), tmp_path / "2x-rgba.pth")
    model = load_model(tmp_path / "2x-rgba.pth")
    assert (model.task.in_space, model.task.out_space) == ("RGBA", "RGBA")
    g = np.random.default_rng(0)
    image = ImageData(pixels=g.random((12, 16, 3), dtype=np.float32), alpha=g.random((12, 16), dtype=np.float32))
    got = Engine(model, RGBAdapter(task=model.task)).run_image(image)
    x = torch.from_numpy(np.dstack([image.pixels, image.alpha])).permute(2, 0, 1)[None]
    expected = MAIN_REGISTRY.load(module.state_dict())(x)[0].permute(1, 2, 0).numpy()
    assert np.abs(got.pixels - expected[..., :3]).max() < 1e-4
    # The alpha goes through the same exact-size resize as any alpha: equal at the model's scale.
    assert got.alpha.shape == (24, 32) and np.abs(got.alpha - expected[..., 3]).max() < 1e-4
