"""The channels-last inference form of LightSepNet computes the same function."""

import numpy as np
import pytest
import torch

from lightsep import Separator
from lightsep.models import build_model
from lightsep.models.fast import FastHead, FastLightSepNet, fast_inference_form, fold, folded_order
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


COVERED = [("tiny", {}), ("proposed-2stem", {}), ("proposed-4stem", {}), ("ablation-a", {}),
           ("proposed-2stem-lowlatency", {}), ("tiny", {"aspp_pooling": False, "attention": False}),
           ("tiny", {"aspp_dilations": [1, 3, 5]})]  # fmt: skip
"""Every RFPD preset, and variants without pooling and attention or with other dilations."""


@pytest.mark.parametrize("name,overrides", COVERED)
def test_the_fast_form_matches_the_model(name, overrides):
    model = randomised(name, **overrides)
    x = 0.3 * torch.randn(3, 1, model.context_samples)
    with torch.no_grad():
        expected = model(x)
    got = FastLightSepNet(model)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=2e-6)


def test_the_free_fold_holds_the_models_folded_channels_in_folded_order():
    x = torch.randn(2, 48, 5)  # (batch, time, channels)
    models = blocks.time_to_depth(x.transpose(1, 2), 4).transpose(1, 2)  # (batch, 12, 20)
    assert torch.equal(fold(x, 4), models[:, :, folded_order(5, 4)])
    assert fold(x, 4).data_ptr() == x.data_ptr()  # a view, not a copy


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_the_folded_head_matches_projection_unfolding_and_output_convolution(frames):
    """Including the segment's first and last frames, where the output convolution's zero
    padding removes the missing neighbour's share of the bias, and a one-frame segment."""
    model = randomised("tiny")
    head = model.heads[0]
    head.projection.bias.data.uniform_(-1, 1)  # a large bias, so a wrong edge correction shows
    features = torch.randn(3, head.projection.in_channels, frames)
    mixture = torch.randn(3, 1, frames * head.fold)
    with torch.no_grad():
        expected = head(features, mixture)[:, 0]
        got = FastHead(head)(features.transpose(1, 2), mixture.reshape(3, frames, head.fold))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=2e-6)


def test_an_output_convolution_reaching_past_the_neighbouring_frames_runs_the_model_itself():
    model = build_model("tiny", output_kernel=65)  # reach 32 = the 32-sample frames
    assert fast_inference_form(model) is model
    with pytest.raises(ValueError, match="neighbouring frames"):
        FastHead(model.heads[0])


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
    assert fast.span_function() is not None and plain.span_function() is None  # segments share work
    a, b = fast.separate(audio, 44100), plain.separate(audio, 44100)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-5)


def segments_of(signal, hop, count, context):
    return torch.cat([signal[..., k * hop : k * hop + context] for k in range(count)])


@pytest.mark.parametrize("name,overrides", COVERED)
@pytest.mark.parametrize("share,count", [(0.5, 5), (0.75, 3), (0.5, 2), (0.5, 1)])
def test_overlapping_segments_share_local_features_and_match_the_model(name, overrides, share, count):
    model = randomised(name, **overrides)
    fast, context = FastLightSepNet(model), model.context_samples
    hop = int(context * (1 - share))
    assert fast.shares(hop)
    signal = 0.3 * torch.randn(2, 1, (count - 1) * hop + context)
    segments = segments_of(signal, hop, count, context)
    with torch.no_grad():
        expected = model(segments).reshape(count, 2, len(model.sources), 1, model.output_samples)
        features = fast.overlapping_local_features(signal, hop, count)
        own = fast.local_features(segments.reshape(-1, context, 1))
    for got, want in zip(features, own):  # the edges patched where the zero padding differs
        torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)
    torch.testing.assert_close(fast.forward_overlapping(signal, hop, count), expected, rtol=1e-5, atol=2e-6)


def test_the_recomputed_edges_are_needed():
    """Half the edge frames leave some of the zero padding's effect out: the check above can fail."""
    model = randomised("proposed-2stem")
    fast, context = FastLightSepNet(model), model.context_samples
    signal = 0.3 * torch.randn(1, 1, 2 * context)
    segments = segments_of(signal, context // 2, 3, context)
    fast.edge_frames //= 2
    with torch.no_grad():
        features = fast.overlapping_local_features(signal, context // 2, 3)
        own = fast.local_features(segments.reshape(-1, context, 1))
    assert max((got - want).abs().max().item() for got, want in zip(features, own)) > 1e-3


def test_hops_off_the_bottleneck_grid_are_computed_segment_by_segment():
    model = randomised("tiny")
    fast, context = FastLightSepNet(model), model.context_samples
    hop = context // 2 + 1  # not a whole number of bottleneck frames: nothing to share
    assert not fast.shares(hop)
    signal = 0.3 * torch.randn(2, 1, 3 * hop + context)
    with torch.no_grad():
        expected = model(segments_of(signal, hop, 4, context)).reshape(4, 2, len(model.sources), 1, context)
    torch.testing.assert_close(fast.forward_overlapping(signal, hop, 4), expected, rtol=1e-5, atol=2e-6)
    with pytest.raises(ValueError, match="span"):
        fast.forward_overlapping(signal[..., 1:], hop, 4)


def test_the_fused_activation_and_the_separate_one_agree(monkeypatch):
    """oneDNN's fused convolution + leaky ReLU where this PyTorch has it; plain ops otherwise."""
    from lightsep.models import fast

    model = randomised("proposed-2stem")
    x = 0.3 * torch.randn(2, 1, model.context_samples)
    with torch.no_grad():
        expected = model(x)
    form = FastLightSepNet(model)
    fused = form(x)
    monkeypatch.setattr(fast, "fused_activation_available", lambda: False)
    separate = form(x)
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=2e-6)
    torch.testing.assert_close(separate, expected, rtol=1e-5, atol=2e-6)
