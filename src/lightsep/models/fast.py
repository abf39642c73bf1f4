"""A faster inference form of :class:`LightSepNet`: the same function, computed channels-last.

PyTorch runs the model's 1-D convolutions on ``(batch, channels, time)`` tensors, where
oneDNN's depthwise kernels are slow (a few hundred MFLOP/s) and 1x1 convolutions go through
an unfold-and-GEMM path. :class:`FastLightSepNet` computes the same network on
``(batch, time, channels)`` tensors instead:

- batch norm is folded into the convolution before it (inference only);
- every 1x1 convolution is one GEMM over all frames of the batch (``F.linear``);
- every depthwise and strided convolution runs as a 2-D convolution on a channels-last view
  of the same memory (no copy), where oneDNN's kernels are fast;
- a dilated depthwise convolution over ``T`` frames with dilation ``d`` is an undilated one
  along the first axis of the ``(T/d, d)`` view of time (exactly the same sums);
- time-to-depth and depth-to-time become small block transposes.

Only the order of floating-point additions changes: the outputs agree with the model's to
about 1e-6 (``tests/test_fast_inference.py``). The plain model stays the reference and the form that
is trained and exported.

``FastLightSepNet(model)``: ``(batch, 1, context_samples)`` ->
``(batch, len(sources), 1, context_samples)``, like ``model`` in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ASPP1d, ConvNormAct, SeparableConv1d, TemporalAttention
from .lightsep_net import LightSepNet, SourceHead


def fold_batch_norm(weight: torch.Tensor, bias: torch.Tensor | None, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of ``norm(conv(x))`` as one convolution (eval-mode statistics)."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = torch.zeros_like(norm.running_mean) if bias is None else bias
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return weight * scale.reshape(shape), (bias - norm.running_mean) * scale + norm.bias


# --------------------------------------------------------------------------------------
# Operations on (batch, time, channels) tensors
# --------------------------------------------------------------------------------------


def _as_nchw(x: torch.Tensor, width: int = 1) -> torch.Tensor:
    """A channels-last ``(batch, channels, time / width, width)`` view of ``x`` (batch, time, channels)."""
    batch, time, channels = x.shape
    return x.reshape(batch, time // width, width, channels).permute(0, 3, 1, 2)


def _from_nchw(y: torch.Tensor) -> torch.Tensor:
    """``(batch, channels, h, w)`` (channels-last) -> ``(batch, h * w, channels)``."""
    batch, channels, h, w = y.shape
    return y.permute(0, 2, 3, 1).reshape(batch, h * w, channels)


class TimeConv(nn.Module):
    """A 1-D convolution along time of a ``(batch, time, channels)`` tensor: depthwise
    (``groups == channels``) or standard, with "same" zero padding, stride and dilation."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int, dilation: int, groups: int):
        super().__init__()
        self.kernel_size = weight.shape[-1]
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        # (out, in/groups, K) -> (out, in/groups, K, 1): the kernel runs along the first axis
        # of the (time / dilation, dilation) view; for dilation 1 that axis is all of time.
        self.register_buffer("weight", weight.detach().unsqueeze(-1).contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return self._standard(x)
        d = self.dilation
        if self.stride == 1 and x.shape[1] % d == 0:
            y = F.conv2d(_as_nchw(x, d), self.weight, self.bias, padding=(self.padding // d, 0), groups=self.groups)
            return _from_nchw(y)
        y = F.conv2d(_as_nchw(x), self.weight, self.bias, stride=(self.stride, 1), padding=(self.padding, 0),
                     dilation=(d, 1), groups=self.groups)  # fmt: skip
        return _from_nchw(y)

    def _standard(self, x: torch.Tensor) -> torch.Tensor:
        """A standard convolution as one GEMM over the unfolded input: ``(batch, frames,
        in * K) @ (in * K, out)``, the layout of ``weight.reshape(out, in * K)``."""
        padded = F.pad(x, (0, 0, self.padding, self.padding))
        span = self.dilation * (self.kernel_size - 1) + 1
        windows = padded.unfold(1, span, self.stride)[..., :: self.dilation]  # (batch, frames, in, K)
        batch, frames = windows.shape[:2]
        return F.linear(windows.reshape(batch, frames, -1), self.weight.reshape(self.weight.shape[0], -1), self.bias)


def _time_conv(conv: nn.Conv1d, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> TimeConv:
    weight = conv.weight if weight is None else weight
    bias = conv.bias if bias is None else bias
    return TimeConv(weight, bias, conv.stride[0], conv.padding[0], conv.dilation[0], conv.groups)


class Pointwise(nn.Module):
    """A 1x1 convolution (optionally followed by a leaky ReLU) as one GEMM: ``(batch, time, in) -> (batch, time, out)``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, negative_slope: float | None = None):
        super().__init__()
        self.register_buffer("weight", weight.detach().reshape(weight.shape[0], -1).contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        return y if self.negative_slope is None else F.leaky_relu_(y, self.negative_slope)


class FusedConvNormAct(nn.Module):
    """:class:`ConvNormAct` with its batch norm folded in, on ``(batch, time, channels)``."""

    def __init__(self, block: ConvNormAct):
        super().__init__()
        self.negative_slope = block.act.negative_slope
        conv = block.conv
        # time: the convolution along time (depthwise, or standard with the norm folded in);
        # mix: the 1x1 convolution with the norm and the activation folded in. Either may be absent.
        if isinstance(conv, SeparableConv1d):
            self.time = _time_conv(conv.depthwise)
            weight, bias = fold_batch_norm(conv.pointwise.weight, conv.pointwise.bias, block.norm)
            self.mix = Pointwise(weight, bias, self.negative_slope)
        elif conv.kernel_size[0] == 1 and conv.stride[0] == 1:
            self.time = None
            weight, bias = fold_batch_norm(conv.weight, conv.bias, block.norm)
            self.mix = Pointwise(weight, bias, self.negative_slope)
        else:
            weight, bias = fold_batch_norm(conv.weight, conv.bias, block.norm)
            self.time, self.mix = _time_conv(conv, weight, bias), None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time is not None:
            x = self.time(x)
        if self.mix is not None:
            return self.mix(x)
        return F.leaky_relu_(x, self.negative_slope)


def time_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``(batch, time, channels) -> (batch, time / factor, channels * factor)``; channel
    ``c * factor + r`` of frame ``t`` is channel ``c`` of sample ``t * factor + r`` (as
    :func:`lightsep.models.blocks.time_to_depth`)."""
    batch, time, channels = x.shape
    return x.reshape(batch, time // factor, factor, channels).transpose(2, 3).reshape(batch, time // factor, channels * factor)


def depth_to_time(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The inverse of :func:`time_to_depth`."""
    batch, frames, depth = x.shape
    return x.reshape(batch, frames, depth // factor, factor).transpose(2, 3).reshape(batch, frames * factor, depth // factor)


# --------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------


class FastASPP(nn.Module):
    def __init__(self, aspp: ASPP1d):
        super().__init__()
        self.pointwise = FusedConvNormAct(aspp.pointwise)
        self.atrous = nn.ModuleList(FusedConvNormAct(branch) for branch in aspp.atrous)
        self.pooling = aspp.pooling
        if aspp.pooling:
            conv, act = aspp.pool_projection
            self.pool_projection = Pointwise(conv.weight, conv.bias, act.negative_slope)
        self.projection = FusedConvNormAct(aspp.projection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.pointwise(x)] + [branch(x) for branch in self.atrous]
        if self.pooling:
            pooled = self.pool_projection(x.mean(dim=1, keepdim=True))
            branches.append(pooled.expand(-1, x.shape[1], -1))
        return self.projection(torch.cat(branches, dim=2))


class FastAttention(nn.Module):
    def __init__(self, attention: TemporalAttention):
        super().__init__()
        first, _, second = attention.channel_mlp
        self.hidden = Pointwise(first.weight, first.bias)
        self.out = Pointwise(second.weight, second.bias)
        self.temporal_gate = attention.temporal_gate  # 2 -> 1 channels: run as is, on (batch, 2, time)
        light = attention.light_conv  # softmax-normalised, head-shared kernels: fixed at inference
        kernels = torch.softmax(light.weight.detach(), dim=-1).repeat_interleave(light.channels // light.heads, dim=0)
        self.light = TimeConv(kernels.unsqueeze(1), None, 1, light.padding, 1, light.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mlp = lambda v: self.out(F.relu(self.hidden(v)))  # noqa: E731
        x = x * torch.sigmoid(mlp(x.mean(1, keepdim=True)) + mlp(x.amax(1, keepdim=True)))
        pooled = torch.stack([x.mean(2), x.amax(2)], dim=1)  # (batch, 2, time)
        x = x * torch.sigmoid(self.temporal_gate(pooled)).transpose(1, 2)
        return x + self.light(x)


class FastHead(nn.Module):
    def __init__(self, head: SourceHead):
        super().__init__()
        self.fold = head.fold
        self.attention = FastAttention(head.attention) if head.attention is not None else None
        self.projection = Pointwise(head.projection.weight, head.projection.bias)
        # The output convolution has one output channel: as a depthwise convolution of its
        # inputs, summed over them (an unfolded GEMM would copy K times the full-rate input).
        conv = head.output
        self.output = TimeConv(conv.weight.transpose(0, 1), None, 1, conv.padding[0], 1, conv.in_channels)
        self.register_buffer("output_bias", conv.bias.detach().clone())

    def forward(self, features: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            features = self.attention(features)
        samples = depth_to_time(self.projection(features), self.fold)
        return self.output(torch.cat([samples, mixture], dim=2)).sum(dim=2, keepdim=True) + self.output_bias


class FastLightSepNet(nn.Module):
    """The inference form of a :class:`LightSepNet` with the RFPD decoder (see the module
    docstring). Built from a model; later changes to that model are not seen."""

    def __init__(self, model: LightSepNet):
        super().__init__()
        if model.decoder_kind != "rfpd":
            raise ValueError("FastLightSepNet covers the RFPD decoder; run upsampling-decoder models as they are")
        self.sources, self.sample_rate = model.sources, model.sample_rate
        self.bottleneck_fold, self.skip_folds = model.bottleneck_fold, list(model.skip_folds)
        self.encoder = nn.ModuleList(
            nn.ModuleList([FusedConvNormAct(block.down), FusedConvNormAct(block.conv)]) for block in model.encoder
        )
        self.aspp = FastASPP(model.aspp)
        self.decoder = nn.ModuleList(FusedConvNormAct(stage) for stage in model.decoder)
        self.heads = nn.ModuleList(FastHead(head) for head in model.heads)
        self.eval()

    @torch.no_grad()
    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, time)`` -> ``(batch, len(sources), 1, time)``."""
        x = mixture.transpose(1, 2).contiguous()  # (batch, time, 1)
        skips = [x]
        for down, conv in self.encoder:
            x = down(x)
            x = x + conv(x)
            skips.append(x)
        x = self.aspp(time_to_depth(x, self.bottleneck_fold))
        for stage, skip, fold in zip(self.decoder, skips[3::-1], self.skip_folds):
            x = stage(torch.cat([x, time_to_depth(skip, fold)], dim=2))
        direct = torch.stack([head(x, skips[0]) for head in self.heads], dim=1)  # (batch, heads, time, 1)
        direct = direct.transpose(2, 3)  # (batch, heads, 1, time)
        difference = mixture.unsqueeze(1) - direct.sum(dim=1, keepdim=True)
        return torch.cat([direct, difference], dim=1)


def fast_inference_form(model: nn.Module) -> nn.Module:
    """:class:`FastLightSepNet` for an RFPD :class:`LightSepNet`, else the model itself."""
    if isinstance(model, LightSepNet) and model.decoder_kind == "rfpd":
        return FastLightSepNet(model.eval())
    return model
