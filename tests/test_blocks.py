import pytest
import torch

from lightsep.models.blocks import (
    ASPP1d,
    ConvNormAct,
    DepthToTime,
    DownsamplingBlock,
    LightweightConv1d,
    SeparableConv1d,
    TemporalAttention,
    TimeToDepth,
    depth_to_time,
    time_to_depth,
)


@pytest.mark.parametrize("factor", [1, 2, 4, 16, 64])
def test_time_to_depth_and_back_is_exact(factor):
    x = torch.randn(3, 5, 128)
    folded = time_to_depth(x, factor)
    assert folded.shape == (3, 5 * factor, 128 // factor)
    assert torch.equal(depth_to_time(folded, factor), x)
    y = torch.randn(2, 4 * factor, 7)
    assert torch.equal(time_to_depth(depth_to_time(y, factor), factor), y)


def test_time_to_depth_layout_matches_pixel_unshuffle():
    # channel c * factor + r at frame t holds input channel c at sample t * factor + r
    x = torch.arange(2 * 12, dtype=torch.float32).reshape(1, 2, 12)
    folded = time_to_depth(x, 3)
    for c in range(2):
        for r in range(3):
            for t in range(4):
                assert folded[0, c * 3 + r, t] == x[0, c, t * 3 + r]


def test_time_to_depth_rejects_a_length_not_divisible():
    with pytest.raises(ValueError, match="multiple"):
        time_to_depth(torch.randn(1, 1, 10), 4)
    with pytest.raises(ValueError, match="multiple"):
        depth_to_time(torch.randn(1, 6, 10), 4)


def test_modules_wrap_the_functions():
    x = torch.randn(2, 3, 32)
    assert torch.equal(DepthToTime(4)(TimeToDepth(4)(x)), x)


def test_separable_conv_shapes_and_parameter_saving():
    conv = SeparableConv1d(32, 64, 15)
    assert conv(torch.randn(2, 32, 100)).shape == (2, 64, 100)
    standard = torch.nn.Conv1d(32, 64, 15)
    n_sep = sum(p.numel() for p in conv.parameters())
    assert n_sep == 32 * 15 + 32 * 64 + 64
    assert n_sep < sum(p.numel() for p in standard.parameters()) / 5
    strided = SeparableConv1d(8, 8, 5, stride=2)
    assert strided(torch.randn(1, 8, 64)).shape == (1, 8, 32)


def test_separable_conv_equals_depthwise_then_pointwise():
    conv = SeparableConv1d(4, 6, 5, dilation=2)
    x = torch.randn(1, 4, 40)
    manual = torch.nn.functional.conv1d(x, conv.depthwise.weight, padding=4, dilation=2, groups=4)
    manual = torch.nn.functional.conv1d(manual, conv.pointwise.weight, conv.pointwise.bias)
    torch.testing.assert_close(conv(x), manual)


def test_strided_downsampling_conv_halves_time():
    for separable in (False, True):
        block = ConvNormAct(8, 16, 5, stride=2, separable=separable)
        assert block(torch.randn(2, 8, 1024)).shape == (2, 16, 512)


def test_downsampling_block():
    block = DownsamplingBlock(1, 16, down_kernel=5, separable_kernel=15)
    assert block(torch.randn(4, 1, 2048)).shape == (4, 16, 1024)
    assert isinstance(block.conv.conv, SeparableConv1d)
    assert isinstance(block.down.conv, torch.nn.Conv1d)
    assert isinstance(DownsamplingBlock(8, 8, separable_down=True).down.conv, SeparableConv1d)


def test_aspp_branches_and_global_pooling():
    aspp = ASPP1d(16, 8, dilations=(1, 2, 4), kernel_size=3).eval()
    x = torch.randn(2, 16, 64)
    assert aspp(x).shape == (2, 8, 64)
    assert len(aspp.atrous) == 3 and [b.dilation for b in aspp.atrous] == [1, 2, 4]
    assert aspp.projection.conv.in_channels == 5 * 8  # 1x1 + 3 atrous + pooling
    # the pooling branch gives every frame the whole segment's context
    x.requires_grad_(True)
    aspp(x)[0, :, 0].sum().backward()
    assert (x.grad[0].abs().sum(0) > 0).all()
    no_pool = ASPP1d(16, 8, dilations=(1, 2, 4), kernel_size=3, pooling=False).eval()
    assert no_pool.projection.conv.in_channels == 4 * 8
    x.grad = None
    no_pool(x)[0, :, 0].sum().backward()
    reach = (x.grad[0].abs().sum(0) > 0).nonzero().flatten()
    assert reach.max().item() == no_pool.input_span((0, 0))[1] == 4  # 3 taps at dilation 4


def test_lightweight_conv_is_a_convex_combination():
    light = LightweightConv1d(8, kernel_size=5, heads=2)
    torch.nn.init.normal_(light.weight)
    x = torch.ones(1, 8, 20)
    # softmax-normalised kernels: a constant signal is preserved away from the zero padding
    torch.testing.assert_close(light(x)[..., 2:-2], x[..., 2:-2])
    with pytest.raises(ValueError):
        LightweightConv1d(6, heads=4)


def test_temporal_attention_gates_frames():
    attention = TemporalAttention(16, heads=4).eval()
    x = torch.randn(2, 16, 50)
    y = attention(x)
    assert y.shape == x.shape
    # silent frames stay silent: every path is a gate or a convolution without bias on x
    x[:, :, 20:30] = 0
    y = attention(x)
    assert y[:, :, 24:26].abs().max() < y.abs().max()
