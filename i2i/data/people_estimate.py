"""Whether a photo shows people, estimated from its lightness alone: what `i2i colorize` chooses
its per-photo portrait blend from (interpolation.portrait_share).

ImageNet has no class for a person, but it has many for what people wear and put on (clothes,
hats, ties, glasses, wigs, lipstick: PEOPLE_CLASSES, and its three classes that are people:
ballplayer, groom, scuba diver). An ImageNet classifier puts much of its probability there on a
photo of people and almost none on a landscape, so the score is that mass: the softmax of the
ImageNet EfficientNet-Lite0 (the offline package the perceptual losses and lite0_unet's encoder
use) summed over PEOPLE_CLASSES, on the photo's gray (its CIE lightness as sRGB gray, what the
colorizer sees too) with the short side at SCORE_SIDE. On ../shared/data
(`python scripts/calibrate_portrait_auto.py`, stop 54): the colorizer's training photos with
people (26; its held-out split left out) score 0.07 (10th percentile) to 0.59, median 0.18; the
549 others median 0.02, 95th percentile 0.06, at most 0.27; monet2photo/testB median 0.01, at
most 0.14 (a woman holding a camera); the six Set5/Set14 portraits 0.19-0.81. Flowers can read
as clothes in gray (a calla lily as a cowboy hat: 0.37).
"""

from __future__ import annotations

import functools

# ImageNet-1k class indices (torchvision's order) of what people wear or put on, and of people.
PEOPLE_CLASSES = (
    399, 400, 411, 419, 433, 443, 445, 451, 452, 457, 459, 465, 474, 501, 515, 518, 529, 551, 560,
    568, 570, 578, 584, 585, 601, 608, 610, 614, 617, 629, 638, 639, 643, 652, 655, 658, 667, 678,
    679, 689, 697, 711, 735, 775, 793, 796, 808, 823, 824, 834, 836, 837, 841, 842, 869, 887, 903,
    906, 981, 982, 983,
)  # fmt: skip
SCORE_SIDE = 256
"""Short side (pixels) the photo is scored at (the long side at most 8 times it): the colorizer's
own working size (engine/adapters.py's ColorizeAdapter)."""
MULTIPLE = 32  # EfficientNet's total stride


@functools.cache
def imagenet_lite0():
    """The ImageNet EfficientNet-Lite0, encoder and 1000-class layer, in eval mode."""
    import torch

    from ..archs.lite0_unet import HEAD_CHANNELS, Lite0Encoder
    from ..lossnet import lite0_weights_path

    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    encoder = Lite0Encoder(head=True)
    encoder.load_state_dict({k: v for k, v in state.items() if k in encoder.state_dict()}, strict=True)
    fc = torch.nn.Linear(HEAD_CHANNELS, state["_fc.bias"].numel())
    fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    return encoder.eval(), fc.eval()


def people_score(img) -> float:
    """A decoded image (data.image_io.ImageData, as read_image gives it: oriented, 8 or 16 bits,
    gray or RGB) -> 0..1, the ImageNet probability of PEOPLE_CLASSES on its gray. Raises
    UsageError when the EfficientNet-Lite0 package is not installed."""
    import torch
    import torch.nn.functional as F

    from ..archs.lite0_unet import gray_srgb
    from .color import rgb_to_lab
    from .image_io import short_side_size

    x = torch.from_numpy(img.pixels).permute(2, 0, 1)[None].float()
    rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    lightness = rgb_to_lab(rgb)[:, :1] / 50 - 1  # L in [-1, 1], lite0_unet's input
    lightness = F.interpolate(lightness, size=short_side_size(img.size, SCORE_SIDE, MULTIPLE), mode="area")
    encoder, fc = imagenet_lite0()
    with torch.no_grad():
        _, pooled = encoder(gray_srgb(lightness))
        probabilities = torch.softmax(fc(pooled), 1)[0]
    return float(probabilities[list(PEOPLE_CLASSES)].sum())
