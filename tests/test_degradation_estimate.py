"""The degradation estimates --denoise auto chooses from: exact JPEG quality, noise in levels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from i2i.data.degradation_estimate import estimate, jpeg_quality, noise_sigma, uncompressed_reading


def _jpeg(image: Image.Image, **save) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **save)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 90, 95, 100])
def test_jpeg_quality_is_read_exactly_from_the_tables(quality, data):
    photo = Image.open(data / "sr/val/Set5/bird.png").convert("RGB")
    assert jpeg_quality(_jpeg(photo, quality=quality)) == quality
    assert jpeg_quality(_jpeg(photo.convert("L"), quality=quality)) == quality


def test_jpeg_quality_is_none_for_other_formats(data):
    assert jpeg_quality(Image.open(data / "sr/val/Set5/bird.png")) is None


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_reads_its_sigma_on_a_flat_image(sigma):
    noisy = 128 + np.random.default_rng(0).standard_normal((256, 256)) * sigma
    assert noise_sigma(np.clip(np.round(noisy), 0, 255)) == pytest.approx(sigma, rel=0.1)


def test_a_clean_photo_reads_little_noise_and_added_noise_reads_more(data):
    photo = Image.open(data / "sr/val/Set14/lenna.png").convert("RGB").resize((128, 128), Image.BICUBIC)
    clean = estimate(photo)
    arr = (
        np.asarray(photo, dtype=np.float64) + np.random.default_rng(1).standard_normal((128, 128, 1)) * 8
    )  # luma noise of sigma 8
    noisy = estimate(Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8)))
    assert clean.jpeg_quality is None and clean.noise < 2
    assert noisy.noise > 6


@pytest.mark.parametrize("level", [1, 2])
def test_each_band_reads_the_sigma_of_white_noise(level):
    noisy = 128 + np.random.default_rng(0).standard_normal((256, 256)) * 6
    assert noise_sigma(np.clip(np.round(noisy), 0, 255), level) == pytest.approx(6, rel=0.1)


def test_noise_that_jpeg_took_out_of_the_finest_band_still_reads_as_noise(data):
    """A phone-like photo: noise, then JPEG at quality 90, which empties the finest band."""
    photo = Image.open(data / "sr/train/BSD200/100080.png").convert("RGB")
    noise = np.random.default_rng(2).standard_normal((photo.height, photo.width, 3)) * 8  # per channel: luma sigma 5.4
    noisy = Image.fromarray(np.clip(np.round(np.asarray(photo, dtype=np.float64) + noise), 0, 255).astype(np.uint8))
    clean, found = (estimate(_jpeg(im, quality=90)) for im in (photo, noisy))
    assert (
        noise_sigma(np.asarray(_jpeg(noisy, quality=90).convert("L"), dtype=np.float64)) < 4
    )  # the finest band alone: 2.6
    assert found.jpeg_quality == 90 and found.noise > 5  # 5.46; uncompressed it reads 5.56
    assert clean.noise < 2  # 0.75


def test_texture_of_a_small_jpeg_is_not_read_as_noise(data):
    """A quarter-size textured photo (BSD200 12003: rocks and grass) saved at high quality: the
    band below the finest read its texture as noise of 12-14 levels; the mapped finest band does
    not, and noise added before the JPEG still reads as such."""
    photo = Image.open(data / "sr/train/BSD200/12003.png").convert("RGB").resize((120, 80), Image.BICUBIC)
    for quality in (95, 90):
        assert estimate(_jpeg(photo, quality=quality)).noise < 4.5  # 2.95, 3.93
    noisy = np.asarray(photo, dtype=np.float64) + np.random.default_rng(3).standard_normal((80, 120, 3)) * 10
    found = estimate(_jpeg(Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8)), quality=90))
    assert found.noise > 7


def test_an_uncompressed_reading_is_mapped_to_itself_and_jpeg_readings_grow_back():
    assert uncompressed_reading(5.0, 100) == pytest.approx(5.0)
    assert uncompressed_reading(3.31, 90) == pytest.approx(6.11)  # sigma 8 through JPEG 90
    readings = [uncompressed_reading(r, 87.5) for r in np.linspace(0, 12, 25)]
    assert readings == sorted(readings)


def test_tiny_images_read_no_noise():
    assert noise_sigma(np.zeros((3, 3))) == 0.0
