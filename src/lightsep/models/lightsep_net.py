"""The proposed lightweight model: a Wave-U-Net-style encoder with depthwise-separable
downsampling blocks, ASPP at the bottom, a Receptive Field Preserving Decoder (or, for
ablation (c), an upsampling decoder) and temporal attention at the last layer.

See ``docs/architecture.md`` for how the paper is read and where the FLOP budget goes.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import SeparationModel
from .blocks import (
    ASPP1d,
    ConvNormAct,
    DownsamplingBlock,
    Span,
    TemporalAttention,
    clip_span,
    conv_span,
    depth_to_time,
    same_padding,
    time_to_depth,
)

DECODERS = ("rfpd", "upsample")


def crop_output(stems: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """``(..., time)`` -> ``(..., length)``: samples ``[start, start + length)`` (no copy when that is all)."""
    return stems if start == 0 and length == stems.shape[-1] else stems[..., start : start + length]


class SourceHead(nn.Module):
    """Turns decoder features into one directly estimated source.

    ``features (batch, channels, frames)`` and ``mixture (batch, 1, frames * fold)`` ->
    ``(batch, 1, frames * fold)``: optional temporal attention at the features' resolution, a
    1x1 projection to ``head_features * fold`` channels, one depth-to-time by ``fold``, and an
    output convolution over those per-sample features and the mixture.
    """

    def __init__(
        self,
        channels: int,
        fold: int,
        head_features: int,
        output_kernel: int,
        attention: bool,
        attention_heads: int = 8,
    ):
        super().__init__()
        self.fold, self.output_kernel = fold, output_kernel
        self.attention = TemporalAttention(channels, heads=attention_heads) if attention else None
        self.projection = nn.Conv1d(channels, head_features * fold, 1)
        self.output = nn.Conv1d(head_features + 1, 1, output_kernel, padding=same_padding(output_kernel))

    def forward(self, features: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
        if self.attention is not None:
            features = self.attention(features)
        samples = depth_to_time(self.projection(features), self.fold)
        return self.output(torch.cat([samples, mixture], dim=1))


class LightSepNet(SeparationModel):
    """The paper's model (section 2), mono, same-length output.

    ``forward(mixture)``: ``(batch, 1, context_samples)`` ->
    ``(batch, len(sources), 1, output_samples)``. Every source but the last is estimated
    directly; the last is ``mixture - sum(others)``, so the estimates sum to the mixture.
    The output is the whole context by default; ``output_start`` and ``output_samples``
    keep only samples ``[output_start, output_start + output_samples)`` of it, so that a
    streaming model uses, and is trained on, the part of its context with
    ``context_samples - output_start - output_samples`` samples of look-ahead.

    Args:
        sources: source names; the last is the difference source.
        context_samples: input = output length; a multiple of ``16 * bottleneck_fold``.
        encoder_channels: output channels of the four downsampling blocks.
        down_kernel: kernel of the strided (downsampling) convolutions.
        separable_kernel: kernel of the depthwise-separable convolution in each block.
        separable_down_from: index (0-based) of the first block whose strided convolution is
            depthwise-separable (3: only the fourth block, as in the paper's Figure 2).
        bottleneck_fold: lossless time-to-depth factor after the fourth block; ASPP and the
            RFPD work at ``context / (16 * bottleneck_fold)`` frames.
        aspp_channels: width of each ASPP branch and of its output.
        aspp_dilations, aspp_kernel, aspp_pooling: the atrous branches and the pooling branch.
        decoder: ``"rfpd"`` (receptive field preserving) or ``"upsample"`` (ablation (c)).
        decoder_channels: RFPD width, or the widths of the upsampling decoder's levels from
            ``T/16`` up to ``T`` (five values).
        decoder_kernel: kernel of the decoder's depthwise-separable convolutions.
        attention: temporal attention in each source head.
        head_features: per-sample features each head unfolds before its output convolution.
        output_kernel: kernel of each head's full-resolution output convolution.
        output_start, output_samples: the output region within the context (default: all of it).
    """

    def __init__(
        self,
        sources: tuple[str, ...] | list[str] = ("vocals", "accompaniment"),
        sample_rate: int = 22050,
        context_samples: int = 16384,
        encoder_channels: tuple[int, int, int, int] | list[int] = (16, 32, 64, 128),
        down_kernel: int = 5,
        separable_kernel: int = 15,
        separable_down_from: int = 3,
        bottleneck_fold: int = 4,
        aspp_channels: int = 128,
        aspp_dilations: tuple[int, int, int] | list[int] = (1, 4, 16),
        aspp_kernel: int = 5,
        aspp_pooling: bool = True,
        decoder: str = "rfpd",
        decoder_channels: int | tuple[int, ...] | list[int] = 144,
        decoder_kernel: int = 5,
        attention: bool = True,
        attention_heads: int = 8,
        head_features: int = 3,
        output_kernel: int = 15,
        output_start: int = 0,
        output_samples: int | None = None,
    ):
        super().__init__()
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if len(sources) < 2:
            raise ValueError("need at least two sources (the last is the mixture minus the others)")
        if len(encoder_channels) != 4:
            raise ValueError("the encoder has exactly four downsampling blocks")
        total_fold = 16 * bottleneck_fold
        if context_samples % total_fold:
            raise ValueError(f"context_samples must be a multiple of {total_fold}, got {context_samples}")
        region = context_samples - output_start if output_samples is None else output_samples
        if not (0 <= output_start and 0 < region and output_start + region <= context_samples):
            raise ValueError(f"the output region [{output_start}, {output_start + region}) is not within the {context_samples}-sample context")
        self.config = dict(
            sources=list(sources),
            sample_rate=sample_rate,
            context_samples=context_samples,
            encoder_channels=list(encoder_channels),
            down_kernel=down_kernel,
            separable_kernel=separable_kernel,
            separable_down_from=separable_down_from,
            bottleneck_fold=bottleneck_fold,
            aspp_channels=aspp_channels,
            aspp_dilations=list(aspp_dilations),
            aspp_kernel=aspp_kernel,
            aspp_pooling=aspp_pooling,
            decoder=decoder,
            decoder_channels=decoder_channels if isinstance(decoder_channels, int) else list(decoder_channels),
            decoder_kernel=decoder_kernel,
            attention=attention,
            attention_heads=attention_heads,
            head_features=head_features,
            output_kernel=output_kernel,
        )
        if (output_start, region) != (0, context_samples):  # absent from the paper's models' checkpoints
            self.config.update(output_start=output_start, output_samples=region)
        self.sources = tuple(sources)
        self.difference_source = self.sources[-1]
        self.sample_rate = sample_rate
        self.audio_channels = 1
        self.context_samples, self.output_samples = context_samples, region
        self.output_start = output_start
        self.bottleneck_fold, self.total_fold = bottleneck_fold, total_fold
        self.decoder_kind = decoder
        self.output_kernel = output_kernel

        widths = [1, *encoder_channels]
        self.encoder = nn.ModuleList(
            DownsamplingBlock(
                widths[i],
                widths[i + 1],
                down_kernel,
                separable_kernel,
                separable_down=i >= separable_down_from,
            )
            for i in range(4)
        )
        self.aspp = ASPP1d(encoder_channels[3] * bottleneck_fold, aspp_channels, aspp_dilations, aspp_kernel, aspp_pooling)

        n_direct = len(sources) - 1
        if decoder == "rfpd":
            if not isinstance(decoder_channels, int):
                raise ValueError("the RFPD takes one decoder width (an int)")
            # Skips from the deepest to the shallowest (then the mixture itself), each folded
            # down to the bottleneck's frame rate: factor = bottleneck frames per skip frame.
            self.skip_channels = [encoder_channels[2], encoder_channels[1], encoder_channels[0], 1]
            self.skip_folds = [total_fold // 8, total_fold // 4, total_fold // 2, total_fold]
            stages, width = [], aspp_channels
            for channels, fold in zip(self.skip_channels, self.skip_folds):
                stages.append(ConvNormAct(width + channels * fold, decoder_channels, decoder_kernel, separable=True))
                width = decoder_channels
            self.decoder = nn.ModuleList(stages)
            head_in, head_fold = decoder_channels, total_fold
        else:
            levels = list(decoder_channels) if not isinstance(decoder_channels, int) else None
            if levels is None or len(levels) != 5:
                raise ValueError("the upsampling decoder takes five widths (T/16, T/8, T/4, T/2, T)")
            if aspp_channels % bottleneck_fold or any(c % 2 for c in levels[:-1]):
                raise ValueError("upsampling decoder widths must divide by the depth-to-time factors")
            skip_channels = [encoder_channels[3], encoder_channels[2], encoder_channels[1], encoder_channels[0], 1]
            stages, width, factor = [], aspp_channels, bottleneck_fold
            for channels, out in zip(skip_channels, levels):
                stages.append(ConvNormAct(width // factor + channels, out, decoder_kernel, separable=True))
                width, factor = out, 2
            self.decoder = nn.ModuleList(stages)
            head_in, head_fold = levels[-1], 1
        self.heads = nn.ModuleList(
            SourceHead(head_in, head_fold, head_features, output_kernel, attention, attention_heads)
            for _ in range(n_direct)
        )

    # ----------------------------------------------------------------------------------

    @property
    def output_offset(self) -> int:
        return self.output_start

    @property
    def look_ahead(self) -> int:
        """Input samples after the last output sample."""
        return self.context_samples - self.output_start - self.output_samples

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, context_samples)`` -> ``(batch, len(sources), 1, output_samples)``."""
        skips = [mixture]
        x = mixture
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = self.aspp(time_to_depth(x, self.bottleneck_fold))
        if self.decoder_kind == "rfpd":
            for stage, skip, fold in zip(self.decoder, skips[3::-1], self.skip_folds):
                x = stage(torch.cat([x, time_to_depth(skip, fold)], dim=1))
        else:
            factor = self.bottleneck_fold
            for stage, skip in zip(self.decoder, skips[4::-1]):
                x = stage(torch.cat([depth_to_time(x, factor), skip], dim=1))
                factor = 2
        direct = torch.stack([head(x, mixture) for head in self.heads], dim=1)
        difference = mixture.unsqueeze(1) - direct.sum(dim=1, keepdim=True)
        return crop_output(torch.cat([direct, difference], dim=1), self.output_start, self.output_samples)

    # ----------------------------------------------------------------------------------

    def has_global_context(self) -> bool:
        """True when some branch pools over the whole segment (ASPP pooling, or the channel
        gate of the attention), so every output sample depends on every input sample."""
        return self.aspp.pooling or bool(self.heads and self.heads[0].attention is not None)

    def _encoder_span(self, level: int, span: Span) -> Span:
        """Input samples that frames ``span`` of encoder level ``level`` (0 = input) read."""
        for depth in range(level, 0, -1):
            span = self.encoder[depth - 1].input_span(clip_span(span, self.context_samples >> depth))
        return clip_span(span, self.context_samples)

    def input_span(self, output_index: int) -> tuple[int, int]:
        length = self.context_samples
        output_index += self.output_start  # within the context
        if self.has_global_context():
            return 0, length - 1
        span = clip_span(conv_span((output_index, output_index), self.output_kernel, padding=self.output_kernel // 2), length)
        spans = [span]  # the head's output convolution reads the mixture directly
        if self.decoder_kind == "rfpd":
            frames = length // self.total_fold
            span = clip_span((span[0] // self.total_fold, span[1] // self.total_fold), frames)
            for level, stage, fold in zip((3, 2, 1, 0), self.decoder, self.skip_folds):
                span = clip_span(stage.input_span(span), frames)
                skip = (span[0] * fold, span[1] * fold + fold - 1)
                spans.append(self._encoder_span(level, skip))
        else:
            span = self._upsample_span(span, spans)
        span = clip_span(self.aspp.input_span(span), length // self.total_fold)
        folded = (span[0] * self.bottleneck_fold, span[1] * self.bottleneck_fold + self.bottleneck_fold - 1)
        spans.append(self._encoder_span(4, folded))
        return min(s[0] for s in spans), max(s[1] for s in spans)

    def _upsample_span(self, span: Span, spans: list[Span]) -> Span:
        """Walk the upsampling decoder from its full-resolution stage down; returns the span
        of ASPP output frames read, appending the skip spans to ``spans``."""
        for level, stage in zip((0, 1, 2, 3, 4), reversed(self.decoder)):
            span = clip_span(stage.input_span(span), self.context_samples >> level)
            spans.append(self._encoder_span(level, span))
            factor = 2 if level < 4 else self.bottleneck_fold
            span = (span[0] // factor, span[1] // factor)
        return clip_span(span, self.context_samples // self.total_fold)
