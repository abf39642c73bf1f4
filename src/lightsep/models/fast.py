"""A faster inference form of :class:`LightSepNet`: the same function, computed channels-last.

PyTorch runs the model's 1-D convolutions on ``(batch, channels, time)`` tensors, where
oneDNN's depthwise kernels are slow (a few hundred MFLOP/s) and 1x1 convolutions go through
an unfold-and-GEMM path. :class:`FastLightSepNet` computes the same network on
``(batch, time, channels)`` tensors instead:

- batch norm is folded into the convolution before it (inference only);
- every 1x1 convolution is one GEMM over all frames of the batch (``F.linear``);
- every other convolution runs as a 2-D convolution along the width of a channels-last view
  of the same memory (no copy), where oneDNN's kernels are fast;
- a dilated depthwise convolution over ``T`` frames with dilation ``d`` is an undilated one
  along the first axis of the ``(T/d, d)`` view of time (exactly the same sums);
- time-to-depth is free: ``(batch, time, channels)`` memory read as ``(batch, time / f,
  f * channels)`` holds the same values as the model's folded tensor, in another channel
  order, so the weights that read folded channels are permuted once instead;
- the ASPP's pooling branch is constant over time, so its share of the projection is a
  per-segment bias instead of ``frames`` copies in a concatenation;
- each source head's projection, depth-to-time and full-rate output convolution are linear
  in the frames' features and mixture samples, so they are one GEMM per frame (and two
  small ones for the output samples whose window reaches the neighbouring frames), with no
  full-rate intermediate tensor;
- overlapping segments of one signal share their local features (everything up to the
  bottleneck that sees only a few neighbouring frames: the encoder, the ASPP's undilated
  branches, the RFPD stages' skip shares): :meth:`FastLightSepNet.forward_overlapping`
  computes them once over the stretch of signal the segments cover and recomputes only the
  few frames at each segment's inner edges that the model's zero padding changes. At 50%
  overlap that is about half of the local work.

Only the order of floating-point operations changes: the outputs agree with the model's to
about 1e-6 (``tests/test_fast_inference.py``). The plain model stays the reference and the form that
is trained and exported.

``FastLightSepNet(model)``: ``(batch, 1, context_samples)`` ->
``(batch, len(sources), 1, output_samples)``, like ``model`` in eval mode.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ASPP1d, ConvNormAct, SeparableConv1d, TemporalAttention
from .lightsep_net import LightSepNet, SourceHead, crop_output


def fold_batch_norm(weight: torch.Tensor, bias: torch.Tensor | None, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of ``norm(conv(x))`` as one convolution (eval-mode statistics)."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = torch.zeros_like(norm.running_mean) if bias is None else bias
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return weight * scale.reshape(shape), (bias - norm.running_mean) * scale + norm.bias


# --------------------------------------------------------------------------------------
# Operations on (batch, time, channels) tensors
# --------------------------------------------------------------------------------------


def _as_nchw(x: torch.Tensor, width: int) -> torch.Tensor:
    """A channels-last ``(batch, channels, time / width, width)`` view of ``x`` (batch, time,
    channels): with ``width == time``, time runs along the width."""
    batch, time, channels = x.shape
    return x.reshape(batch, time // width, width, channels).permute(0, 3, 1, 2)


def _from_nchw(y: torch.Tensor) -> torch.Tensor:
    """``(batch, channels, h, w)`` (channels-last) -> ``(batch, h * w, channels)``."""
    batch, channels, h, w = y.shape
    return y.permute(0, 2, 3, 1).reshape(batch, h * w, channels)


@functools.lru_cache(maxsize=None)
def fused_activation_available() -> bool:
    """Whether this PyTorch has oneDNN's convolution with a fused activation
    (``torch.ops.mkldnn._convolution_pointwise``, what ``torch.compile`` uses on the CPU)
    and it computes ``leaky_relu(conv2d(...))`` here. It saves a pass over the output."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 1, 9, generator=generator).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(6, 2, 1, 3, generator=generator).contiguous(memory_format=torch.channels_last)
    bias = torch.randn(6, generator=generator)
    try:
        got = op(x, weight, bias, [0, 1], [1, 2], [1, 1], 2, "leaky_relu", [0.1], "")
    except RuntimeError:
        return False
    expected = F.leaky_relu(F.conv2d(x, weight, bias, stride=(1, 2), padding=(0, 1), groups=2), 0.1)
    return got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


