"""The real-world degradation pipeline (Real-ESRGAN's second order), step by step on a real image."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import degradations as dg
from i2i.data.datasets import SRPatches, to_tensor
from i2i.data.image_io import load_rgb


@pytest.fixture(scope="module")
def patch(data) -> torch.Tensor:
    """A real 128x128 HR patch, (3, 128, 128) in [0, 1]."""
    return to_tensor(load_rgb(data / "sr/val/Set5/butterfly.png").crop((40, 40, 168, 168)))


@pytest.mark.parametrize(
    "shape,beta", [("gaussian", 1.0), ("generalized", 0.5), ("generalized", 3.0), ("plateau", 1.5)]
)
def test_kernels_sum_to_one_and_follow_their_rotation(shape, beta):
    k = dg.gaussian_kernel(21, 3.0, 1.0, 0.0, beta=beta, shape=shape)
    assert k.shape == (21, 21) and abs(k.sum() - 1) < 1e-9 and (k >= 0).all()
    assert k[10, 14] > k[14, 10]  # wider along x than along y
    turned = dg.gaussian_kernel(21, 3.0, 1.0, math.pi / 2, beta=beta, shape=shape)
    assert np.allclose(turned, k.T, atol=1e-9)  # a quarter turn swaps the axes


def test_sinc_kernel_sums_to_one_and_rings():
    k = dg.sinc_kernel(21, math.pi / 3)
    assert abs(k.sum() - 1) < 1e-9 and k.min() < 0  # negative lobes: the ringing it imitates


def test_random_kernels_are_padded_normalised_and_varied():
    rng = np.random.default_rng(0)
    kernels = [dg.random_kernel(dg.StageOptions(), rng) for _ in range(40)]
    assert all(k.shape == (21, 21) and abs(k.sum() - 1) < 1e-6 for k in kernels)
    assert len({round(float(k.max()), 6) for k in kernels}) > 30


def test_blur_keeps_flat_areas_and_size(patch):
    flat = torch.full((3, 64, 64), 0.4)
    k = dg.gaussian_kernel(21, 2.0, 2.0, 0.0)
    assert torch.allclose(dg.filter2d(flat, k), flat, atol=1e-6)
    blurred = dg.filter2d(patch, k)
    assert blurred.shape == patch.shape
    # Blur removes high frequencies: neighbouring pixels differ less.
    assert blurred.diff(dim=-1).abs().mean() < 0.6 * patch.diff(dim=-1).abs().mean()


def test_jpeg_is_pillows_codec_at_that_quality(patch):
    arr = (patch * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    for q in (30, 50, 95):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=q)
        expected = np.asarray(Image.open(buf), dtype=np.float32) / 255
        got = dg.jpeg(patch, q).permute(1, 2, 0).numpy()
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_has_the_asked_sigma(gray):
    x = torch.full((3, 256, 256), 0.5)
    y = dg.gaussian_noise(x, 10 / 255, gray, np.random.default_rng(1))
    noise = y - x
    assert abs(noise.std().item() * 255 - 10) < 0.3 and abs(noise.mean().item()) < 1e-3
    assert torch.equal(noise[0], noise[1]) == gray


def test_poisson_noise_variance_follows_the_signal():
    rng = np.random.default_rng(2)
    dark, bright = torch.full((3, 256, 256), 0.1), torch.full((3, 256, 256), 0.8)
    v_dark = (dg.poisson_noise(dark, 1.0, False, rng) - dark).var().item()
    v_bright = (dg.poisson_noise(bright, 1.0, False, rng) - bright).var().item()
    # Shot noise: variance = signal / 256 at 8-bit resolution.
    assert abs(v_dark - 0.1 / 256) < 0.1 * 0.1 / 256 and abs(v_bright - 0.8 / 256) < 0.1 * 0.8 / 256


def test_resize_modes_give_the_asked_size(patch):
    for mode in dg.RESIZE_MODES:
        assert dg.resize(patch, (50, 70), mode).shape == (3, 50, 70)


def test_pipeline_is_deterministic_per_seed_and_makes_lr(patch):
    d = dg.RealDegradation()
    a = d(patch, 4, np.random.default_rng([3, 1, 7]))
    b = d(patch, 4, np.random.default_rng([3, 1, 7]))
    c = d(patch, 4, np.random.default_rng([3, 1, 8]))
    assert a.shape == (3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal((a * 255).round() / 255, a) and a.min() >= 0 and a.max() <= 1


def test_options_round_trip_through_json():
    import json

    d = dg.RealDegradation(final_sinc_prob=0.5)
    assert dg.RealDegradation.from_dict(json.loads(json.dumps(d.to_dict()))) == d


def test_unsharp_mask_sharpens_edges_and_keeps_flat_areas(patch):
    sharp = dg.unsharp_mask(patch)
    assert sharp.diff(dim=-1).abs().mean() > patch.diff(dim=-1).abs().mean()
    flat = torch.full((3, 64, 64), 0.3)
    assert torch.allclose(dg.unsharp_mask(flat), flat, atol=1e-6)


def test_real_patches_are_the_same_in_any_worker(data):
    ds = SRPatches([data / "sr/val/Set5"], scale=4, crop=16, seed=5, degrade=dg.RealDegradation())
    loader = torch.utils.data.DataLoader(ds, batch_size=3, sampler=range(6), num_workers=2)
    batches = list(loader)
    direct = [ds[k] for k in range(6)]
    got = torch.cat([b["lr"] for b in batches])
    assert torch.equal(got, torch.stack([d["lr"] for d in direct]))
    assert got.shape == (6, 3, 16, 16) and batches[0]["hr"].shape == (3, 3, 64, 64)


def test_fixed_degradation_is_seeded_by_file_name(data):
    hr = load_rgb(data / "sr/val/Set5/bird.png").crop((0, 0, 288, 288))
    fd = dg.FixedDegradation()
    seed = fd.seed_for(data / "sr/val/Set5/bird.png")
    a, b = fd(hr, 4, seed), fd(hr, 4, seed)
    assert a.size == (72, 72) and np.array_equal(np.asarray(a), np.asarray(b))


def test_overrides_replace_only_the_named_ranges():
    d = dg.RealDegradation().with_overrides({"first": {"noise_range": [1, 15]}, "final_sinc_prob": 0.5})
    assert d.first.noise_range == (1, 15) and d.first.jpeg_range == (30.0, 95.0) and d.final_sinc_prob == 0.5
    assert d.second == dg.RealDegradation().second
    with pytest.raises(ValueError, match="noise_rang"):
        dg.RealDegradation().with_overrides({"first": {"noise_rang": [1, 2]}})
