"""The interface every separation model in lightsep implements."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class SeparationModel(nn.Module):
    """A waveform-to-waveforms separation network with a fixed context.

    ``forward(mixture)`` maps ``(batch, audio_channels, context_samples)`` to
    ``(batch, len(sources), audio_channels, output_samples)``. Output sample ``i`` is
    aligned with input sample ``output_offset + i`` (``output_offset`` is 0 when the model
    keeps the length, and half the difference for valid-convolution models with context).

    Subclasses set, in ``__init__``:

    - ``sources``: the names of the estimated sources, in output order;
    - ``sample_rate``, ``audio_channels``, ``context_samples``, ``output_samples``;
    - ``difference_source``: the name of the source computed as the mixture minus the others,
      or ``None`` when every source is estimated directly;
    - ``config``: the keyword arguments that rebuild the model (stored in checkpoints).

    The registry sets ``name`` (the preset's name, e.g. ``"proposed-2stem"``).
    """

    name: str = "model"
    silence_gate: bool = True
    """Whether separation closes this model's estimates on silent input
    (:class:`~lightsep.gate.SilenceGate`)."""
    default_overlap: float = 0.5
    """The segment overlap :class:`~lightsep.separator.Separator` uses when not told."""
    default_batch_size: int = 16
    """The segments per forward pass :class:`~lightsep.separator.Separator` uses when not
    told."""

    sources: tuple[str, ...]
    sample_rate: int
    audio_channels: int
    context_samples: int
    output_samples: int
    difference_source: str | None
    config: dict[str, Any]

    @property
    def output_offset(self) -> int:
        return (self.context_samples - self.output_samples) // 2

    def input_span(self, output_index: int) -> tuple[int, int]:
        """First and last input sample that output sample ``output_index`` depends on,
        derived from the architecture."""
        raise NotImplementedError

    def receptive_field(self, output_index: int | None = None) -> int:
        """Number of input samples from the first to the last that influence one output
        sample (the middle one by default), derived from the architecture."""
        if output_index is None:
            output_index = self.output_samples // 2
        first, last = self.input_span(output_index)
        return last - first + 1

    @property
    def target_field(self) -> int:
        """Output samples produced per forward pass."""
        return self.output_samples

    def example_input(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.audio_channels, self.context_samples)
