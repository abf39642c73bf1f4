"""Building blocks of the lightweight separation network.

Every block works on tensors of shape ``(batch, channels, time)``. Blocks that keep the
time resolution use "same" zero padding, so the output has as many frames as the input
(for odd kernel sizes); strided blocks halve an even number of frames exactly.

The blocks also describe which input frames influence an output frame (``input_span``),
so that a model can compute its receptive field from its architecture; the test-suite
checks that value against one measured with gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Span = tuple[int, int]
"""An inclusive interval ``(first, last)`` of frame indices."""


def clip_span(span: Span, length: int) -> Span:
    """Clip an inclusive frame interval to ``[0, length - 1]`` (zero padding has no inputs)."""
    return max(span[0], 0), min(span[1], length - 1)


def conv_span(span: Span, kernel_size: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> Span:
    """Input frames that output frames ``span`` of a 1-D convolution read (before clipping)."""
    first = span[0] * stride - padding
    last = span[1] * stride - padding + dilation * (kernel_size - 1)
    return first, last


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Zero padding on each side that keeps the length for an odd ``kernel_size``."""
    if kernel_size % 2 == 0:
        raise ValueError(f"'same' padding needs an odd kernel size, got {kernel_size}")
    return dilation * (kernel_size - 1) // 2


# --------------------------------------------------------------------------------------
# Time <-> depth
# --------------------------------------------------------------------------------------


def time_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Fold time into channels (1-D ``PixelUnshuffle``).

    ``(batch, channels, time) -> (batch, channels * factor, time // factor)``; output channel
    ``c * factor + r`` at frame ``t`` holds input channel ``c`` at sample ``t * factor + r``.
    ``time`` must be a multiple of ``factor``.
    """
    batch, channels, time = x.shape
    if time % factor:
        raise ValueError(f"time_to_depth: length {time} is not a multiple of {factor}")
    x = x.reshape(batch, channels, time // factor, factor)
    return x.permute(0, 1, 3, 2).reshape(batch, channels * factor, time // factor)


def depth_to_time(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Unfold channels into time (1-D ``PixelShuffle``), the exact inverse of :func:`time_to_depth`.

    ``(batch, channels * factor, frames) -> (batch, channels, frames * factor)``.
    """
    batch, depth, frames = x.shape
    if depth % factor:
        raise ValueError(f"depth_to_time: {depth} channels are not a multiple of {factor}")
    x = x.reshape(batch, depth // factor, factor, frames)
    return x.permute(0, 1, 3, 2).reshape(batch, depth // factor, frames * factor)


class TimeToDepth(nn.Module):
    """Module form of :func:`time_to_depth`."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return time_to_depth(x, self.factor)

    def input_span(self, span: Span) -> Span:
        return span[0] * self.factor, span[1] * self.factor + self.factor - 1


class DepthToTime(nn.Module):
    """Module form of :func:`depth_to_time`."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_time(x, self.factor)

    def input_span(self, span: Span) -> Span:
        return span[0] // self.factor, span[1] // self.factor


# --------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------


class SeparableConv1d(nn.Module):
    """Depthwise-separable 1-D convolution: a depthwise convolution (one filter per input
    channel, ``kernel_size`` taps, optional stride and dilation) followed by a pointwise
    (1x1) convolution that mixes channels.

    ``(batch, in_channels, time) -> (batch, out_channels, time // stride)`` with "same"
    padding. Parameters: ``in_channels * kernel_size + in_channels * out_channels`` (+ bias),
    against ``in_channels * out_channels * kernel_size`` for a standard convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.padding = same_padding(kernel_size, dilation)
        self.depthwise = nn.Conv1d(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            padding=self.padding,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv1d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))

    def input_span(self, span: Span) -> Span:
        return conv_span(span, self.kernel_size, self.stride, self.dilation, self.padding)


class ConvNormAct(nn.Module):
    """A convolution (standard or depthwise-separable) followed by batch norm and a leaky ReLU.

    ``(batch, in_channels, time) -> (batch, out_channels, time // stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        separable: bool = False,
        negative_slope: float = 0.1,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.padding = same_padding(kernel_size, dilation)
        if separable:
            self.conv = SeparableConv1d(in_channels, out_channels, kernel_size, stride, dilation, bias=False)
        else:
            self.conv = nn.Conv1d(
                in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, padding=self.padding, bias=False
            )
        self.norm = nn.BatchNorm1d(out_channels)
        self.act = nn.LeakyReLU(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))

    def input_span(self, span: Span) -> Span:
        return conv_span(span, self.kernel_size, self.stride, self.dilation, self.padding)


class DownsamplingBlock(nn.Module):
    """One encoder level: a strided convolution that halves the time resolution, then a
    depthwise-separable convolution with a residual connection.

    Section 2.1 of the paper: the strided ("downsampling") convolution is a standard
    convolution in the first blocks and depthwise-separable in the last one, where there are
    enough channels for separability to lose little (MobileNetV2's argument); the second
    convolution of every block is depthwise-separable.

    ``(batch, in_channels, time) -> (batch, out_channels, time // 2)``; ``time`` must be even.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        down_kernel: int = 5,
        separable_kernel: int = 15,
        separable_down: bool = False,
    ):
        super().__init__()
        self.down = ConvNormAct(in_channels, out_channels, down_kernel, stride=2, separable=separable_down)
        self.conv = ConvNormAct(out_channels, out_channels, separable_kernel, separable=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return x + self.conv(x)

    def input_span(self, span: Span) -> Span:
        return self.down.input_span(self.conv.input_span(span))


class ASPP1d(nn.Module):
    """Atrous Spatial Pyramid Pooling in one dimension, after DeepLabv3+.

    Five parallel branches see the same input: a 1x1 convolution; three atrous
    depthwise-separable convolutions with growing dilation; and a global-average-pooling
    branch whose 1x1-projected vector is broadcast back over time (it gives every frame the
    context of the whole input segment). Their outputs are concatenated and projected by a
    1x1 convolution.

    ``(batch, in_channels, time) -> (batch, out_channels, time)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dilations: tuple[int, int, int] = (1, 4, 16),
        kernel_size: int = 5,
        pooling: bool = True,
    ):
        super().__init__()
        self.kernel_size, self.dilations, self.pooling = kernel_size, tuple(dilations), pooling
        self.pointwise = ConvNormAct(in_channels, out_channels, 1)
        self.atrous = nn.ModuleList(
            ConvNormAct(in_channels, out_channels, kernel_size, dilation=d, separable=True) for d in self.dilations
        )
        n_branches = 1 + len(self.dilations)
        if pooling:
            # No batch norm on the pooled branch: it sees one vector per example.
            self.pool_projection = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1), nn.LeakyReLU(0.1))
            n_branches += 1
        self.projection = ConvNormAct(n_branches * out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.pointwise(x)] + [branch(x) for branch in self.atrous]
        if self.pooling:
            pooled = self.pool_projection(x.mean(dim=-1, keepdim=True))
            branches.append(pooled.expand(-1, -1, x.shape[-1]))
        return self.projection(torch.cat(branches, dim=1))

    def input_span(self, span: Span) -> Span:
        """Frames read by the convolutional branches (the pooling branch reads every frame)."""
        spans = [branch.input_span(span) for branch in self.atrous]
        return min(s[0] for s in spans), max(s[1] for s in spans)


