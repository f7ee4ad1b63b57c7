"""A job whose model is chosen per input, from the input itself (`i2i upscale --denoise auto`,
`i2i colorize`'s portrait blend).

The inputs are looked at first (choose(job) -> a model key and the facts behind the choice),
then grouped by key, and each group runs through its own Engine, built once per key: the
engine's batching, tiling, backends and I/O are unchanged, and a folder of photos needs only as
many networks as it has distinct choices (keys are rounded by the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .inputs import Job

if TYPE_CHECKING:  # engine.py imports torch: a Ray driver imports this module without it
    from .engine import Engine


@dataclass
class PerImageEngines:
    """Engines chosen per input (a model key per job, one Engine per key, built on first use)."""

    choose: Callable[[Job], tuple[Hashable, dict]]
    """job -> (model key, facts for --json and -v); must not raise (an input it cannot read gets
    clip_key: the engine then reports the reading error as usual)."""
    build: Callable[[Hashable], Engine]
    """model key -> Engine."""
    clip_key: Hashable
    """The model clips (videos, animations) run with: their frames are not looked at one by one."""
    _engines: dict = field(default_factory=dict, init=False)

    def engine(self, key: Hashable) -> Engine:
        """The Engine of a model key, built once."""
        if key not in self._engines:
            self._engines[key] = self.build(key)
        return self._engines[key]

    def groups(self, jobs: list[Job]) -> Iterator[tuple[Engine, list[Job], dict[str, dict]]]:
        """(engine, its jobs, {source: facts}) per chosen model, in the order first chosen."""
        grouped: dict[Hashable, list[Job]] = {}
        facts: dict[str, dict] = {}
        for job in jobs:
            key, facts[job.source] = self.choose(job)
            grouped.setdefault(key, []).append(job)
        for key, group in grouped.items():
            yield self.engine(key), group, facts

    def run_image(self, img, name: str = "<image>"):
        """One ImageData through the engine chosen for it (as Engine.run_image; the Python API's
        and the benchmarks' way in). The choice looks at a file's bytes, so the image is handed
        to it as a PNG (a JPEG's own quantisation tables, which --denoise auto reads, are lost)."""
        import io
        from pathlib import Path

        from ..data.image_io import to_pil

        png = io.BytesIO()
        to_pil(img).save(png, "PNG")
        key, _ = self.choose(Job(source="-", rel=Path("image"), data=png.getvalue()))
        return self.engine(key).run_image(img, name)

    @property
    def clip_engine(self) -> Engine:
        """The Engine clips run with (clip_key's)."""
        return self.engine(self.clip_key)

    @property
    def notes(self) -> list[str]:
        """The built engines' runner notes (backend fallbacks, measurements), each once."""
        return list(dict.fromkeys(n for e in self._engines.values() for n in e.runner.notes))


def estimate_job(job: Job, max_pixels: int):
    """The degradation estimate (data/degradation_estimate.py) of a job's image, or None when it
    cannot be read or has more than max_pixels pixels (the engine then reports why)."""
    import io
    import warnings

    from PIL import Image

    from ..data.degradation_estimate import estimate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's decompression-bomb warning: checked below
            with Image.open(io.BytesIO(job.data) if job.data is not None else job.source) as image:
                if image.width * image.height > max_pixels:
                    return None
                return estimate(image)
    except Exception:  # unreadable: the engine's own read says why, in its one line
        return None


def denoise_auto(make_engine: Callable, find, max_pixels: int, model=None) -> PerImageEngines:
    """`i2i upscale --denoise auto`: each photo runs the blend of the shipped x4 models
    (interpolation.SR_BLEND) that its own degradation estimate calls for (interpolation.auto_weights);
    clips run interpolation.CLIP_REAL_SHARE of the PSNR stage, without the GAN stage, whose
    texture would flicker from frame to frame. make_engine(model) -> Engine; find(name) -> path;
    model: the recipe's own loaded model (unused: the three are loaded by name)."""
    from ..interpolation import CLIP_REAL_SHARE, ModelBlends, auto_weights, round_weights

    blends = ModelBlends(find)

    def choose(job: Job):
        found = estimate_job(job, max_pixels)
        if found is None:
            return clip_key, {}
        weights = auto_weights(found)  # already on interpolation.WEIGHT_STEP
        return weights, {"estimate": found.to_dict(), "blend": blends.shares(weights)}

    clip_key = round_weights((1 - CLIP_REAL_SHARE, CLIP_REAL_SHARE, 0.0))
    return PerImageEngines(choose, lambda weights: make_engine(blends.model(weights)), clip_key)


def portrait_auto(
    make_engine: Callable, find, max_pixels: int, model, partner: str, partner_path=None
) -> PerImageEngines:
    """`i2i colorize` with a colorizer (model, a LoadedModel) that names its portrait model
    (partner; its file partner_path, else find(partner) -> path): each photo runs the blend of
    the two that its people score (data/people_estimate.py) calls for
    (interpolation.portrait_share); clips run the colorizer alone (their frames are not scored,
    and a switch between the clips of one video would show). make_engine(model) -> Engine.
    Raises UsageError when the scoring network's package is missing, CheckpointError when the
    portrait model cannot be loaded."""
    from ..checkpoint import load_model
    from ..data.image_io import read_image
    from ..data.people_estimate import imagenet_lite0, people_score
    from ..interpolation import ModelBlends, portrait_share

    imagenet_lite0()  # a missing package is said once, here, not hidden in every photo's fallback
    portrait = load_model(partner_path or find(partner))
    blends = ModelBlends.of([model, portrait], (model.info.name, partner))

    def choose(job: Job):
        try:  # decoded as the engine decodes it (orientation, 16 bits, ICC), then scored
            score = people_score(read_image(job.data if job.data is not None else job.source, max_pixels=max_pixels))
        except Exception:  # unreadable: the engine's own read says why, in its one line
            return clip_key, {}
        share = portrait_share(score)
        weights = (1 - share, share)
        return weights, {"people_score": round(score, 4), "blend": blends.shares(weights)}

    clip_key = (1.0, 0.0)
    return PerImageEngines(choose, lambda weights: make_engine(blends.model(weights)), clip_key)
