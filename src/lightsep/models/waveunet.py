"""Wave-U-Net (Stoller, Ewert and Dixon, ISMIR 2018), the paper's baseline.

A PyTorch re-implementation of the original TensorFlow code's ``UnetAudioSeparator`` with
its configurations M1-M6 (see ``lightsep.models.registry``):

- ``num_layers`` downsampling blocks: a convolution with ``num_initial_filters * (i + 1)``
  filters of size ``filter_size`` (``input_filter_size`` for the first), leaky ReLU (slope
  0.2, TensorFlow's default), then decimation by keeping every other sample;
- a bottleneck convolution with ``num_initial_filters * (num_layers + 1)`` filters;
- ``num_layers`` upsampling blocks: linear interpolation (or the learned interpolation of
  M5), concatenation with the centre-cropped skip features, a convolution with
  ``merge_filter_size`` taps;
- the input mixture concatenated, and a ``output_filter_size`` convolution per source with
  tanh; with ``output_type="difference"`` the last source is the mixture minus the others
  (clipped to [-1, 1] outside training, as the original does).

With ``context=True`` every convolution is valid (unpadded), the requested output length is
rounded up to one the network can produce, and the input is longer by the context the
network needs: 16384 requested samples give 147443 input and 16389 output samples. Without
context, every convolution is zero-padded ('same') and input and output have the requested
length.

Weights are initialised as TensorFlow's ``tf.layers.conv1d`` does (Glorot-uniform kernels,
zero biases).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import SeparationModel
from .blocks import Span, clip_span

OUTPUT_TYPES = ("direct", "difference")
UPSAMPLING = ("linear", "learned")


class LearnedInterpolation(nn.Module):
    """Wave-U-Net's learned upsampling: between two neighbouring frames ``a, b`` the new frame is
    ``w * a + (1 - w) * b`` with one ``w = sigmoid(weight)`` in [0, 1] per channel.

    ``(batch, channels, frames) -> (batch, channels, 2 * frames - 1)`` (valid) or
    ``2 * frames`` ('same', where the last new frame interpolates with a zero-padded frame).
    """

    def __init__(self, channels: int):
        super().__init__()
        bound = math.sqrt(3.0 / channels)  # Glorot-uniform for a vector of this length
        self.weight = nn.Parameter(torch.empty(channels).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, same: bool) -> torch.Tensor:
        w = torch.sigmoid(self.weight).view(1, -1, 1)
        right = F.pad(x[..., 1:], (0, 1)) if same else x[..., 1:]
        left = x if same else x[..., :-1]
        return interleave(x, w * left + (1 - w) * right)


def interleave(frames: torch.Tensor, between: torch.Tensor) -> torch.Tensor:
    """``frames[0], between[0], frames[1], between[1], ...`` along the last axis;
    ``between`` has as many frames as ``frames`` or one fewer."""
    batch, channels, n = frames.shape
    out = frames.new_empty(batch, channels, n + between.shape[-1])
    out[..., 0::2] = frames
    out[..., 1::2] = between
    return out


def linear_upsample(x: torch.Tensor, same: bool) -> torch.Tensor:
    """TensorFlow-1 ``resize_bilinear`` along time, as Wave-U-Net calls it.

    Valid: ``frames -> 2 * frames - 1`` with corners aligned (the new frames are midpoints).
    'Same': ``frames -> 2 * frames`` without aligned corners, which repeats the last frame.
    """
    between = 0.5 * (x[..., :-1] + x[..., 1:])
    if same:
        between = torch.cat([between, x[..., -1:]], dim=-1)
    return interleave(x, between)


def centre_crop(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crop ``(..., time)`` to its centre ``length`` samples (the difference must be even)."""
    diff = x.shape[-1] - length
    if diff < 0 or diff % 2:
        raise ValueError(f"cannot centre-crop {x.shape[-1]} samples to {length}")
    return x[..., diff // 2 : x.shape[-1] - diff // 2]


def context_shapes(
    output_samples: int, num_layers: int, filter_size: int, merge_filter_size: int, input_filter_size: int, output_filter_size: int
) -> tuple[int, int]:
    """Input and output lengths of the valid-convolution Wave-U-Net that produces at least
    ``output_samples`` (the original ``get_padding``)."""
    rem = float(output_samples) - output_filter_size + 1
    for _ in range(num_layers):
        rem = (rem + merge_filter_size - 1 + 1.0) / 2.0
    bottom = int(math.ceil(rem))
    if bottom < 2:
        raise ValueError("requested output is too short for this network")
    out_len, in_len = bottom, bottom + filter_size - 1
    for i in range(num_layers):
        out_len = 2 * out_len - 1 - merge_filter_size + 1
        in_len = 2 * in_len - 1 + (filter_size if i < num_layers - 1 else input_filter_size) - 1
    return in_len, out_len - output_filter_size + 1


class WaveUNet(SeparationModel):
    """Wave-U-Net. ``forward``: ``(batch, audio_channels, context_samples)`` ->
    ``(batch, len(sources), audio_channels, output_samples)``."""

    def __init__(
        self,
        sources: tuple[str, ...] | list[str] = ("accompaniment", "vocals"),
        sample_rate: int = 22050,
        audio_channels: int = 1,
        num_layers: int = 12,
        num_initial_filters: int = 24,
        filter_size: int = 15,
        merge_filter_size: int = 5,
        input_filter_size: int = 15,
        output_filter_size: int = 1,
        output_type: str = "direct",
        context: bool = False,
        upsampling: str = "linear",
        requested_output_samples: int = 16384,
    ):
        super().__init__()
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
        if not context and requested_output_samples % (2**num_layers):
            raise ValueError(f"without context the length must be a multiple of {2 ** num_layers}")
        self.config = dict(
            sources=list(sources),
            sample_rate=sample_rate,
            audio_channels=audio_channels,
            num_layers=num_layers,
            num_initial_filters=num_initial_filters,
            filter_size=filter_size,
            merge_filter_size=merge_filter_size,
            input_filter_size=input_filter_size,
            output_filter_size=output_filter_size,
            output_type=output_type,
            context=context,
            upsampling=upsampling,
            requested_output_samples=requested_output_samples,
        )
        self.sources = tuple(sources)
        self.sample_rate, self.audio_channels = sample_rate, audio_channels
        self.difference_source = self.sources[-1] if output_type == "difference" else None
        self.same = not context
        self.num_layers = num_layers
        self.kernels = dict(down=filter_size, up=merge_filter_size, first=input_filter_size, out=output_filter_size)
        if context:
            self.context_samples, self.output_samples = context_shapes(
                requested_output_samples, num_layers, filter_size, merge_filter_size, input_filter_size, output_filter_size
            )
        else:
            self.context_samples = self.output_samples = requested_output_samples

        width = [num_initial_filters * (i + 1) for i in range(num_layers + 1)]
        ins = [audio_channels] + width[: num_layers - 1]
        self.down = nn.ModuleList(
            self._conv(ins[i], width[i], input_filter_size if i == 0 else filter_size) for i in range(num_layers)
        )
        self.bottleneck = self._conv(width[num_layers - 1], width[num_layers], filter_size)
        up_in = [width[num_layers]] + [width[num_layers - i] for i in range(1, num_layers)]
        self.up = nn.ModuleList(
            self._conv(up_in[i] + width[num_layers - 1 - i], width[num_layers - 1 - i], merge_filter_size)
            for i in range(num_layers)
        )
        self.interpolation = (
            nn.ModuleList(LearnedInterpolation(c) for c in up_in) if upsampling == "learned" else None
        )
        n_conv_outputs = len(sources) - (1 if output_type == "difference" else 0)
        self.outputs = nn.ModuleList(
            self._conv(width[0] + audio_channels, audio_channels, output_filter_size) for _ in range(n_conv_outputs)
        )

    def _conv(self, in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv1d:
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2 if self.same else 0)
        nn.init.xavier_uniform_(conv.weight)
        nn.init.zeros_(conv.bias)
        return conv

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(batch, audio_channels, context_samples)`` ->
        ``(batch, len(sources), audio_channels, output_samples)``."""
        skips = []
        x = mixture
        for conv in self.down:
            x = F.leaky_relu(conv(x), 0.2)
            skips.append(x)
            x = x[..., ::2]
        x = F.leaky_relu(self.bottleneck(x), 0.2)
        for i, conv in enumerate(self.up):
            if self.interpolation is not None:
                x = self.interpolation[i](x, self.same)
            else:
                x = linear_upsample(x, self.same)
            x = torch.cat([centre_crop(skips[-i - 1], x.shape[-1]), x], dim=1)
            x = F.leaky_relu(conv(x), 0.2)
        x = torch.cat([centre_crop(mixture, x.shape[-1]), x], dim=1)
        estimates = [torch.tanh(conv(x)) for conv in self.outputs]
        if self.difference_source is not None:
            last = centre_crop(mixture, estimates[0].shape[-1]) - sum(estimates)
            if not self.training:
                last = last.clamp(-1.0, 1.0)
            estimates.append(last)
        return torch.stack(estimates, dim=1)

    # ----------------------------------------------------------------------------------

    def _lengths(self) -> tuple[list[int], list[int]]:
        """Frame counts of each down-convolution's output and each up-convolution's output."""
        shrink = lambda k: 0 if self.same else k - 1  # noqa: E731
        down, n = [], self.context_samples
        for i in range(self.num_layers):
            n -= shrink(self.kernels["first"] if i == 0 else self.kernels["down"])
            down.append(n)
            n = (n + 1) // 2
        n -= shrink(self.kernels["down"])
        bottom, up = n, []
        for _ in range(self.num_layers):
            n = 2 * n if self.same else 2 * n - 1
            n -= shrink(self.kernels["up"])
            up.append(n)
        return down, [bottom] + up

    def _conv_span(self, span: Span, kernel_size: int) -> Span:
        pad = kernel_size // 2 if self.same else 0
        return span[0] - pad, span[1] - pad + kernel_size - 1

    def input_span(self, output_index: int) -> tuple[int, int]:
        down, up = self._lengths()
        span: Span = (output_index, output_index)
        x_span = clip_span(self._conv_span(span, self.kernels["out"]), up[-1])
        spans = [self._crop_span(x_span, up[-1], self.context_samples)]
        for i in reversed(range(self.num_layers)):
            # up-convolution i reads [cropped skip, upsampled frames], both `upsampled` long
            upsampled = 2 * up[i] if self.same else 2 * up[i] - 1
            concat = clip_span(self._conv_span(x_span, self.kernels["up"]), upsampled)
            skip_level = self.num_layers - 1 - i
            spans.append(self._down_span(skip_level, self._crop_span(concat, upsampled, down[skip_level])))
            # upsampled frame u interpolates low-resolution frames u // 2 and (u + 1) // 2
            x_span = clip_span((concat[0] // 2, (concat[1] + 1) // 2), up[i])
        bottom = clip_span(self._conv_span(x_span, self.kernels["down"]), (down[-1] + 1) // 2)
        spans.append(self._down_span(self.num_layers - 1, (2 * bottom[0], 2 * bottom[1])))
        return min(s[0] for s in spans), max(s[1] for s in spans)

    @staticmethod
    def _crop_span(span: Span, length: int, source_length: int) -> Span:
        """Map frames of a centre-cropped tensor of ``length`` back to its source's frames."""
        offset = (source_length - length) // 2
        return span[0] + offset, span[1] + offset

    def _down_span(self, level: int, span: Span) -> Span:
        """Input samples that frames ``span`` of down-convolution ``level``'s output read."""
        down, _ = self._lengths()
        for i in range(level, -1, -1):
            span = clip_span(span, down[i])
            kernel = self.kernels["first"] if i == 0 else self.kernels["down"]
            span = self._conv_span(span, kernel)
            if i > 0:
                span = (2 * span[0], 2 * span[1])
        return clip_span(span, self.context_samples)