def _conv2d_leaky(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, negative_slope: float | None,
                  stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups: int = 1) -> torch.Tensor:  # fmt: skip
    """``leaky_relu(conv2d(x, ...))`` (or ``conv2d`` alone with no slope), with the activation
    fused into oneDNN's convolution where :func:`fused_activation_available`."""
    if negative_slope is not None and fused_activation_available():
        return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, list(padding), list(stride), list(dilation), groups,
                                                        "leaky_relu", [negative_slope], "")  # fmt: skip
    y = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return y if negative_slope is None else F.leaky_relu_(y, negative_slope)


class TimeConv(nn.Module):
    """A 1-D convolution along time of a ``(batch, time, channels)`` tensor: depthwise
    (``groups == channels``) or standard, with "same" zero padding, stride and dilation.

    Time is the *width* of a channels-last 2-D view: oneDNN's kernels block along the width
    (``experiments/layouts.py`` compares the layouts). A dilated depthwise convolution over
    ``T`` frames with dilation ``d`` instead runs undilated along the height of the ``(T/d,
    d)`` view (oneDNN's dilated kernels are slow; the sums are the same).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int, dilation: int, groups: int):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.folds_dilation = dilation > 1 and stride == 1 and groups == weight.shape[0] and padding % dilation == 0
        # (out, in/groups, K) -> (out, in/groups, 1, K), or (out, in/groups, K, 1) along the height
        weight = weight.detach().unsqueeze(-1 if self.folds_dilation else 2)
        self.register_buffer("weight", weight.contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def forward(self, x: torch.Tensor, negative_slope: float | None = None) -> torch.Tensor:
        """``(batch, time, in) -> (batch, time / stride, out)``; with ``negative_slope``, a
        leaky ReLU follows (fused into the convolution where oneDNN can)."""
        d = self.dilation
        if self.folds_dilation and x.shape[1] % d == 0:
            y = _conv2d_leaky(_as_nchw(x, d), self.weight, self.bias, negative_slope, padding=(self.padding // d, 0), groups=self.groups)  # noqa: E501
        elif self.folds_dilation:  # a length the (T/d, d) view cannot take
            weight = self.weight.transpose(2, 3)
            y = _conv2d_leaky(_as_nchw(x, x.shape[1]), weight, self.bias, negative_slope, padding=(0, self.padding), dilation=(1, d),
                              groups=self.groups)  # fmt: skip
        else:
            y = _conv2d_leaky(_as_nchw(x, x.shape[1]), self.weight, self.bias, negative_slope, stride=(1, self.stride),
                              padding=(0, self.padding), dilation=(1, d), groups=self.groups)  # fmt: skip
        return _from_nchw(y)

    def channels(self, first: int, last: int) -> "TimeConv":
        """This depthwise convolution restricted to channels ``[first, last)``."""
        if self.groups != self.weight.shape[0]:
            raise ValueError("only a depthwise convolution splits by channel")
        weight = self.weight[first:last].squeeze(-1 if self.folds_dilation else 2)
        bias = None if self.bias is None else self.bias[first:last]
        return TimeConv(weight, bias, self.stride, self.padding, self.dilation, last - first)


def _time_conv(conv: nn.Conv1d, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> TimeConv:
    weight = conv.weight if weight is None else weight
    bias = conv.bias if bias is None else bias
    return TimeConv(weight, bias, conv.stride[0], conv.padding[0], conv.dilation[0], conv.groups)


class Pointwise(nn.Module):
    """A 1x1 convolution (optionally followed by a leaky ReLU): ``(batch, time, in) -> (batch, time, out)``.

    One GEMM over all frames; with an activation, oneDNN's 1x1 convolution on the
    channels-last view instead, with the activation fused in (where available)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, negative_slope: float | None = None):
        super().__init__()
        self.register_buffer("weight", weight.detach().reshape(weight.shape[0], -1).contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.negative_slope is not None and x.shape[1] > 1 and fused_activation_available():
            return _from_nchw(_conv2d_leaky(_as_nchw(x, x.shape[1]), self.weight[:, :, None, None], self.bias, self.negative_slope))
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

    def read_inputs_in(self, order: torch.Tensor) -> None:
        """Permute the weights so that input channel ``n`` is the block's channel ``order[n]``."""
        if self.time is not None:
            depthwise = self.time.groups > 1
            weight = self.time.weight[order] if depthwise else self.time.weight[:, order]
            self.time.weight = weight.contiguous(memory_format=torch.channels_last)
            if not depthwise:
                return
            if self.time.bias is not None:  # a depthwise convolution's outputs are its inputs' channels
                self.time.bias = self.time.bias[order]
        # a depthwise convolution keeps the permuted order; the 1x1 convolution reads it
        self.mix.weight = self.mix.weight[:, order].contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mix is None:  # a convolution along time, then the activation
            return self.time(x, self.negative_slope)
        return self.mix(x if self.time is None else self.time(x))


class PartsLinear(nn.Module):
    """``F.linear(torch.cat(parts, dim=2), weight, bias)`` without the concatenation (a copy
    of every frame): one GEMM per part, accumulated in place. The weight is split by part
    once, here. ``parts``: contiguous ``(batch, time, sizes[i])``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, sizes: list[int]):
        super().__init__()
        self.parts = len(sizes)
        for i, part in enumerate(weight.detach().split(sizes, dim=1)):
            self.register_buffer(f"weight{i}", part.contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def forward(self, parts: list[torch.Tensor], into: torch.Tensor | None = None) -> torch.Tensor:
        """The projection of ``parts``; with ``into``, added to that tensor in place (which
        then stands for the bias: ``self.bias`` is not added)."""
        if into is None:
            y, rest = F.linear(parts[0], self.weight0, self.bias), enumerate(parts[1:], start=1)
        else:
            y, rest = into, enumerate(parts)
        flat = y.view(-1, y.shape[-1])
        for i, part in rest:
            flat.addmm_(part.reshape(-1, part.shape[-1]), getattr(self, f"weight{i}").t())
        return y


class FastDecoderStage(nn.Module):
    """An RFPD stage, a depthwise-separable :class:`FusedConvNormAct` on ``torch.cat([x,
    skip], dim=2)``, without the concatenation: the depthwise convolution runs per part and
    the 1x1 convolution is one GEMM per part, summed in place.

    The skip's part (``skip_part``, which carries the bias) does not depend on ``x``: it is
    local in time, so :meth:`FastLightSepNet.forward_overlapping` can share it between
    overlapping segments. ``stage(x, skip_part(skip))`` is the stage's output.
    """

    def __init__(self, block: FusedConvNormAct, width: int, skip_width: int):
        super().__init__()
        if block.time is None or block.mix is None or block.time.groups != block.mix.weight.shape[1]:
            raise ValueError("FastDecoderStage needs a depthwise-separable block")
        self.time = block.time.channels(0, width)
        self.skip_time = block.time.channels(width, width + skip_width)
        self.skip_mix = Pointwise(block.mix.weight[:, width:], block.mix.bias)
        self.mix = PartsLinear(block.mix.weight[:, :width], None, [width])
        self.negative_slope = block.negative_slope

    def skip_part(self, skip: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, skip_width)`` -> ``(batch, frames, out)``: the skip's share, bias included."""
        return self.skip_mix(self.skip_time(skip))

    def forward(self, x: torch.Tensor, skip_part: torch.Tensor) -> torch.Tensor:
        """``x (batch, frames, width)`` and ``skip_part`` (summed into, in place) -> ``(batch, frames, out)``."""
        return F.leaky_relu_(self.mix([self.time(x)], into=skip_part), self.negative_slope)


def fold(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Time-to-depth without a copy: ``(batch, time, channels) -> (batch, time / factor,
    factor * channels)``. Channel ``r * channels + c`` of frame ``t`` is channel ``c`` of
    sample ``t * factor + r``: the model's folded channel ``folded_order(channels, factor)[r *
    channels + c]``."""
    batch, time, channels = x.shape
    return x.reshape(batch, time // factor, factor * channels)


def folded_order(channels: int, factor: int) -> torch.Tensor:
    """The model's index (:func:`lightsep.models.blocks.time_to_depth`: ``c * factor + r``)
    of each channel of :func:`fold`'s output (``r * channels + c``)."""
    position = torch.arange(channels * factor)
    return (position % channels) * factor + position // channels


# --------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------


class FastASPP(nn.Module):
    """:class:`ASPP1d` on :func:`fold`'s output (channels in ``folded_order``), in two parts.

    ``local(x)`` is the projection's share of the branches that see only a few neighbouring
    frames (the 1x1 branch and undilated atrous branches; the projection's bias included):
    :meth:`FastLightSepNet.forward_overlapping` shares it between overlapping segments.
    ``aspp(x, aspp.local(x))`` adds the dilated branches and the pooling branch (which
    depends on the whole segment) and applies the activation.
    """

    def __init__(self, aspp: ASPP1d, input_order: torch.Tensor):
        super().__init__()
        branches = [FusedConvNormAct(aspp.pointwise)] + [FusedConvNormAct(branch) for branch in aspp.atrous]
        for branch in branches:
            branch.read_inputs_in(input_order)
        projection = FusedConvNormAct(aspp.projection)  # 1x1: only ``mix``, the norm folded in
        width = aspp.pointwise.conv.out_channels
        weights = projection.mix.weight.split(width, dim=1)  # one per branch, pooling last
        local = [i for i, d in enumerate([1, *aspp.dilations]) if d == 1]
        spread = [i for i in range(len(branches)) if i not in local]
        self.local_branches = nn.ModuleList(branches[i] for i in local)
        self.spread_branches = nn.ModuleList(branches[i] for i in spread)
        self.local_projection = PartsLinear(torch.cat([weights[i] for i in local], 1), projection.mix.bias, [width] * len(local))
        self.spread_projection = PartsLinear(torch.cat([weights[i] for i in spread], 1), None, [width] * len(spread)) if spread else None  # noqa: E501
        self.negative_slope = projection.negative_slope
        self.pooling = aspp.pooling
        if aspp.pooling:
            conv, act = aspp.pool_projection
            self.pool_projection = Pointwise(conv.weight[:, input_order], conv.bias, act.negative_slope)
            # the pooled branch is constant over time: its share of the projection is a bias
            self.register_buffer("pool_weight", weights[-1].contiguous())

    def local(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, in)`` -> ``(batch, frames, out)``: the local branches' share."""
        return self.local_projection([branch(x) for branch in self.local_branches])

    def forward(self, x: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        """``x (batch, frames, in)`` and ``local`` (summed into, in place) -> ``(batch, frames, out)``."""
        y = local
        if self.spread_projection is not None:
            y = self.spread_projection([branch(x) for branch in self.spread_branches], into=y)
        if self.pooling:
            y += F.linear(self.pool_projection(x.mean(dim=1, keepdim=True)), self.pool_weight)
        return F.leaky_relu_(y, self.negative_slope)


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
    """:class:`SourceHead` with its last three steps as one linear map per frame.

    After the attention, the head is linear: the projection to ``head_features * fold``
    channels, the depth-to-time and the output convolution over those samples and the
    mixture. Output sample ``r`` of frame ``j`` therefore is ``centre[r]`` applied to frame
    ``j``'s inputs (its features and its ``fold`` mixture samples), plus, for the first and
    last ``reach = output_kernel // 2`` samples, ``left`` / ``right`` applied to the previous /
    next frame's, plus a bias. At the segment's ends the missing neighbour contributes
    nothing, its share of the bias included (the model's zero padding).

    ``features (batch, frames, channels)``, ``mixture (batch, frames, fold)`` -> ``(batch, frames * fold)``.
    """

    def __init__(self, head: SourceHead):
        super().__init__()
        fold, kernel = head.fold, head.output_kernel
        self.fold, self.reach = fold, kernel // 2
        reason = _reach_problem(fold, kernel)
        if reason:
            raise ValueError(reason)
        self.attention = FastAttention(head.attention) if head.attention is not None else None
        channels = head.projection.in_channels
        features = head.projection.out_channels // fold
        projection = head.projection.weight.detach().double()[:, :, 0].reshape(features, fold, channels)
        projection_bias = head.projection.bias.detach().double().reshape(features, fold)
        output = head.output.weight.detach().double()[0]  # (features + 1, kernel); the last row reads the mixture
        # maps[o + 1][r]: output sample r of a frame from the inputs of frame (this + o)
        maps = torch.zeros(3, fold, channels + fold, dtype=torch.float64)
        biases = torch.zeros(3, fold, dtype=torch.float64)
        for r in range(fold):
            for k in range(kernel):
                sample = r + k - self.reach  # relative to the frame's first sample
                offset = sample // fold
                phase = sample - offset * fold
                maps[offset + 1, r, :channels] += output[:features, k] @ projection[:, phase]
                maps[offset + 1, r, channels + phase] += output[features, k]
                biases[offset + 1, r] += output[:features, k] @ projection_bias[:, phase]
        reach = self.reach
        self.register_buffer("centre", maps[1].float())
        self.register_buffer("bias", (biases.sum(0) + head.output.bias.detach().double()).float())
        self.register_buffer("left", maps[0, :reach].float())
        self.register_buffer("left_bias", biases[0, :reach].float())
        self.register_buffer("right", maps[2, fold - reach :].float())
        self.register_buffer("right_bias", biases[2, fold - reach :].float())

    def forward(self, features: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            features = self.attention(features)
        x = torch.cat([features, mixture], dim=2)  # (batch, frames, channels + fold)
        y = F.linear(x, self.centre, self.bias)  # (batch, frames, fold)
        fold, reach = self.fold, self.reach
        if reach:
            y[:, 1:, :reach] += F.linear(x[:, :-1], self.left)
            y[:, :-1, fold - reach :] += F.linear(x[:, 1:], self.right)
            y[:, 0, :reach] -= self.left_bias
            y[:, -1, fold - reach :] -= self.right_bias
        return y.reshape(y.shape[0], -1)


class FastLightSepNet(nn.Module):
    """The inference form of a :class:`LightSepNet` with the RFPD decoder (see the module
    docstring). Built from a model; later changes to that model are not seen.

    The network is computed in two parts. :meth:`local_features` holds everything that sees
    only a few neighbouring frames: the encoder, the ASPP's 1x1 and undilated branches, and
    each RFPD stage's share from its skip. :meth:`from_local_features` does the rest, which
    depends on the whole segment (the ASPP's dilated and pooling branches, the RFPD stages'
    other share, the attention and the heads). ``forward`` is the one after the other.

    Overlapping segments of one signal compute the same local features away from their
    edges, so :meth:`forward_overlapping` computes them once for the stretch of signal that
    a group of segments covers, and recomputes only ``edge_frames`` at the inner edges of
    each segment, where the model's zero padding makes them differ.
    """

    def __init__(self, model: LightSepNet):
        super().__init__()
        reason = unsupported(model)
        if reason:
            raise ValueError(reason)
        self.sources, self.sample_rate = model.sources, model.sample_rate
        self.context_samples = model.context_samples
        self.output_start, self.output_samples = model.output_start, model.output_samples
        self.bottleneck_fold, self.skip_folds = model.bottleneck_fold, list(model.skip_folds)
        self.total_fold = model.total_fold
        self.encoder = nn.ModuleList(
            nn.ModuleList([FusedConvNormAct(block.down), FusedConvNormAct(block.conv)]) for block in model.encoder
        )
        self.aspp = FastASPP(model.aspp, folded_order(model.config["encoder_channels"][3], model.bottleneck_fold))
        # each stage reads [x, fold(skip)] as two parts, without concatenating them
        stages, width = [], model.config["aspp_channels"]
        for stage, channels, factor in zip(model.decoder, model.skip_channels, self.skip_folds):
            fused = FusedConvNormAct(stage)
            fused.read_inputs_in(torch.cat([torch.arange(width), width + folded_order(channels, factor)]))
            stages.append(FastDecoderStage(fused, width, channels * factor))
            width = fused.mix.weight.shape[0]
        self.decoder = nn.ModuleList(stages)
        self.heads = nn.ModuleList(FastHead(head) for head in model.heads)
        self.edge_frames = self._edge_frames()
        self.eval()

    # -- the two parts ------------------------------------------------------------------------

    def local_features(self, mixture: torch.Tensor) -> list[torch.Tensor]:
        """``(batch, time, 1)`` -> the local features, each ``(batch, time / total_fold, channels)``:
        the folded bottleneck, the ASPP's local share, each RFPD stage's skip share, and the
        mixture's samples per frame."""
        x, skips = mixture, [mixture]
        for down, conv in self.encoder:
            x = down(x)
            x = conv(x).add_(x)  # the residual, in place (a + b == b + a exactly)
            skips.append(x)
        bottom = fold(x, self.bottleneck_fold)
        stages = [stage.skip_part(fold(skip, factor)) for stage, skip, factor in zip(self.decoder, skips[3::-1], self.skip_folds)]
        return [bottom, self.aspp.local(bottom), *stages, fold(mixture, self.total_fold)]

    def from_local_features(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The local features of whole segments (summed into, in place) -> ``(batch, len(sources), 1, time)``."""
        bottom, aspp, *stages, mixture_frames = features
        x = self.aspp(bottom, aspp)
        for stage, part in zip(self.decoder, stages):
            x = stage(x, part)
        batch = x.shape[0]
        mixture = mixture_frames.reshape(batch, -1)
        out = mixture.new_empty(batch, len(self.sources), 1, mixture.shape[1])
        for i, head in enumerate(self.heads):
            out[:, i, 0] = head(x, mixture_frames)
        out[:, -1, 0] = mixture - out[:, :-1, 0].sum(dim=1)
        return out

    @torch.no_grad()
    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, time)`` -> ``(batch, len(sources), 1, time)``."""
        batch, _, time = mixture.shape
        out = self.from_local_features(self.local_features(mixture.reshape(batch, time, 1)))
        return crop_output(out, self.output_start, self.output_samples)

    # -- overlapping segments -----------------------------------------------------------------

    def shares(self, hop: int) -> bool:
        """Whether :meth:`forward_overlapping` can share local features between segments ``hop`` samples apart."""
        frames = self.context_samples // self.total_fold
        return hop % self.total_fold == 0 and 2 * self.edge_frames <= frames and hop < self.context_samples

    @torch.no_grad()
    def forward_overlapping(self, signal: torch.Tensor, hop: int, count: int) -> torch.Tensor:
        """``count`` segments of ``signal``, ``hop`` samples apart, as ``forward`` computes them.

        ``signal (batch, 1, (count - 1) * hop + context_samples)`` ->
        ``(count, batch, len(sources), 1, output_samples)``; output ``k`` is
        ``forward(signal[..., k * hop : k * hop + context_samples])`` (to float rounding).
        """
        batch = signal.shape[0]
        features = self.overlapping_local_features(signal, hop, count)
        out = self.from_local_features(features).reshape(count, batch, len(self.sources), 1, -1)
        return crop_output(out, self.output_start, self.output_samples)

    def overlapping_local_features(self, signal: torch.Tensor, hop: int, count: int) -> list[torch.Tensor]:
        """The :meth:`local_features` of ``count`` segments of ``signal``, ``hop`` samples
        apart (see :meth:`forward_overlapping`), each ``(count * batch, frames, channels)``,
        segment-major. Shared between the segments when :meth:`shares` ``hop``."""
        batch, _, length = signal.shape
        if length != (count - 1) * hop + self.context_samples:
            raise ValueError(f"{count} segments {hop} samples apart span {(count - 1) * hop + self.context_samples} samples, got {length}")  # noqa: E501
        segments = [signal[..., k * hop : k * hop + self.context_samples] for k in range(count)]
        if count == 1 or not self.shares(hop):
            return self.local_features(torch.cat(segments).reshape(count * batch, self.context_samples, 1))
        frames, step, edge = self.context_samples // self.total_fold, hop // self.total_fold, self.edge_frames
        whole = self.local_features(signal.reshape(batch, length, 1))
        # the inner edges, with the model's zero padding: the first edge_frames of segments
        # 1.. and the last of segments ..count-2, from slices twice as long
        span = 2 * edge * self.total_fold
        lefts = [segment[..., :span] for segment in segments[1:]]
        rights = [segment[..., -span:] for segment in segments[:-1]]
        edges = self.local_features(torch.cat(lefts + rights).reshape(-1, span, 1))
        features = []
        for shared, patch in zip(whole, edges):
            channels = shared.shape[-1]
            # (batch, signal frames, channels) -> (count, batch, frames, channels), a copy per segment
            per_segment = shared.unfold(1, frames, step).permute(1, 0, 3, 2).contiguous()
            patch = patch.reshape(2, count - 1, batch, 2 * edge, channels)
            per_segment[1:, :, :edge] = patch[0, :, :, :edge]
            per_segment[:-1, :, -edge:] = patch[1, :, :, edge:]
            features.append(per_segment.reshape(count * batch, frames, channels))
        return features

    def _edge_frames(self) -> int:
        """Bottleneck frames at a segment's edge whose local features the zero padding changes:
        the most, over the local features, of the frames that depend on that padding."""
        margin, margins = 0, [0]  # in frames of each encoder level
        for down, conv in self.encoder:
            margin = _grow_margin(margin, down.time)
            margin = _grow_margin(margin, conv.time)
            margins.append(margin)
        bottom = -(-margins[4] // self.bottleneck_fold)
        found = [bottom] + [_grow_margin(bottom, branch.time) for branch in self.aspp.local_branches]
        for stage, skip_margin, factor in zip(self.decoder, margins[3::-1], self.skip_folds):
            found.append(_grow_margin(-(-skip_margin // factor), stage.skip_time))
        return max(found)


def _grow_margin(margin: int, conv: TimeConv | None) -> int:
    """Output frames at an edge that depend on the zero padding, given ``margin`` such input frames."""
    if conv is None:
        return margin
    return -(-(margin + conv.padding) // conv.stride)


def _reach_problem(fold: int, output_kernel: int) -> str | None:
    if output_kernel // 2 >= fold:
        return f"the output convolution ({output_kernel} taps) reaches beyond the neighbouring frames of {fold} samples"
    return None


def unsupported(model: nn.Module) -> str | None:
    """Why :class:`FastLightSepNet` cannot compute ``model``'s function, or ``None`` if it can."""
    if not isinstance(model, LightSepNet):
        return f"FastLightSepNet covers LightSepNet, not {type(model).__name__}"
    if model.decoder_kind != "rfpd":
        return "FastLightSepNet covers the RFPD decoder; run upsampling-decoder models as they are"
    return _reach_problem(model.total_fold, model.output_kernel)


def fast_inference_form(model: nn.Module) -> nn.Module:
    """:class:`FastLightSepNet` for a model it covers (every RFPD preset); else the model itself."""
    return model if unsupported(model) else FastLightSepNet(model.eval())