# --------------------------------------------------------------------------------------
# Temporal attention
# --------------------------------------------------------------------------------------


class LightweightConv1d(nn.Module):
    """Lightweight convolution (Wu et al., 2019, "Pay less attention..."): a depthwise
    convolution whose kernels are softmax-normalised over their taps and shared by groups of
    channels (``heads``), so each output frame is a convex, attention-like weighting of its
    ``kernel_size`` neighbours at a cost linear in time.

    ``(batch, channels, time) -> (batch, channels, time)``.
    """

    def __init__(self, channels: int, kernel_size: int = 15, heads: int = 8):
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be a multiple of heads ({heads})")
        self.channels, self.kernel_size, self.heads = channels, kernel_size, heads
        self.padding = same_padding(kernel_size)
        self.weight = nn.Parameter(torch.zeros(heads, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernels = torch.softmax(self.weight, dim=-1)
        kernels = kernels.repeat_interleave(self.channels // self.heads, dim=0).unsqueeze(1)
        return F.conv1d(x, kernels, padding=self.padding, groups=self.channels)

    def input_span(self, span: Span) -> Span:
        return conv_span(span, self.kernel_size, padding=self.padding)


class TemporalAttention(nn.Module):
    """Temporal attention block: CBAM-style gates followed by a lightweight convolution.

    1. Channel gate (CBAM): a shared two-layer MLP on the time-averaged and time-maxed
       features gives one sigmoid weight per channel for the whole segment.
    2. Temporal gate (CBAM's spatial gate, in time): the channel-mean and channel-max of
       every frame go through a ``gate_kernel``-tap convolution and a sigmoid, giving one
       weight per frame, so the block can attenuate the frames where the source is absent.
    3. A residual lightweight convolution (softmax-normalised, head-shared kernels)
       re-weights each frame's neighbourhood, the cheap linear-time stand-in for
       self-attention of Wu et al. (2019).

    ``(batch, channels, time) -> (batch, channels, time)``.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 8,
        gate_kernel: int = 7,
        light_kernel: int = 15,
        heads: int = 8,
    ):
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.channel_mlp = nn.Sequential(
            nn.Conv1d(channels, hidden, 1), nn.ReLU(), nn.Conv1d(hidden, channels, 1)
        )
        self.gate_kernel = gate_kernel
        self.temporal_gate = nn.Conv1d(2, 1, gate_kernel, padding=same_padding(gate_kernel))
        self.light_conv = LightweightConv1d(channels, light_kernel, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel_weights = self.channel_mlp(x.mean(-1, keepdim=True)) + self.channel_mlp(x.amax(-1, keepdim=True))
        x = x * torch.sigmoid(channel_weights)
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        x = x * torch.sigmoid(self.temporal_gate(pooled))
        return x + self.light_conv(x)
