"""Reference "models" that need no training."""

from __future__ import annotations

import torch

from .base import SeparationModel


class MixtureModel(SeparationModel):
    """Every source estimate is the mixture itself: the floor of an evaluation, and an
    identity for testing overlap-add. ``(batch, channels, context)`` ->
    ``(batch, len(sources), channels, context)``."""

    def __init__(
        self,
        sources: tuple[str, ...] | list[str] = ("vocals", "accompaniment"),
        sample_rate: int = 22050,
        context_samples: int = 16384,
        audio_channels: int = 1,
    ):
        super().__init__()
        self.silence_gate = False  # an identity already gives silence for silence, and stays exact
        self.config = dict(sources=list(sources), sample_rate=sample_rate, context_samples=context_samples,
                           audio_channels=audio_channels)  # fmt: skip
        self.sources = tuple(sources)
        self.sample_rate, self.audio_channels = sample_rate, audio_channels
        self.context_samples = self.output_samples = context_samples
        self.difference_source = None

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return mixture.unsqueeze(1).expand(-1, len(self.sources), -1, -1).clone()

    def input_span(self, output_index: int) -> tuple[int, int]:
        return output_index, output_index
