"""Tiling: seamless for convolutional SR nets, and no colour shift with instance norm."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from i2i.archs.registry import build, get_spec
from i2i.checkpoint import LoadedModel, ModelInfo
from i2i.engine.runner import ModelRunner
from i2i.engine.tiling import even_tile, ramp, tile_starts
from i2i.task import Task


def _model(arch, options, task):
    torch.manual_seed(0)
    module, cfg = build(arch, options)
    return LoadedModel(
        module=module.eval(),
        info=ModelInfo(arch=arch, options=dataclasses.asdict(cfg), task=task),
        spec=get_spec(arch),
        config=cfg,
    )


@pytest.mark.parametrize("length,tile,overlap", [(100, 40, 16), (64, 64, 8), (65, 64, 16), (10, 64, 8)])
def test_tiles_cover_everything(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    covered = set()
    for s in starts:
        covered |= set(range(s, min(s + tile, length)))
    assert covered == set(range(length))


@pytest.mark.parametrize("length", [1280, 960, 513, 1000, 4097])
@pytest.mark.parametrize("tile,overlap,multiple", [(512, 96, 1), (768, 64, 4), (256, 32, 8), (1024, 64, 1)])
def test_even_tiles_share_the_length_without_extra_work(length, tile, overlap, multiple):
    side = even_tile(length, tile, overlap, multiple)
    starts = tile_starts(length, side, overlap)
    assert side <= tile and (side % multiple == 0 or side == length)
    # No more tiles than tiles of the requested side need, and each neighbour overlaps by at
    # least the overlap asked for (the seam quality), by little more (the rounding).
    assert len(starts) == len(tile_starts(length, tile, overlap))
    steps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(side - overlap - 2 * multiple <= step <= side - overlap for step in steps)
    assert starts[0] == 0 and starts[-1] + side == length


def test_even_tiles_of_1280_by_768_overlap_as_asked():
    # Tiles of 768 over 1280 pixels would overlap by 256: the network would run over 1.8x the image.
    assert even_tile(1280, 768, 64) == 672
    assert even_tile(500, 512, 96) == 500


def test_ramps_sum_to_one_over_overlap():
    o = 32
    left, right = ramp(64, o, False, True), ramp(64, o, True, False)
    total = left[64 - o :] + right[:o]
    assert torch.allclose(total, torch.ones(o))


def test_tiled_sr_matches_whole_image_within_one_level(data):
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    model = _model(
        "srresnet", {"scale": 2, "channels": 16, "blocks": 3}, Task(kind="upscale", value_range="0,1", scale=2)
    )
    x = rgb_of(read_image(data / "sr/val/Set5/butterfly.png"))[None][..., :150, :170]
    whole = ModelRunner(model, device="cpu", tile=0)(x)
    tiled = ModelRunner(model, device="cpu", tile=64)(x)
    assert tiled.shape == whole.shape == (1, 3, 300, 340)
    assert (tiled - whole).abs().max().item() <= 1 / 255


def test_instance_norm_tiles_keep_brightness(data):
    from i2i.data.image_io import read_image
    from i2i.engine.adapters import rgb_of

    model = _model("transformer_net", {"width": 8, "res_blocks": 2}, Task(kind="stylize", value_range="0,255"))
    x = rgb_of(read_image(data / "sr/val/Set14/lenna.png"))[None]
    whole = ModelRunner(model, device="cpu", tile=0)(x)
    tiled = ModelRunner(model, device="cpu", tile=160)(x)
    # Per-tile statistics would shift each tile's mean; whole-image statistics keep it.
    for y0 in range(0, 512, 128):
        for x0 in range(0, 512, 128):
            a = whole[..., y0 : y0 + 128, x0 : x0 + 128].mean(dim=(2, 3))
            b = tiled[..., y0 : y0 + 128, x0 : x0 + 128].mean(dim=(2, 3))
            assert (a - b).abs().max().item() < 0.03


def test_blend_weights_of_a_tile_grid_sum_to_one():
    from i2i.engine.tiling import blend_weights

    starts = tile_starts(100, 40, 16)
    weights = blend_weights(starts, 40, 100, 16)
    total = torch.zeros(100)
    for s, w in zip(starts, weights):
        total[s : s + 40] += w
    assert torch.allclose(total, torch.ones(100))


def test_a_large_network_tiles_by_its_memory_not_only_by_pixels(tmp_path):
    """RealESRGAN_x4plus's RRDB (64 filters: its x4 layers hold 64 channels at 16x the input's
    pixels) took 9.1 GB for one untiled 640x480 photo: automatic tiling starts where its
    estimated peak passes AUTO_TILE_BYTES, far below AUTO_TILE_PIXELS, in smaller tiles."""
    from spandrel.architectures.ESRGAN import ESRGAN

    from i2i.checkpoint import load_model
    from i2i.engine import runner as runner_module

    path = tmp_path / "RealESRGAN_x4plus.pth"
    torch.save(ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=1, scale=4).state_dict(), path)
    rrdb = ModelRunner(load_model(path), device="cpu")
    assert rrdb.largest_output_bytes_per_pixel() == 64 * 16 * 4
    limit = runner_module.AUTO_TILE_BYTES // (64 * 16 * 4 * runner_module.PEAK_PER_LARGEST_OUTPUT)
    assert rrdb.max_call_pixels() == limit < runner_module.AUTO_TILE_PIXELS
    assert rrdb.wants_tiles(480, 640) and not rrdb.wants_tiles(240, 320)
    assert rrdb.auto_tile() ** 2 <= limit < (rrdb.auto_tile() + 1) ** 2
    assert not ModelRunner(load_model(path), device="cpu", tile=0).wants_tiles(480, 640)  # --tile 0: whole
    shipped = ModelRunner(
        _model(
            "srresnet",
            {"scale": 4, "channels": 48, "blocks": 2, "upsampler": "direct"},
            Task(kind="upscale", value_range="0,1", scale=4),
        ),
        device="cpu",
    )
    assert shipped.max_call_pixels() == runner_module.AUTO_TILE_PIXELS and shipped.auto_tile() == 512


def test_the_memory_probe_runs_once_per_architecture_not_per_blend(monkeypatch):
    """--denoise auto builds a blend per degradation level: one network, other weights."""
    from i2i.engine import runner as runner_module

    monkeypatch.setattr(runner_module, "_LARGEST_OUTPUT", {})
    probes = []
    probe = ModelRunner._probe_largest_output
    monkeypatch.setattr(ModelRunner, "_probe_largest_output", lambda self: probes.append(1) or probe(self))
    task = Task(kind="upscale", value_range="0,1", scale=4)
    options = {"scale": 4, "channels": 16, "blocks": 1, "upsampler": "direct"}
    first, blend = (_model("srresnet", options, task) for _ in range(2))
    with torch.no_grad():
        for p in blend.module.parameters():
            p.add_(0.1)
    answers = [ModelRunner(m, device="cpu").largest_output_bytes_per_pixel() for m in (first, blend)]
    assert answers[0] == answers[1] > 0 and len(probes) == 1
    wider = _model("srresnet", {**options, "channels": 64}, task)  # 64 features > the 48 of the x4 shuffle
    assert ModelRunner(wider, device="cpu").largest_output_bytes_per_pixel() > answers[0] and len(probes) == 2


def test_a_batch_holds_no_more_pixels_than_one_call_may(data, tmp_path, monkeypatch):
    """Same-size images are batched up to the call's pixel limit, not always batch_size of them."""
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.jobs import plan_job
    from i2i.engine.options import OutputOptions

    model = _model(
        "srresnet", {"scale": 2, "channels": 8, "blocks": 1}, Task(kind="upscale", value_range="0,1", scale=2)
    )
    engine = Engine(model, RGBAdapter(task=model.task), device="cpu", batch_size=4, backend="torch")
    monkeypatch.setattr(engine.runner, "max_call_pixels", lambda: 2 * 256 * 256)  # two of these photos
    batches = []
    real_call = type(engine.runner).__call__
    monkeypatch.setattr(
        type(engine.runner), "__call__", lambda self, x: batches.append(x.shape[0]) or real_call(self, x)
    )
    for f in sorted((data / "monet2photo/testB").iterdir())[:5]:
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f.name).write_bytes(f.read_bytes())
    out = OutputOptions(out=str(tmp_path / "out"))
    results = list(plan_job([str(tmp_path / "in")], out).run(engine, out))
    assert len(results) == 5 and all(r.ok for r in results)
    assert batches == [2, 2, 1]
