"""Benchmark metrics that ask for more than a formula: what they must and must not react to."""

from __future__ import annotations

import torch

from i2i.metrics import checkerboard_energy


def test_checkerboard_energy_sees_a_2_pixel_pattern_and_not_the_border(data):
    from PIL import Image

    from i2i.data.datasets import to_tensor

    photo = to_tensor(Image.open(data / "facades/train/1.jpg").crop((0, 0, 256, 256)))[None]
    board = torch.ones(1, 1, 256, 256)
    board[..., ::2, ::2] = board[..., 1::2, 1::2] = 0.9  # a 10 % transposed-convolution-like grid
    clean, gridded = checkerboard_energy(photo), checkerboard_energy(photo * board)
    assert clean < 0.002 and gridded > 10 * clean
    # A hard image border (no periodicity) and a smooth ramp put nothing at the Nyquist points.
    ramp = torch.linspace(0, 1, 200)[None, None, None, :].expand(1, 3, 120, 200)
    assert checkerboard_energy(ramp) < 1e-4
    # White noise spreads evenly: its share is the measured bands' share of the spectrum.
    noise = checkerboard_energy(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)))
    assert 0.008 < noise < 0.02
    # Pixel-doubled images (nearest x2 upsampling) have none of it either way round.
    assert checkerboard_energy(torch.nn.functional.interpolate(photo, scale_factor=2)) < 2 * clean


def test_grid_energy_sees_a_4_pixel_hatching_and_only_a_grids_harmonics(data):
    """The 4-pixel grid of a TransformerNet's two nearest x2 steps: a 10 % diagonal hatching of
    period 4 raises the share many times, a 2-pixel checkerboard counts too (a harmonic), a
    3-pixel pattern does not; odd periods are refused."""
    import pytest
    from PIL import Image

    from i2i.data.datasets import to_tensor
    from i2i.metrics import grid_energy

    photo = to_tensor(Image.open(data / "facades/train/1.jpg").crop((0, 0, 256, 256)))[None]
    i, j = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    band = 1 / 256  # the grid's bins and their neighbours only
    clean = grid_energy(photo, 4, band)
    hatched = photo * (1 + 0.1 * torch.cos(2 * torch.pi * (i + j) / 4))
    assert grid_energy(hatched, 4, band) > 10 * clean
    board = photo * (1 + 0.1 * torch.cos(torch.pi * (i + j)))
    assert grid_energy(board, 4, band) > 10 * clean and grid_energy(board, 2, band) > 10 * grid_energy(photo, 2, band)
    thirds = photo * (1 + 0.1 * torch.cos(2 * torch.pi * i / 3))
    assert grid_energy(thirds, 4, band) < 2 * clean
    assert grid_energy(photo, 2) == checkerboard_energy(photo)
    with pytest.raises(ValueError, match="even"):
        grid_energy(photo, 3)


def test_grid_share_is_a_batched_differentiable_grid_energy(data):
    """The style recipe's --grid-weight penalty: one value per image, equal to grid_energy, and a
    gradient step on it takes a hatching out of an image."""
    from PIL import Image

    from i2i.data.datasets import to_tensor
    from i2i.metrics import grid_energy, grid_share

    photo = to_tensor(Image.open(data / "facades/train/1.jpg").crop((0, 0, 128, 128)))[None]
    i, j = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    hatched = (photo * (1 + 0.1 * torch.cos(2 * torch.pi * (i + j) / 4))).clamp(0, 1)
    batch = torch.cat([photo, hatched]).requires_grad_(True)
    shares = grid_share(batch, 4, 1 / 128)
    assert shares.shape == (2,)
    for k, image in enumerate((photo, hatched)):
        assert abs(shares[k].item() - grid_energy(image, 4, 1 / 128)) < 1e-5
    shares.sum().backward()
    stepped = (batch - 0.02 * batch.grad / batch.grad.abs().max()).detach()
    assert grid_energy(stepped[1:], 4, 1 / 128) < 0.9 * shares[1].item()


def test_ssim_equals_the_full_11x11_gaussian_window():
    """ssim_y filters with a row then a column pass; the 2-D window of the SR literature
    (Wang et al. 2004) gives the same value."""
    import torch.nn.functional as F

    from i2i.data.color import rgb_to_y
    from i2i.metrics import ssim_y

    g = torch.Generator().manual_seed(0)
    hr = torch.rand(1, 3, 40, 52, generator=g)
    sr = (hr + 0.5 * torch.randn(1, 3, 40, 52, generator=g)).clamp(0, 1)
    a, b = rgb_to_y(sr) * 255, rgb_to_y(hr) * 255
    a, b = a[..., 4:-4, 4:-4].round().double(), b[..., 4:-4, 4:-4].double()
    k = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / 4.5)
    k = k / k.sum()
    w = (k[:, None] * k[None, :]).view(1, 1, 11, 11)
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    var_a, var_b = F.conv2d(a * a, w) - mu_a**2, F.conv2d(b * b, w) - mu_b**2
    cov = F.conv2d(a * b, w) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    full = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    assert 0.1 < full.mean().item() < 0.9  # noisy enough that a wrong window would show
    assert abs(ssim_y(sr, hr, shave=4) - full.mean().item()) < 1e-12
