"""The Projected GAN discriminator (archs/projected_discriminator.py), DiffAugment
(training/diffaugment.py) and `i2i train cyclegan --discriminator projected`."""

import json
import math
import shutil

import pytest
import torch
from PIL import Image

from i2i.archs.projected_discriminator import (
    ProjectedDiscriminator,
    ProjectedDiscriminatorConfig,
    load_imagenet_backbone,
)
from i2i.checkpoint import load_model
from i2i.data.datasets import list_images, to_tensor
from i2i.errors import UsageError
from i2i.lossnet import lite0_weights_path
from i2i.training.cyclegan import ramped
from i2i.training.diffaugment import diff_augment
from i2i.training.options import CycleGANOptions


def real_crops(data, size: int = 64) -> torch.Tensor:
    """(2, 3, size, size) in [-1, 1]: the centres of a Monet and a photo of monet2photo's training set."""
    crops = []
    for folder in ("trainA", "trainB"):
        im = Image.open(list_images(data / "monet2photo" / folder)[0]).convert("RGB")
        left, top = (im.width - size) // 2, (im.height - size) // 2
        crops.append(to_tensor(im.crop((left, top, left + size, top + size))))
    return torch.stack(crops) * 2 - 1


@pytest.fixture(scope="module")
def disc():
    torch.manual_seed(0)
    return load_imagenet_backbone(ProjectedDiscriminator(ProjectedDiscriminatorConfig(ndf=8)))


def test_logits_at_four_scales_from_the_imagenet_backbone(disc, data):
    x = real_crops(data)
    with torch.no_grad():
        per_scale = disc(x, per_scale=True)
        flat = disc(x)
    assert [tuple(y.shape) for y in per_scale] == [(2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4), (2, 1, 2, 2)]
    assert flat.shape == (2, 1, 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2)
    imagenet = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    own = disc.backbone.state_dict()
    assert own and all(torch.equal(v, imagenet[k]) for k, v in own.items())


def test_frozen_backbone_gets_no_gradient_and_the_heads_do(disc, data):
    disc.train()
    assert not disc.backbone.training and not disc.ccm.training and disc.heads.training
    stats = disc.backbone._bn0.running_mean.clone()
    x = real_crops(data).requires_grad_(True)
    disc.zero_grad(set_to_none=True)
    torch.stack([y.mean() for y in disc(x, per_scale=True)]).sum().backward()
    frozen = list(disc.frozen().parameters())
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    heads = disc.trainable_parameters()
    assert {id(p) for p in heads} == {id(p) for p in disc.heads.parameters()}
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads)
    assert x.grad.abs().sum() > 0  # the generator is trained through the frozen network
    assert torch.equal(disc.backbone._bn0.running_mean, stats)  # batch norm keeps ImageNet's statistics


def test_diff_augment_keeps_shape_and_passes_gradients(data):
    torch.manual_seed(0)
    x = real_crops(data).requires_grad_(True)
    y = diff_augment(x, ("color", "translation", "cutout"))
    assert y.shape == x.shape and not torch.equal(y, x)
    y.square().sum().backward()
    assert x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, ()), x)
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        diff_augment(x, ("flip",))


def test_cyclegan_trains_with_the_projected_discriminator(data, tmp_path, cli):
    root = tmp_path / "few"
    for folder in ("trainA", "trainB"):
        (root / folder).mkdir(parents=True)
        for f in list_images(data / "monet2photo" / folder)[:3]:
            shutil.copy(f, root / folder)
    r = cli(
        *("train", "cyclegan", "--data", root, "--discriminator", "projected", "--ngf", "4", "--ndf", "4"),
        *("--blocks", "1", "--load-size", "72", "--crop", "64", "--pool-size", "2", "--steps", "3"),
        *("--threads", "2", "--workers", "0", "--sample-every", "2", "--quiet", "--run-dir", tmp_path / "run"),
    )
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    (last,) = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert last["step"] == 3 and all(math.isfinite(last[k]) for k in ("g_adv", "cycle", "idt", "d_a", "d_b"))
    options = json.loads((tmp_path / "run" / "run.json").read_text())["options"]
    assert (options["discriminator"], options["augment"]) == ("projected", "color,translation,cutout")
    assert (tmp_path / "run" / "samples.png").stat().st_size > 1000
    for path in sorted((tmp_path / "run").glob("few-*.safetensors")):
        assert load_model(path).info.arch == "resnet"  # the generators; the discriminators stay in the checkpoints


def test_projected_options_are_checked(data):
    with pytest.raises(UsageError, match="multiple of 32, not 48"):
        CycleGANOptions(data=str(data / "monet2photo"), discriminator="projected", crop=48)
    with pytest.raises(UsageError, match="--augment: unknown flip"):
        CycleGANOptions(data=str(data / "monet2photo"), discriminator="projected", augment="color,flip")
    with pytest.raises(UsageError, match="one of patchgan, projected, projected\\+patchgan, not 'unet'"):
        CycleGANOptions(data=str(data / "monet2photo"), discriminator="unet")


def test_adversarial_weight_ramps_up_over_the_warmup():
    assert [ramped(0.5, 4, step) for step in range(6)] == [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert ramped(0.5, 0, 0) == 0.5


def test_projected_with_patchgan_trains_both_and_not_the_backbone(disc, data):
    from i2i.archs.patchgan import PatchGAN, PatchGANConfig
    from i2i.training.cyclegan import ProjectedWithPatchGAN

    both = ProjectedWithPatchGAN(disc, PatchGAN(PatchGANConfig(in_channels=3, ndf=4, norm="instance")))
    logits = both(real_crops(data))
    assert len(logits) == 5 and logits[0].shape[:2] == (2, 1)  # the PatchGAN's, then four scales
    trainable = {id(p) for p in both.trainable_parameters()}
    assert trainable == {id(p) for p in [*disc.heads.parameters(), *both.patch.parameters()]}
    assert not trainable & {id(p) for p in disc.frozen().parameters()}
