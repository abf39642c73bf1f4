"""One vocal gain per frame and channel for the band above 11.025 kHz, from a few numbers a frame.

A full-band spectrogram-mask model carried over from 22.05 kHz (``full_band_of``) separates
below 11.025 kHz as its weights learned to; above, what the vocals hold is mostly sibilants
and breath, and what the mixture holds is mostly cymbals. Telling them apart takes knowing
*when* the voice is there more than *where* in the band: one gain per frame for the whole
band, from the oracle, separates as well as 16 band masks
(docs/research/full-band.md). :class:`HighBandGain` estimates that gain from 41 numbers a
frame, at the frame and two neighbours each side:

- the log energies of the mixture and of the model's vocal estimate in four regions from 1.5
  to 10.5 kHz, and of the mixture in three above 11.025 kHz (11), as they are and less their
  mean over the segment's frames that hold signal (the song's level and colour taken out; 22);
- per region from 8 kHz up (four), how much more the mid than the side signal holds, and the
  share of the energy in bins whose channels agree (the voice is mixed to the centre; 8);
- the change of the 11 log energies from the frame before (onsets; 11).

Every number is a sum of bins over a region, so the head costs little against the network.
"""

from __future__ import annotations

import torch
from torch import nn

LOW_REGIONS_HZ = (1500, 3000, 5500, 8000, 10500)
"""Edges of the regions below 11.025 kHz where the mixture and the vocal estimate are measured."""
HIGH_REGIONS_HZ = (11025, 13000, 16000, 22051)
"""Edges of the regions above, where the mixture is measured (the last reaches the Nyquist
frequency at 44.1 kHz, its bin left out)."""
STEREO_REGIONS_HZ = ((8000, 10500), (11025, 13000), (13000, 16000), (16000, 22051))
"""Where the mid/side and centre numbers are measured."""
CENTRE_POWER = 16
"""A bin's inter-channel likeness (1 when both channels agree) is raised to this before it
weights the bin's energy: only bins mixed to the centre count."""
CONTEXT = (-2, -1, 0, 1, 2)
"""The frames each gain sees, relative to its own (the segment's edge frames repeated)."""
FRAME_FEATURES = 41
MONO_DB = -60.0
"""A segment whose side signal is this far under its whole has no stereo image (:meth:`HighBandGain.stereo_image`)."""
SILENT = 1e-6
"""A frame's summed power (both channels, every bin) at or below which it holds no signal (a
4096-point frame of noise at -90 dBFS holds about 1e-2)."""


