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
