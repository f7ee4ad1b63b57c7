"""Recipes declare their state (issue 34, item 5): one generic save and load over each recipe's
state_attributes, writing the keys the hand-written state_dict()s wrote, so that run dirs made
before still resume (the training-state layout of i2i 0.x; a resume reads them back)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_training import TINY, tiny_options

from i2i.training.api import recipe_classes
from i2i.training.methods import METHODS

# The keys of training state["recipe"], as the hand-written state_dict()s of every recipe wrote
# them (read from run dirs trained two steps by that code), per method and option variant.
KEYS_BEFORE = {
    "pix2pix": {"g", "d", "opt_g", "opt_d", "sched_g", "sched_d"},
    "colorize": {"g", "d", "opt_g", "opt_d", "sched_g", "sched_d"},
    "colorize-ema": {"g", "d", "opt_g", "opt_d", "sched_g", "sched_d", "ema", "ema_updates"},
    "cyclegan": {"g_ab", "g_ba", "d_a", "d_b", "opt_g", "opt_d", "sched_g", "sched_d", "pool_a", "pool_b"},
    "cyclegan-ema": {
        "g_ab",
        "g_ba",
        "d_a",
        "d_b",
        "opt_g",
        "opt_d",
        "sched_g",
        "sched_d",
        "pool_a",
        "pool_b",
        "ema_ab",
        "ema_ab_updates",
        "ema_ba",
        "ema_ba_updates",
    },
    "srgan": {"g", "ema", "ema_updates", "opt_g", "sched_g"},
    "srgan-gan": {"g", "ema", "ema_updates", "opt_g", "sched_g", "d", "opt_d", "sched_d"},
    "style": {"net", "opt"},
    "dcgan": {"g", "d", "opt_g", "opt_d"},
    "dcgan-encoder": {"e", "opt"},
}
VARIANTS = {
    "colorize-ema": ("colorize", {"ema": 0.99}),
    "cyclegan-ema": ("cyclegan", {"ema": 0.99}),
    "srgan-gan": ("srgan", {"gan": True}),
}


def _recipe(name: str, data, seed: int = 0):
    method, extra = VARIANTS.get(name, (name, {}))
    options = dataclasses.replace(tiny_options(method, data), **extra)
    recipe = recipe_classes(method)[1](options)
    recipe.seed = seed
    torch.manual_seed(seed)
    recipe.setup(torch.device("cpu"), total_steps=10)
    return recipe


def _same(a, b, where=""):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, (where, a, b)


def test_every_method_is_covered():
    assert set(METHODS) <= set(KEYS_BEFORE)
    assert set(TINY) <= set(KEYS_BEFORE)


@pytest.mark.parametrize("name", list(KEYS_BEFORE))
def test_declared_state_keeps_the_keys_and_round_trips(name, data):
    recipe = _recipe(name, data, seed=0)
    state = recipe.state_dict()
    assert set(state) == KEYS_BEFORE[name]
    other = _recipe(name, data, seed=1)  # other initial weights
    other.load_state_dict(state)
    _same(state, other.state_dict(), name)


def test_a_count_an_older_state_lacks_keeps_its_value(data):
    """srgan states written before ema_updates was saved resume with the count at 0."""
    recipe = _recipe("srgan", data)
    state = recipe.state_dict()
    del state["ema_updates"]
    recipe.ema.updates = 0
    recipe.load_state_dict(state)
    assert recipe.ema.updates == 0
    with pytest.raises(KeyError):  # a part the options hold may not be missing
        recipe.load_state_dict({k: v for k, v in state.items() if k != "opt_g"})


def test_networks_are_saved_unwrapped(data):
    """A distributed wrapper (its network at .module) is saved and loaded under the bare keys."""

    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    recipe = _recipe("style", data)
    plain = recipe.state_dict()
    recipe.net = Wrapper(recipe.net)
    wrapped = recipe.state_dict()
    _same(plain, wrapped)
    recipe.load_state_dict(plain)
