"""Training datasets. Item k (a global sample index) is a pure function of (seed, k):
epoch k // n walks a seeded permutation, augmentation draws from a generator seeded by k.
That is what makes resume exact and worker count irrelevant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .image_io import is_image_path, load_rgb


def list_images(folder, *, what: str = "images") -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of {what}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    if not files:
        raise DataError(f"{folder}: no image files found (looked for .png, .jpg, .webp, ...)")
    return files


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL RGB/L -> (C, H, W) float in [0, 1]."""
    arr = np.asarray(im, dtype=np.float32) / 255
    if arr.ndim == 2:
        arr = arr[..., None]
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


class StepDataset(torch.utils.data.Dataset, ABC):
    """Base: subclasses implement make(index, rng) and keep their items in `self.base`."""

    base: list

    def __init__(self, seed: int):
        self.seed = seed
        self._perm_epoch, self._perm = -1, None

    def __len__(self):
        return 2**62  # indexed by global sample number, never exhausted

    def _index(self, k: int) -> int:
        n = len(self.base)
        epoch = k // n
        if epoch != self._perm_epoch:
            g = np.random.default_rng([self.seed, epoch])
            self._perm, self._perm_epoch = g.permutation(n), epoch
        return int(self._perm[k % n])

    def __getitem__(self, k: int):
        return self.make(self._index(k), np.random.default_rng([self.seed, 1, k]))

    def fixed_item(self, i: int):
        """Item i without randomness, for sample grids that stay comparable across steps."""
        return self.make(i % len(self.base), None)

    def fixed_items(self, n: int) -> list:
        """The first min(n, base size) items without randomness: the training loop's sample batch."""
        return [self.fixed_item(i) for i in range(min(n, len(self.base)))]

    @abstractmethod
    def make(self, index: int, rng):
        """Item `index` of `self.base`, augmented with `rng` (None: no randomness)."""


def random_crop_box(size, crop: int, rng) -> tuple[int, int, int, int]:
    """(left, top, right, bottom); centred when rng is None."""
    w, h = size
    if rng is None:
        x, y = (w - crop) // 2, (h - crop) // 2
    else:
        x, y = int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))
    return x, y, x + crop, y + crop


def dihedral(t: torch.Tensor, code: int) -> torch.Tensor:
    """One of the 8 flips/90-degree rotations of (..., H, W)."""
    if code & 1:
        t = t.flip(-1)
    if code & 2:
        t = t.flip(-2)
    if code & 4:
        t = t.transpose(-1, -2)
    return t


