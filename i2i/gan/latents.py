"""Latent vectors of unconditional generators: seeded sampling, truncation, spherical
interpolation, files, and the DCGAN paper's vector arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import UsageError

JITTER = 0.25  # DCGAN paper, fig. 7: neighbours of an arithmetic result, uniform +-0.25 noise


def sample_latents(n: int, z_dim: int, seed: int, truncation: float | None = None, first: int = 0) -> torch.Tensor:
    """(n, z_dim) float32 latents ~ N(0, I); latent i depends only on (seed, first + i), so the
    first k of `-n 64` are those of `-n k`. truncation T redraws entries with |z| > T (the
    truncation trick, Brock et al. 2019): samples nearer the mode, less varied."""
    if truncation is not None and truncation <= 0:
        raise UsageError(f"--truncation must be positive, not {truncation}")
    rows = []
    for i in range(first, first + n):
        rng = np.random.default_rng([seed, i])
        z = rng.standard_normal(z_dim)
        while truncation is not None and (outside := np.abs(z) > truncation).any():
            z[outside] = rng.standard_normal(int(outside.sum()))
        rows.append(z)
    return torch.from_numpy(np.stack(rows).astype(np.float32)) if rows else torch.zeros(0, z_dim)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between two latents (Shoemake 1985; recommended for Gaussian
    latents by White, "Sampling Generative Networks", 2016): intermediate points keep the norm
    that N(0, I) samples have, where a straight line would pass through unlikely short ones."""
    na, nb = a / a.norm(), b / b.norm()
    omega = torch.arccos((na * nb).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, z_dim): a, then evenly spaced slerp points, then b."""
    if steps < 2:
        raise UsageError(f"--steps must be at least 2, not {steps}")
    return torch.stack([slerp(a, b, i / (steps - 1)) for i in range(steps)])


def save_latents(path, z: torch.Tensor, *, overwrite: bool = True, **metadata: str) -> None:
    """(n, z_dim) latents as a safetensors file with key "z" (atomic write; overwrite=False:
    files.OutputExists rather than replace a file that appeared meanwhile)."""
    from safetensors.torch import save

    from ..checkpoint import utf8_text
    from ..files import atomic_write_bytes

    metadata = {k: utf8_text(str(v)) for k, v in metadata.items()}  # a source file's name, any bytes
    atomic_write_bytes(save({"z": z.detach().cpu().float().contiguous()}, metadata=metadata), path, overwrite=overwrite)


def load_latents(path) -> torch.Tensor:
    """(n, z_dim) latents from a file written by save_latents (`i2i generate`, `i2i invert`)."""
    from ..checkpoint import open_safetensors

    try:
        with open_safetensors(path) as f:
            z = f.get_tensor("z")
    except Exception as e:
        raise UsageError(f"{path}: not a latents file ({type(e).__name__}: {e})") from None
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2:
        raise UsageError(f"{path}: latents must be (n, z_dim), not {tuple(z.shape)}")
    return z.float()


_TERM = re.compile(r"^(?:seed:(?P<seed>\d+)|(?P<file>.+?))(?:\[(?P<rows>[\d,\s]+)\])?$")


def latent_term(term: str, z_dim: int) -> torch.Tensor:
    """(z_dim,) for one term: `seed:N` (latent 0 of seed N), `FILE` (the mean of its latents)
    or `FILE[i,j,k]` (the mean of those rows, as the paper averages three samples per concept)."""
    m = _TERM.match(term.strip())
    if not m:
        raise UsageError(f"cannot read latent term {term!r}")
    if m["seed"] is not None:
        z = sample_latents(1, z_dim, int(m["seed"]))
    else:
        if not Path(m["file"]).is_file():
            raise UsageError(f"{m['file']}: no such latents file")
        z = load_latents(m["file"])
    if m["rows"]:
        rows = [int(r) for r in m["rows"].split(",") if r.strip()]
        if any(r >= len(z) for r in rows):
            raise UsageError(f"{term}: rows {rows} but the file holds {len(z)} latent(s)")
        z = z[rows]
    if z.shape[1] != z_dim:
        raise UsageError(f"{term}: latents of length {z.shape[1]}, the model takes {z_dim}")
    return z.mean(0)


def arithmetic(expression: str, z_dim: int) -> torch.Tensor:
    """(z_dim,) result of "A - B + C" over latent terms (see latent_term); operators are
    separated by spaces so file names may contain '-'. Example: the DCGAN paper's
    "smiling woman - neutral woman + neutral man" with each concept a file of three latents."""
    tokens = expression.split()
    if not tokens or len(tokens) % 2 == 0 or any(t not in "+-" for t in tokens[1::2]):
        raise UsageError(f"--arithmetic wants terms joined by ' + ' or ' - ', not {expression!r}")
    total = latent_term(tokens[0], z_dim)
    for op, term in zip(tokens[1::2], tokens[2::2]):
        total = total + latent_term(term, z_dim) if op == "+" else total - latent_term(term, z_dim)
    return total


def neighbours(z: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """(n, z_dim): z itself, then n - 1 copies with uniform +-JITTER noise (the paper's fig. 7)."""
    g = torch.Generator().manual_seed(seed)
    noise = (torch.rand(n - 1, z.shape[-1], generator=g) * 2 - 1) * JITTER
    return torch.cat([z[None], z[None] + noise])
