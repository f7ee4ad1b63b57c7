"""Image I/O: modes, depth, alpha, EXIF, ICC, and every kind of bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from i2i.data.color import lab_to_rgb, rgb_to_lab
from i2i.data.image_io import encode_image, read_image
from i2i.errors import ImageError


def test_rgba_keeps_alpha(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (10, 12, 4), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.pixels.shape == (10, 12, 3) and img.alpha.shape == (10, 12)
    back = Image.open(io.BytesIO(encode_image(img, "PNG")))
    assert back.mode == "RGBA" and np.array_equal(np.asarray(back), arr)


def test_16_bit_gray_round_trips(tmp_path):
    arr = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.bit_depth == 16 and img.is_gray
    back = Image.open(io.BytesIO(encode_image(img, "PNG")))
    assert back.mode.startswith("I") and np.array_equal(np.asarray(back).astype(np.uint16), arr)


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "o.jpg").size == (20, 40)


def test_icc_profile_is_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "icc.png", icc_profile=icc)
    img = read_image(tmp_path / "icc.png")
    assert Image.open(io.BytesIO(encode_image(img, "PNG"))).info.get("icc_profile") == icc


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def bad_inputs(folder):
    """Every kind of bad input, written into `folder`; returns {name: expected message part}."""
    (folder / "zero.png").write_bytes(b"")
    good = io.BytesIO()
    Image.new("RGB", (64, 64), "green").save(good, "PNG")
    (folder / "truncated.png").write_bytes(good.getvalue()[:60])
    (folder / "text.jpg").write_bytes(b"this is not an image at all")
    (folder / "bomb.png").write_bytes(_png_header_only(40000, 40000))
    return {
        "zero.png": "empty file",
        "truncated.png": "truncated or corrupt",
        "text.jpg": "not an image",
        "bomb.png": "megapixels, above the limit",
    }


def test_bad_inputs_raise_one_clear_error_each(tmp_path):
    for name, message in bad_inputs(tmp_path).items():
        with pytest.raises(ImageError) as e:
            read_image(tmp_path / name)
        assert message in str(e.value) and name in str(e.value)
        assert "\n" not in str(e.value)


def test_lab_round_trip():
    import torch

    rgb = torch.rand(2, 3, 16, 16)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)
    white = rgb_to_lab(torch.ones(1, 3, 1, 1))
    assert abs(white[0, 0].item() - 100) < 0.01 and white[0, 1:].abs().max() < 0.01


@pytest.mark.parametrize("channels,bit_depth", [(3, 8), (1, 8), (4, 8), (2, 8), (1, 16)])
def test_png_band_writer_round_trips(channels, bit_depth):
    from i2i.data.png_stream import PNGBandWriter

    rng = np.random.default_rng(channels)
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    rows = rng.integers(0, np.iinfo(dtype).max, (70, 33, channels), dtype=dtype)
    rows[40:] //= 5  # smooth and rough parts exercise every Paeth branch
    buf = io.BytesIO()
    writer = PNGBandWriter(buf, 33, 70, channels, bit_depth, exif=b"Exif\0\0II*\0\x08\0\0\0\0\0")
    for start in range(0, 70, 25):  # bands that do not align with the filter's chunks
        writer.write(rows[start : start + 25])
    writer.close()
    back = Image.open(io.BytesIO(buf.getvalue()))
    assert back.size == (33, 70)
    assert np.array_equal(np.asarray(back).reshape(rows.shape).astype(np.int64), rows.astype(np.int64))
    assert back.info.get("exif", b"").endswith(b"II*\0\x08\0\0\0\0\0")


def test_png_band_writer_refuses_a_short_image():
    from i2i.data.png_stream import PNGBandWriter

    writer = PNGBandWriter(io.BytesIO(), 4, 4, 3)
    writer.write(np.zeros((3, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="3 of its 4 rows"):
        writer.close()
    with pytest.raises(ValueError, match="rows must be"):
        writer.write(np.zeros((1, 5, 3), np.uint8))