class SRPatches(StepDataset):
    """HR patches and their LR versions: {'lr': (3, c, c), 'hr': (3, c*s, c*s)} in [0, 1].

    degrade=None makes LR by antialiased bicubic downscaling (the classic benchmark setting);
    otherwise degrade(hr, scale, rng) makes it (e.g. a RealDegradation). sharpen_hr applies
    Real-ESRGAN's unsharp mask to the HR patch first: the network is taught to give a crisper
    image than the one it was shown, and LR is made from the sharpened patch, as in Real-ESRGAN.
    """

    def __init__(self, folders, *, scale: int, crop: int, seed: int, degrade=None, sharpen_hr: bool = False):
        super().__init__(seed)
        self.scale, self.crop, self.degrade, self.sharpen_hr = scale, crop, degrade, sharpen_hr
        files = [f for folder in folders for f in list_images(folder)]
        hr = crop * scale
        self.base = [im for im in (load_rgb(f) for f in files) if min(im.size) >= hr]
        if not self.base:
            raise DataError(f"no training image is at least {hr}x{hr} pixels")

    def make(self, index, rng):
        im = self.base[index]
        hr_im = im.crop(random_crop_box(im.size, self.crop * self.scale, rng))
        code = int(rng.integers(0, 8)) if rng is not None else 0
        if self.degrade is None and not self.sharpen_hr:
            lr = dihedral(to_tensor(hr_im.resize((self.crop, self.crop), Image.BICUBIC)), code)
            return {"lr": lr, "hr": dihedral(to_tensor(hr_im), code)}
        hr = dihedral(to_tensor(hr_im), code)
        if self.sharpen_hr:
            from .degradations import unsharp_mask

            hr = unsharp_mask(hr)
        if self.degrade is None:
            lr_im = Image.fromarray((hr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
            lr = to_tensor(lr_im.resize((self.crop, self.crop), Image.BICUBIC))
        else:
            # Sample grids (rng None) still need a degraded input: a fixed stream per item.
            lr = self.degrade(hr, self.scale, rng if rng is not None else np.random.default_rng(index))
        return {"lr": lr, "hr": hr}


class PhotoCrops(StepDataset):
    """Square random crops of photos resized to a short side: {'image': (3, c, c)} in [0, 1]."""

    def __init__(
        self, folders, *, crop: int, seed: int, resize: int | None = None, exclude=lambda im: False, holdout: int = 0
    ):
        """holdout: N photos spread evenly over the folders (every len/N-th in folder, then name,
        order) go to .held (PIL, resized), not into training."""
        super().__init__(seed)
        self.crop = crop
        # A photo given twice (a folder of links to oversample some) is read once and counts once
        # for the split, so the split is the same as without the repeats and no held-out photo is
        # trained on.
        paths = [f.resolve() for folder in folders for f in list_images(folder)]
        images = {p: load_rgb(p, resize or crop) for p in dict.fromkeys(paths)}
        held = spread_holdout(list(images), holdout)
        usable = {p for p, im in images.items() if not exclude(im)}
        self.base = [images[p] for p in paths if p in usable and p not in held]
        self.held = [im for p, im in images.items() if p in usable and p in held]
        self.excluded = sum(p not in usable for p in paths)
        if not self.base:
            raise DataError(f"no usable training images in {', '.join(map(str, folders))}")

    def make(self, index, rng):
        im = self.base[index]
        box = random_crop_box(im.size, self.crop, rng)
        x = to_tensor(im.crop(box))
        if rng is not None and rng.random() < 0.5:
            x = x.flip(-1)
        return {"image": x}


def natural_key(path: Path):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def split_holdout(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    """(training files, held-back files): the last `holdout` in natural name order are held back."""
    files = sorted(files, key=natural_key)
    if holdout <= 0:
        return files, []
    if holdout >= len(files):
        raise DataError(f"--holdout {holdout} leaves no training images (only {len(files)})")
    return files[:-holdout], files[-holdout:]


def spread_holdout(files: list[Path], holdout: int) -> set[Path]:
    """`holdout` of the files spread evenly over the list (every len/holdout-th one)."""
    if holdout >= len(files):
        raise DataError(f"--holdout {holdout} leaves no training images (only {len(files)})")
    return {files[int((i + 0.5) * len(files) / holdout)] for i in range(holdout)} if holdout > 0 else set()


def load_pairs(root, direction: str, holdout: int = 0, part: str = "train"):
    """Paired images from `root/train` (A|B side by side) or `root/A` + `root/B` (same names).

    Returns [(input PIL, target PIL)] for the training part or the held-back part.
    """
    root = Path(root)
    if (root / "A").is_dir() and (root / "B").is_dir():
        a_files = list_images(root / "A")
        train, held = split_holdout(a_files, holdout)
        chosen = train if part == "train" else held
        pairs = []
        for fa in chosen:
            fb = root / "B" / fa.relative_to(root / "A")
            if not fb.is_file():
                raise DataError(f"{fa}: no file of the same name in {root / 'B'}")
            a, b = load_rgb(fa), load_rgb(fb)
            if a.size != b.size:
                raise DataError(f"{fa} is {a.size[0]}x{a.size[1]} but {fb} is {b.size[0]}x{b.size[1]}")
            pairs.append((a, b))
    else:
        folder = root / "train" if (root / "train").is_dir() else root
        train, held = split_holdout(list_images(folder), holdout)
        pairs = []
        for f in train if part == "train" else held:
            im = load_rgb(f)
            w, h = im.size
            if w % 2:
                raise DataError(f"{f}: {w}x{h} is not an aligned A|B pair (odd width)")
            pairs.append((im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))))
    if direction == "BtoA":
        pairs = [(b, a) for a, b in pairs]
    elif direction != "AtoB":
        raise DataError(f"direction must be AtoB or BtoA, not {direction!r}")
    return pairs


class PairedCrops(StepDataset):
    """pix2pix augmentation: resize to load_size, the same random crop and flip for A and B."""

    def __init__(self, pairs, *, load_size: int, crop: int, seed: int):
        super().__init__(seed)
        if not pairs:
            raise DataError("no training pairs")
        self.base = [
            (a.resize((load_size, load_size), Image.BICUBIC), b.resize((load_size, load_size), Image.BICUBIC))
            for a, b in pairs
        ]
        self.crop = crop

    def make(self, index, rng):
        a, b = self.base[index]
        box = random_crop_box(a.size, self.crop, rng)
        x, y = to_tensor(a.crop(box)), to_tensor(b.crop(box))
        if rng is not None and rng.random() < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return {"input": x, "target": y}


class UnpairedCrops(StepDataset):
    """CycleGAN: an A image and an independently drawn B image, each resized, cropped, flipped."""

    def __init__(self, root, *, load_size: int, crop: int, seed: int):
        super().__init__(seed)
        root = Path(root)
        self.a = [load_rgb(f).resize((load_size, load_size), Image.BICUBIC) for f in list_images(root / "trainA")]
        self.b = [load_rgb(f).resize((load_size, load_size), Image.BICUBIC) for f in list_images(root / "trainB")]
        self.base = self.a
        self.crop = crop

    def _one(self, im, rng):
        x = to_tensor(im.crop(random_crop_box(im.size, self.crop, rng)))
        return x.flip(-1) if rng is not None and rng.random() < 0.5 else x

    def make(self, index, rng):
        j = index % len(self.b) if rng is None else int(rng.integers(0, len(self.b)))
        return {"A": self._one(self.a[index], rng), "B": self._one(self.b[j], rng)}


def is_grayish(im: Image.Image, threshold: float = 6.0) -> bool:
    """True for grayscale or nearly so: mean chroma (Lab ab magnitude proxy) below threshold."""
    arr = np.asarray(im.convert("RGB").resize((64, 64)), dtype=np.float32)
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    return float(np.mean(np.abs(r - g) + np.abs(g - b) + np.abs(b - r))) / 3 < threshold
