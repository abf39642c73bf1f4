"""The channels-last inference form of LightSepNet computes the same function."""

import numpy as np
import pytest
import torch

from lightsep import Separator
from lightsep.models import build_model
from lightsep.models.fast import FastLightSepNet, depth_to_time, fast_inference_form, time_to_depth
from lightsep.models import blocks


def randomised(name, **overrides):
    """A model in eval mode with non-trivial batch-norm statistics and attention kernels, so
    that folding them in is tested, not just the identity."""
    torch.manual_seed(len(name))
    model = build_model(name, **overrides)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.3, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
        if isinstance(module, blocks.LightweightConv1d):
            module.weight.data.normal_()
    return model.eval()


@pytest.mark.parametrize(
    "name,overrides",
    [("tiny", {}), ("proposed-2stem", {}), ("proposed-4stem", {}), ("ablation-a", {}),
     ("proposed-2stem-lowlatency", {}), ("tiny", {"aspp_pooling": False, "attention": False}),
     ("tiny", {"aspp_dilations": [1, 3, 5]})],  # fmt: skip
)
def test_the_fast_form_matches_the_model(name, overrides):
    model = randomised(name, **overrides)
    x = 0.3 * torch.randn(3, 1, model.context_samples)
    with torch.no_grad():
        expected = model(x)
    got = FastLightSepNet(model)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=2e-6)


def test_fold_helpers_are_the_models_own():
    x = torch.randn(2, 48, 5)  # (batch, time, channels)
    as_channels_first = blocks.time_to_depth(x.transpose(1, 2), 4).transpose(1, 2)
    assert torch.equal(time_to_depth(x, 4), as_channels_first)
    assert torch.equal(depth_to_time(time_to_depth(x, 4), 4), x)


def test_only_rfpd_lightsepnets_get_a_fast_form():
    assert isinstance(fast_inference_form(build_model("tiny")), FastLightSepNet)
    upsample = build_model("ablation-c")
    assert fast_inference_form(upsample) is upsample
    with pytest.raises(ValueError, match="RFPD"):
        FastLightSepNet(upsample)


def test_the_separator_uses_it_and_agrees_with_the_plain_model():
    model = randomised("tiny")
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 30000)).astype(np.float32)
    fast, plain = Separator(model), Separator(model, optimized=False)
    assert isinstance(fast._network, FastLightSepNet) and plain._network is plain.model
    a, b = fast.separate(audio, 44100), plain.separate(audio, 44100)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5)