class HighBandGain(nn.Module):
    """Mixture spectrogram and vocal mask -> one vocal gain per frame and channel for the
    bins above 11.025 kHz.

    Args:
        sample_rate, n_fft: the STFT the spectrogram comes from.
        hidden: units of the hidden layer (ReLU); 0: a linear map to the gain's logit.
        numbers: how many of a frame's numbers it reads, the first ones: 22 (the region
            energies), 30 (and the stereo ones) or ``FRAME_FEATURES`` (all, the default;
            fewer are for comparing them, ``experiments/high_band.py compact``).

    The features are standardised by the buffers ``mean`` and ``scale`` (``(features,)``,
    set from training features with :meth:`standardise`) before the layers."""

    def __init__(self, sample_rate: int, n_fft: int, hidden: int = 16, numbers: int = FRAME_FEATURES):
        super().__init__()
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
            raise ValueError(f"hidden {hidden!r} must be 0 or a positive whole number")
        if isinstance(numbers, bool) or not isinstance(numbers, int) or not 1 <= numbers <= FRAME_FEATURES:
            raise ValueError(f"numbers {numbers!r} must be a whole number from 1 to {FRAME_FEATURES}")
        if sample_rate / 2 < HIGH_REGIONS_HZ[-2]:
            raise ValueError(f"a high-band gain needs a rate of at least {2 * HIGH_REGIONS_HZ[-2]} Hz, not {sample_rate}")
        self.hidden, self.numbers = hidden, numbers

        def bins(low: float, high: float) -> tuple[int, int]:
            return int(low * n_fft / sample_rate), min(int(high * n_fft / sample_rate), n_fft // 2)

        self.low_regions = [bins(a, b) for a, b in zip(LOW_REGIONS_HZ[:-1], LOW_REGIONS_HZ[1:])]
        self.high_regions = [bins(a, b) for a, b in zip(HIGH_REGIONS_HZ[:-1], HIGH_REGIONS_HZ[1:])]
        self.stereo_regions = [bins(a, b) for a, b in STEREO_REGIONS_HZ]
        width = numbers * len(CONTEXT)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.body = nn.Linear(width, 1) if not hidden else nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def frame_features(self, real: torch.Tensor, imag: torch.Tensor, vocal_mask: torch.Tensor) -> torch.Tensor:
        """``(batch, 2, bins, frames)`` real and imaginary parts of a stereo mixture's
        spectrogram and the vocal mask ``(batch, 2, bins, frames)`` -> ``(batch, frames, 2,
        FRAME_FEATURES)``: the numbers the module docstring lists, each frame on its own."""
        power = real * real + imag * imag
        vocal_power = vocal_mask * vocal_mask * power
        energies = []
        for low, high in self.low_regions:
            energies += [power[:, :, low:high].sum(2), vocal_power[:, :, low:high].sum(2)]
        energies += [power[:, :, low:high].sum(2) for low, high in self.high_regions]
        logs = torch.log10(torch.stack(energies, dim=-1) + 1e-8)  # (B, C, N, 11)
        # the mean over the frames that hold any signal: not the zeros before and after it
        held = (power.sum(dim=(1, 2)) > SILENT)[:, None, :, None].to(logs.dtype)  # (B, 1, N, 1)
        centred = logs - (logs * held).sum(dim=2, keepdim=True) / held.sum(dim=2, keepdim=True).clamp(min=1)
        change = torch.cat([torch.zeros_like(logs[:, :, :1]), logs[:, :, 1:] - logs[:, :, :-1]], dim=2)
        stereo = self._stereo(real, imag, power)  # (B, N, 8): both channels see the same
        stereo = stereo[:, None].expand(-1, logs.shape[1], -1, -1)
        return torch.cat([logs, centred, stereo, change], dim=-1).transpose(1, 2)

    def _stereo(self, real: torch.Tensor, imag: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, 8)``: per stereo region, log10 of the mid's energy over the
        side's, and of the centre-weighted energy over the whole."""
        mid = (real[:, 0] + real[:, 1]) ** 2 + (imag[:, 0] + imag[:, 1]) ** 2
        side = (real[:, 0] - real[:, 1]) ** 2 + (imag[:, 0] - imag[:, 1]) ** 2
        both = power[:, 0] + power[:, 1]
        cross = real[:, 0] * real[:, 1] + imag[:, 0] * imag[:, 1]
        likeness = (2 * cross / (both + 1e-12)).clamp(0, 1)
        centre = both * likeness**CENTRE_POWER
        values = []
        for low, high in self.stereo_regions:
            total = both[:, low:high].sum(1)
            values += [torch.log10(mid[:, low:high].sum(1) + 1e-8) - torch.log10(side[:, low:high].sum(1) + 1e-8),
                       torch.log10(centre[:, low:high].sum(1) + 1e-8) - torch.log10(total + 1e-8)]  # fmt: skip
        return torch.stack(values, dim=-1)

    @staticmethod
    def with_context(features: torch.Tensor) -> torch.Tensor:
        """``(..., frames, channels, features)`` -> each frame's and its ``CONTEXT``
        neighbours' features, concatenated (the edge frames repeated)."""
        frames = features.shape[-3]
        index = torch.arange(frames, device=features.device)
        return torch.cat([features.index_select(-3, (index + offset).clamp(0, frames - 1)) for offset in CONTEXT], dim=-1)

    def standardise(self, features: torch.Tensor) -> None:
        """Sets ``mean`` and ``scale`` from training features ``(..., features)``."""
        flat = features.reshape(-1, features.shape[-1])
        with torch.no_grad():
            self.mean.copy_(flat.mean(0))
            self.scale.copy_(flat.std(0) + 1e-3)

    def gain_of(self, features: torch.Tensor) -> torch.Tensor:
        """Features with context ``(..., features)`` -> gains in [0, 1] ``(...)``."""
        return torch.sigmoid(self.body((features - self.mean) / self.scale))[..., 0]

    def forward(self, real: torch.Tensor, imag: torch.Tensor, vocal_mask: torch.Tensor) -> torch.Tensor:
        """As :meth:`frame_features` -> the gains ``(batch, 2, frames)``; zero for a segment
        without a stereo image (:meth:`stereo_image`)."""
        features = self.frame_features(real, imag, vocal_mask)[..., : self.numbers]
        gain = self.gain_of(self.with_context(features)).transpose(1, 2)
        return gain * self.stereo_image(real, imag)[:, None, None]

    @staticmethod
    def stereo_image(real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """``(batch,)``: 1 where the two channels differ, 0 where they are the same (a mono
        signal given to both, whose side signal is more than ``MONO_DB`` under the whole; or
        silence). The head learned from stereo mixes, and without a side signal its stereo
        numbers are far outside anything it saw, so a mono segment's high band goes to the
        accompaniment, as a 22.05 kHz model's does."""
        side = ((real[:, 0] - real[:, 1]) ** 2 + (imag[:, 0] - imag[:, 1]) ** 2).sum(dim=(1, 2))
        whole = (real * real + imag * imag).sum(dim=(1, 2, 3))
        return (side > 10 ** (MONO_DB / 10) * whole).to(real.dtype)
