"""Pictures of progress without matplotlib: image grids and loss curves drawn with Pillow."""
from __future__ import annotations

import math

from PIL import Image, ImageDraw

from ..data.image_io import atomic_save

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]


def save_grid(rows, path) -> None:
    """rows: list of lists of (3, H, W) tensors in [0, 1]; each row's images side by side."""
    import torch

    cells = [torch.cat([t.detach().float().cpu().clamp(0, 1) for t in row], dim=2) for row in rows]
    width = max(c.shape[2] for c in cells)
    cells = [torch.nn.functional.pad(c, (0, width - c.shape[2])) for c in cells]
    grid = torch.cat(cells, dim=1)
    array = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
    atomic_save(Image.fromarray(array), path, format="PNG")


def _smooth(values, k):
    if k <= 1 or len(values) < 2 * k:
        return values
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= k:
            acc -= values[i - k]
        out.append(acc / min(i + 1, k))
    return out


def save_curves(records: list[dict], path, *, size=(900, 200)) -> None:
    """One panel per metric (log scale where positive), x = step, smoothed."""
    names = sorted({k for r in records for k in r if k not in ("step", "time", "lr", "kind")})
    w, ph = size
    img = Image.new("RGB", (w, max(1, len(names)) * ph), "white")
    draw = ImageDraw.Draw(img)
    for i, name in enumerate(names):
        pts = [(r["step"], r[name]) for r in records if name in r and math.isfinite(r[name])]
        top = i * ph
        draw.rectangle([0, top, w - 1, top + ph - 1], outline=(200, 200, 200))
        if len(pts) < 2:
            draw.text((8, top + 4), f"{name}: waiting for data", fill="black")
            continue
        xs = [p[0] for p in pts]
        log = all(p[1] > 0 for p in pts) and not name.startswith(("psnr", "ssim"))
        ys = [math.log10(p[1]) if log else p[1] for p in pts]
        ys = _smooth(ys, max(1, len(ys) // 50))
        x0, x1 = min(xs), max(xs) or 1
        y0, y1 = min(ys), max(ys)
        y1 = y1 if y1 > y0 else y0 + 1e-6
        line = [(50 + (x - x0) / max(x1 - x0, 1) * (w - 60),
                 top + 20 + (1 - (y - y0) / (y1 - y0)) * (ph - 35)) for x, y in zip(xs, ys)]
        draw.line(line, fill=COLOURS[i % len(COLOURS)], width=2)
        last = pts[-1][1]
        scale = " (log10)" if log else ""
        draw.text((8, top + 4), f"{name}{scale}  last={last:.4g}  step={xs[-1]}", fill="black")
    atomic_save(img, path, format="PNG")
