"""An unconditional generator ready to run: latents in, images in [0, 1] out, with named layers
whose units can be read, switched off (ablated) or forced on (boosted)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UsageError

BOOST_QUANTILE = 0.99  # a boosted unit is held at its 99th-percentile activation (measured)


@dataclass(frozen=True)
class UnitEdit:
    """Units of one layer to switch off (value 0) or hold at `value` (None: measured)."""

    layer: str
    units: tuple[int, ...]
    boost: bool = False
    value: float | None = None


class LatentGenerator:
    """(n, z_dim) latents -> (n, C, size, size) images in [0, 1], float32 on the CPU.

    `module` maps latents to images in [-1, 1] and has `layers()`: name -> module whose output
    (B, units, h, w) is a dissectable feature map (DCGANGenerator does).
    """

    def __init__(self, module: nn.Module, z_dim: int, size: int, *, device: str = "auto", name: str = ""):
        from ..devices import resolve_device

        self.device = resolve_device(device)
        self.module = module.eval().requires_grad_(False).to(self.device)
        self.z_dim, self.size, self.name = z_dim, size, name

    @classmethod
    def load(cls, name_or_path: str, *, device: str = "auto") -> LatentGenerator:
        """A shipped generator by name (dcgan-landscapes) or a checkpoint file.
        Raises CheckpointError for unreadable files, UsageError for models of another kind."""
        from ..checkpoint import load_model
        from ..models import resolve

        model = load_model(resolve(name_or_path))
        if model.spec.takes != "latent":
            raise UsageError(
                f"{model.path}: a {model.task.kind} model ({model.info.arch}); "
                "i2i generate, invert and dissect need a latent generator (i2i train dcgan)"
            )
        return cls(
            model.module,
            model.spec.latent_dim(model.config),
            model.spec.image_size(model.config),
            device=device,
            name=model.info.name,
        )

    def layer(self, name: str) -> nn.Module:
        layers = self.module.layers()
        if name not in layers:
            raise UsageError(f"no layer {name!r}; this generator has {', '.join(layers)}")
        return layers[name]

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        out = [self.module(z[i : i + batch_size].to(self.device)).float().cpu() for i in range(0, len(z), batch_size)]
        return ((torch.cat(out) + 1) / 2).clamp(0, 1) if out else torch.zeros(0, 3, self.size, self.size)

    def forward_differentiable(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (not clamped) with gradients to z: for inversion."""
        return (self.module(z) + 1) / 2

    @torch.no_grad()
    def features(self, layer: str, z: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """(n, units, h, w) output of a named layer for latents z, on the CPU."""
        grabbed = []
        hook = self.layer(layer).register_forward_hook(lambda m, i, o: grabbed.append(o.float().cpu().clone()))
        try:
            self(z, batch_size)
        finally:
            hook.remove()
        return torch.cat(grabbed)

    def unit_quantile(self, layer: str, q: float = BOOST_QUANTILE, n: int = 256, seed: int = 0) -> torch.Tensor:
        """(units,) q-quantile of each unit's activation over n random samples' maps."""
        from .latents import sample_latents

        f = self.features(layer, sample_latents(n, self.z_dim, seed))
        return torch.quantile(f.transpose(0, 1).reshape(f.shape[1], -1)[:, ::7], q, dim=1)

    @contextmanager
    def edited(self, edits: list[UnitEdit]):
        """Inside the block, the listed units are ablated (0) or boosted on every forward."""
        hooks = []
        try:
            for edit in edits:
                hooks.append(self.layer(edit.layer).register_forward_hook(self._edit_hook(edit)))
            yield self
        finally:
            for h in hooks:
                h.remove()

    def _edit_hook(self, edit: UnitEdit):
        units = list(edit.units)
        n_units = self.features(edit.layer, torch.zeros(1, self.z_dim)).shape[1]
        bad = [u for u in units if not 0 <= u < n_units]
        if bad:
            raise UsageError(f"{edit.layer} has units 0..{n_units - 1}, not {bad}")
        if edit.boost:
            values = (
                torch.full((len(units),), edit.value)
                if edit.value is not None
                else self.unit_quantile(edit.layer)[units]
            )
        else:
            values = torch.zeros(len(units))

        def hook(module, inputs, output):
            output = output.clone()
            output[:, units] = values.to(output).view(1, -1, 1, 1)
            return output

        return hook


_EDIT = re.compile(r"^(?P<layer>[\w.]+):(?P<units>\d+(?:,\d+)*)(?:=(?P<value>[-\d.eE]+))?$")


def parse_edit(text: str, boost: bool) -> UnitEdit:
    """'layer3:12,40' (units 12 and 40 of layer3); for --boost optionally '=VALUE'."""
    m = _EDIT.match(text.strip())
    if not m or (m["value"] is not None and not boost):
        form = "LAYER:UNIT[,UNIT...][=VALUE]" if boost else "LAYER:UNIT[,UNIT...]"
        raise UsageError(f"{'--boost' if boost else '--ablate'} {text!r}: expected {form}")
    return UnitEdit(
        layer=m["layer"],
        units=tuple(int(u) for u in m["units"].split(",")),
        boost=boost,
        value=float(m["value"]) if m["value"] is not None else None,
    )
