"""Pictures of progress: sample grids (Pillow) and loss curves (matplotlib, imported lazily)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from ..data.image_io import atomic_save
from ..files import atomic_write_bytes

SKIPPED = ("step", "time", "kind")  # record keys that are not plotted series
PANEL_HEIGHT = 2.1  # inches per panel
SMOOTHING = 0.9  # exponential moving average weight, as TensorBoard's default slider is near


def save_grid(rows, path) -> np.ndarray:
    """rows: list of lists of (3, H, W) tensors in [0, 1]; each row's images side by side, no
    gaps (torchvision's make_grid, padding 0). Cells smaller than the largest are padded with
    black on the right and bottom, short rows with black cells. Writes a PNG and returns the
    (H, W, 3) uint8 picture (for TensorBoard)."""
    import torch
    from torchvision.utils import make_grid

    rows = [[t.detach().float().cpu().clamp(0, 1) for t in row] for row in rows]
    columns = max(len(row) for row in rows)
    height = max(t.shape[1] for row in rows for t in row)
    width = max(t.shape[2] for row in rows for t in row)
    black = torch.zeros(3, height, width)
    cells = [
        torch.nn.functional.pad(t, (0, width - t.shape[2], 0, height - t.shape[1]))
        for row in rows
        for t in row + [black] * (columns - len(row))
    ]
    grid = make_grid(cells, nrow=columns, padding=0)
    array = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
    atomic_save(Image.fromarray(array), path, format="PNG")
    return array


def smooth(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing): early points are not
    dragged toward zero."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight ** (i + 1)))
    return out


def series(records: list[dict]) -> tuple[dict[str, list], dict[str, list]]:
    """({training series}, {validation series}), each name -> [(step, value)], finite values only."""
    train: dict[str, list] = {}
    val: dict[str, list] = {}
    for r in records:
        target = val if r.get("kind") == "eval" else train
        for k, v in r.items():
            if k not in SKIPPED and isinstance(v, (int, float)) and math.isfinite(v):
                target.setdefault(k, []).append((r["step"], float(v)))
    return train, val


def save_curves(records: list[dict], path) -> None:
    """One panel per training series (raw faint, smoothed bold; log y where all values are
    positive, labelled so), then one per validation metric, all against the step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train, val = series(records)
    panels = [(name, pts, False) for name, pts in sorted(train.items())]
    panels += [(name, pts, True) for name, pts in sorted(val.items())]
    fig = Figure(figsize=(9, PANEL_HEIGHT * max(1, len(panels))), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, pts, is_val) in zip(axes, panels):
        _draw_series(ax, name, sorted(pts), is_val)
    if train:
        axes[0].legend(loc="best", fontsize="small", framealpha=0.6)
    if not panels:
        axes[0].text(0.5, 0.5, "waiting for data", ha="center", va="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel("step")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(buf.getvalue(), path)


def _draw_series(ax, name: str, pts: list, is_val: bool) -> None:
    steps = [p[0] for p in pts]
    values = [p[1] for p in pts]
    log = all(v > 0 for v in values) and not is_val
    colour = "tab:green" if is_val else "tab:blue"
    if is_val:
        ax.plot(steps, values, "o-", color=colour, lw=1.5, ms=4)
    else:
        ax.plot(steps, values, color=colour, lw=0.8, alpha=0.3, label="raw")
        if len(values) > 2:
            ax.plot(steps, smooth(values), color=colour, lw=2, label=f"smoothed (EMA {SMOOTHING})")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(f"{name}\n(log scale)" if log else name)
    kind = "validation" if is_val else "training"
    ax.set_title(f"{kind} {name}: last {values[-1]:.4g} at step {steps[-1]}", fontsize="medium", loc="left")
    ax.grid(True, which="major", alpha=0.3)
