"""A lightweight spectrogram-mask model family beside the paper's waveform model.

The mixture's short-time Fourier transform (STFT) is masked, one soft mask per source that
sums to one over the sources, and each masked spectrogram is turned back into a waveform
(inverse STFT). A recurrent network over time frames estimates the masks from the
log-magnitude spectrogram of all audio channels together (stereo models see the panning).

The frequency axis is handled in *bands*: the ``full_resolution_bins`` lowest STFT bins keep
their own values, and above them bins are merged into bands that widen geometrically up to
the Nyquist frequency, ``bands`` in all. Magnitudes are pooled into bands on the way in, and
the mask logits are estimated per band and interpolated linearly back to every bin on the way
out. This keeps the first and last layers small (they would otherwise hold most of the
parameters) at little cost in mask resolution where it matters.

Those first and last layers are dense by default; :class:`BandConvolutions` (a U-Net over
the bands, weights shared along frequency) can replace them or sit beside them
(``frequency_channels``, ``dense_too``).

Both transforms are PyTorch's FFT-based ``torch.stft``/``torch.istft`` in training and
inference. While the model is being exported to ONNX (which has no inverse STFT) the same
transforms are computed as fixed convolutions with the windowed Fourier basis
(:class:`ConvSTFT`), so the exported graph is one self-contained function of the waveform;
``tests/test_spectral.py`` checks that both forms agree.

See ``docs/architecture.md`` ("The spectrogram-mask family") for the choices and what was
measured.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import SeparationModel
from .high_gain import HighBandGain

MEMBER_ARGUMENTS = ("bands", "full_resolution_bins", "hidden", "layers", "dropout", "frequency_channels", "time_kernel", "dense_too")
# high_bands and magnitude_scale are the ensemble's: its members share one band layout
"""The network arguments of :class:`SpectralMaskNet` that each member of an ensemble sets
for itself (``members``); every other argument is the ensemble's."""


def band_centres(bins: int, bands: int, full_resolution_bins: int) -> np.ndarray:
    """Centre positions (in bins, increasing, from 0 to ``bins - 1``) of ``bands`` bands:
    the first ``full_resolution_bins`` are single bins, the rest spaced geometrically up to
    the top bin (at least one bin apart)."""
    if not 2 <= full_resolution_bins < bands <= bins:
        raise ValueError(f"need 2 <= full_resolution_bins ({full_resolution_bins}) < bands ({bands}) <= bins ({bins})")
    start = full_resolution_bins - 1
    rest = bands - full_resolution_bins
    steps = np.arange(1, rest + 1)
    high = start * ((bins - 1) / start) ** (steps / rest)
    centres = np.concatenate([np.arange(full_resolution_bins, dtype=np.float64), high])
    # at least one bin apart, and the last band centred on the top bin: push up from the
    # bottom, then pull down from the top
    for i in range(1, bands):
        centres[i] = max(centres[i], centres[i - 1] + 1)
    centres[-1] = bins - 1
    for i in range(bands - 2, -1, -1):
        centres[i] = min(centres[i], centres[i + 1] - 1)
    return centres


HIGH_BAND_HZ = 11025.0
"""Where the high bands of a full-band model start: the Nyquist frequency of the 22.05 kHz
models, whose band layout the full-band model keeps below it."""


def full_band_centres(bins: int, bands: int, full_resolution_bins: int, low_bins: int, high_bands: int) -> np.ndarray:
    """:func:`band_centres` of the lowest ``low_bins`` bins, then ``high_bands`` more centres
    spaced geometrically from there up to the top bin (few and wide: the bins above 11 kHz
    hold little of the music's structure)."""
    low = band_centres(low_bins, bands, full_resolution_bins)
    if high_bands == 0:
        return low
    if not low_bins < bins:
        raise ValueError(f"high_bands need bins above the low layout's {low_bins}")
    top = low[-1]
    high = top * ((bins - 1) / top) ** (np.arange(1, high_bands + 1) / high_bands)
    centres = np.concatenate([low, high])
    for i in range(bands, bands + high_bands):
        centres[i] = max(centres[i], centres[i - 1] + 1)
    centres[-1] = bins - 1
    if np.any(np.diff(centres) < 1):
        raise ValueError(f"{high_bands} high bands do not fit in the {bins - low_bins} bins above the low layout")
    return centres


def interpolation_matrix(bins: int, bands: int, full_resolution_bins: int, centres: np.ndarray | None = None) -> np.ndarray:
    """``(bands, bins)`` float32: column ``f`` interpolates bin ``f`` linearly between its
    two neighbouring band centres (every column sums to one). As it is, it expands band
    values to bins; normalised by rows, it pools bins into bands. ``centres``: the band
    centres, if not :func:`band_centres`'s (a full-band layout's)."""
    centres = band_centres(bins, bands, full_resolution_bins) if centres is None else centres
    bands = len(centres)
    matrix = np.zeros((bands, bins))
    for f in range(bins):
        upper = int(np.searchsorted(centres, f))
        if upper == 0 or centres[upper] == f:
            matrix[upper, f] = 1.0
            continue
        lower = upper - 1
        weight = (f - centres[lower]) / (centres[upper] - centres[lower])
        matrix[lower, f] = 1.0 - weight
        matrix[upper, f] = weight
    return matrix.astype(np.float32)


def hann_window(n_fft: int) -> np.ndarray:
    """The periodic Hann window, as ``torch.hann_window(n_fft)``."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def low_delay_windows(n_fft: int, hop: int, synthesis_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The analysis and synthesis windows of a low-delay STFT: a long analysis window whose
    last part is short, and a synthesis window that is zero but for the frame's last
    ``synthesis_samples`` (as low-delay filter banks have them), so that a frame's output
    reaches ``synthesis_samples`` back from its end, not ``n_fft``.

    The analysis window rises as a Hann window's first half over ``n_fft - taper`` samples and
    falls as a quarter cosine over the last ``taper = synthesis_samples - hop``. Their
    product, on the last ``synthesis_samples`` samples, rises as ``sin^2`` over ``taper``,
    stays at one over ``2 hop - synthesis_samples`` and falls as ``cos^2`` over ``taper``:
    its copies ``hop`` apart sum to one, so the overlap-add reconstructs the signal exactly.
    Needs ``hop < synthesis_samples <= min(2 hop, n_fft - hop)``. Returns ``(analysis,
    synthesis)``, each ``(n_fft,)``.
    """
    if not hop < synthesis_samples <= min(2 * hop, n_fft - hop):
        raise ValueError(f"synthesis_samples {synthesis_samples} must be above hop {hop} and at most 2 hop and n_fft - hop")
    taper = synthesis_samples - hop
    rise, fall = n_fft - taper, np.arange(taper) + 0.5
    analysis = np.concatenate([np.sin(0.5 * np.pi * (np.arange(rise) + 0.5) / rise) ** 2, np.cos(0.5 * np.pi * fall / taper)])
    product = np.ones(synthesis_samples)
    product[:taper] = np.sin(0.5 * np.pi * fall / taper) ** 2
    product[-taper:] = np.cos(0.5 * np.pi * fall / taper) ** 2
    synthesis = np.zeros(n_fft)
    synthesis[-synthesis_samples:] = product / analysis[-synthesis_samples:]
    return analysis, synthesis


class ConvSTFT(nn.Module):
    """The STFT and its inverse as fixed convolutions (the form used inside ONNX exports).

    Matches ``torch.stft(..., center=True, pad_mode="constant")`` and ``torch.istft`` with a
    periodic Hann window, for signals of ``length`` samples.
    """

    def __init__(self, n_fft: int, hop: int, length: int):
        super().__init__()
        self.n_fft, self.hop, self.length = n_fft, hop, length
        bins = n_fft // 2 + 1
        window = hann_window(n_fft)
        angle = 2 * np.pi * np.arange(bins)[:, None] * np.arange(n_fft)[None, :] / n_fft  # (bins, n_fft)
        analysis = np.concatenate([np.cos(angle), -np.sin(angle)]) * window  # real part, then imaginary
        # the inverse real FFT: 1/N (X_0 + X_{N/2} (-1)^n + 2 sum Re(X_k e^{2 pi i k n / N})), windowed again
        scale = np.full(bins, 2.0)
        scale[[0, -1]] = 1.0
        synthesis = np.concatenate([np.cos(angle), -np.sin(angle)]) * np.tile(scale, 2)[:, None] / n_fft * window
        self.register_buffer("analysis", torch.from_numpy(analysis.astype(np.float32)[:, None]), persistent=False)
        self.register_buffer("synthesis", torch.from_numpy(synthesis.astype(np.float32)[:, None]), persistent=False)
        envelope = np.zeros(length + n_fft)
        for t in range(length // hop + 1):
            envelope[t * hop : t * hop + n_fft] += window**2
        envelope = envelope[n_fft // 2 : n_fft // 2 + length]
        inverse = (1.0 / np.maximum(envelope, 1e-11)).astype(np.float32)
        self.register_buffer("inverse_envelope", torch.from_numpy(inverse), persistent=False)

    def forward(self, signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, length)`` -> real and imaginary parts, each ``(batch, bins, frames)``."""
        padded = nn.functional.pad(signal[:, None], (self.n_fft // 2, self.n_fft // 2))
        spectrum = nn.functional.conv1d(padded, self.analysis, stride=self.hop)
        real, imag = spectrum.chunk(2, dim=1)
        return real, imag

    def inverse(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """Real and imaginary parts ``(batch, bins, frames)`` -> ``(batch, length)``."""
        frames = nn.functional.conv_transpose1d(torch.cat([real, imag], dim=1), self.synthesis, stride=self.hop)
        start = self.n_fft // 2
        return frames[:, 0, start : start + self.length] * self.inverse_envelope


class BandConvolutions(nn.Module):
    """Convolutions along the band axis around the recurrent core: a U-Net over frequency.

    The dense layers of :class:`SpectralMaskNet` map every band to every feature, so what the
    network learns about one band it has to learn again for each. Here the log-magnitude
    bands go through convolutions with weights shared along frequency (and, with
    ``time_kernel`` > 1, over neighbouring frames), each after the first halving the bands;
    the smallest band grid is flattened into the recurrent core's input, and its output is
    expanded back through transposed convolutions that double the bands again, each joined
    to the encoder's features at its resolution (skips), to mask logits for every band.

    ``encode``: ``(batch, channels, frames, bands)`` -> features ``(batch, frames, hidden)``
    and the skips; ``decode``: ``(batch, frames, hidden)`` and the skips -> logits
    ``(batch, out_channels, frames, bands)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bands: int, channels: tuple[int, ...], hidden: int, time_kernel: int = 1):
        super().__init__()
        levels = len(channels)
        if bands % 2 ** (levels - 1) or time_kernel < 1 or time_kernel % 2 == 0:
            raise ValueError(f"bands {bands} must halve {levels - 1} times and time_kernel {time_kernel} must be odd")
        padding = (time_kernel // 2, 2)
        widths = (in_channels,) + tuple(channels)
        self.down = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], (time_kernel, 5), stride=(1, 1 if i == 0 else 2), padding=padding)
            for i in range(levels)
        )
        self.bottom_bands = bands // 2 ** (levels - 1)
        flat = channels[-1] * self.bottom_bands
        self.to_hidden = nn.Sequential(nn.Linear(flat, hidden), nn.LayerNorm(hidden), nn.Tanh())
        self.from_hidden = nn.Sequential(nn.Linear(hidden, flat), nn.ReLU())
        # level i + 1's decoder features joined to its encoder features, up to level i
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(2 * channels[i + 1], channels[i], (1, 4), stride=(1, 2), padding=(0, 1)) for i in reversed(range(levels - 1))
        )
        self.out = nn.Conv2d(2 * channels[0], out_channels, (1, 5), padding=(0, 2))

    def encode(self, bands: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        # channels last: the few channels of each (frame, band) together, the layout oneDNN's
        # CPU convolutions run fastest on (several times the default layout's speed, layer by
        # layer, on this project's CPU)
        x = bands.contiguous(memory_format=torch.channels_last)
        for conv in self.down:
            x = nn.functional.relu(conv(x))
            skips.append(x)
        batch, channels, frames, width = x.shape
        return self.to_hidden(x.permute(0, 2, 1, 3).reshape(batch, frames, channels * width)), skips

    def decode(self, features: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        batch, frames, _ = features.shape
        x = self.from_hidden(features).reshape(batch, frames, -1, self.bottom_bands).permute(0, 2, 1, 3)
        x = x.contiguous(memory_format=torch.channels_last)
        for up, skip in zip(self.up, reversed(skips[1:])):
            x = nn.functional.relu(up(torch.cat([x, skip], dim=1)))
        return self.out(torch.cat([x, skips[0]], dim=1))


class SpectralMaskNet(SeparationModel):
    """Soft spectrogram masks from a recurrent network over log-magnitude band features.

    ``forward(mixture)``: ``(batch, audio_channels, context_samples)`` ->
    ``(batch, len(sources), audio_channels, output_samples)``. The masks of all sources sum
    to one in every time-frequency bin; every source but the last is the inverse STFT of
    its masked spectrogram, and the last (the difference source) is the mixture minus the
    others, so the estimates sum to the mixture exactly.

    Args:
        sources: source names; the last is the difference source.
        sample_rate: the rate the model runs at.
        audio_channels: channels seen together (2: stereo, masks per channel).
        context_samples: input length, a multiple of ``hop``.
        n_fft, hop: STFT size and hop (Hann window).
        bands, full_resolution_bins: the band layout of the frequency axis (module docstring).
        hidden: width of the per-frame features and of the recurrent output.
        layers: recurrent layers (GRU).
        bidirectional: each GRU layer reads the frames both ways (``hidden / 2`` per
            direction); ``False`` makes the network causal over frames.
        output_start, output_samples: the output region within the context (default: all).
        dropout: in training, the probability of zeroing each of the recurrent layers'
            inputs and of the decoder's (a regulariser for little data; 0: none).
        frequency_channels: empty (the default): dense layers map the bands to the recurrent
            core's input and its output to the mask logits. Else the channels of
            :class:`BandConvolutions` at each level (the bands halve from the second on), a
            U-Net over frequency in their place.
        time_kernel: the frames each band convolution spans (odd; more than 1 only for a
            bidirectional model, since a causal one is run frame by frame).
        dense_too: with ``frequency_channels``, keep the dense layers beside the band
            convolutions: the recurrent core's input is the sum of both encoders' features,
            and the mask logits the sum of both decoders'.
        high_bands: above 11.025 kHz, this many more bands, spaced geometrically to the
            Nyquist frequency, for a model whose rate is above 22.05 kHz (0: ``bands`` span
            the whole range). ``bands`` and ``full_resolution_bins`` then lay out the bins
            below 11.025 kHz as a 22.05 kHz model's would, and the network's layers see those
            bands alone, as its would; the high bands' mask logits are the top low band's
            plus a correction from the decoded features and the high bands' own magnitudes
            (``high_logits``, zero at first: a 22.05 kHz model's weights load as they are, and
            its top band's masks continue upward). A full-band member of an ensemble.
        high_hidden: 0 (the default): the high bands' logits are the top low band's plus a
            linear correction, as above. Else they come from a network of their own: two
            layers with this many units between them (ReLU), which see the decoded features,
            the high bands' normalised log magnitudes and those log magnitudes as they are
            (the high band's level against the rest of the frame, which the normalisation
            takes out). Its last layer starts at zero: every high bin's masks start equal
            over the sources.
        magnitude_scale: the STFT magnitudes are multiplied by this before the network takes
            their logarithm: 0.5 at 44.1 kHz with twice a 22.05 kHz model's STFT size, so
            that its input is on the scale its weights learned.
        narrow_features: with ``high_bands``, ``True``: the low bands see what a 22.05 kHz
            model's saw. They pool the bins below 11.025 kHz alone (else the top one also
            pools the bins above, up to the first high band), and those magnitudes are
            multiplied, bin by bin, by the buffer ``feature_gain`` (``(bins,)``, ones at
            first, in the state dict) before the network takes them: :func:`full_band_of`
            sets it to the roll-off of the resampler through which a 22.05 kHz model's weights
            learned the bins just below 11.025 kHz. Only the network's input sees it, not the
            spectrogram the masks apply to.
        high_gain: 0 (the default): the high bands' masks are what the network gives them. Else
            the vocals' mask above 11.025 kHz is one gain per frame and channel from a
            :class:`~lightsep.models.high_gain.HighBandGain` with this many hidden units (the
            attribute ``high_gain_net``), which reads 41 numbers a frame (region energies of
            the mixture and of the vocal estimate, the stereo image, onsets; none where the two
            channels are the same): for a 2-stem stereo model with ``high_bands``, and only
            where the model separates a waveform (:meth:`forward`): the masks from magnitudes
            alone (:meth:`masks`, :meth:`direct_masks`) are without it.
        synthesis_samples: 0 (the default): Hann windows, frames centred as
            ``torch.stft(center=True)`` centres them. Else a causal model's low-delay frames
            (:func:`low_delay_windows`): the analysis window is long and skewed, the synthesis
            window spans the frame's last ``synthesis_samples``, and frame ``t`` covers the
            samples ``[(t + 1) hop - n_fft, (t + 1) hop)``; streamed frame by frame, the
            latency is ``synthesis_samples - 1`` samples instead of ``n_fft - 1``.
        members: empty (the default): one network, as the arguments above describe. Else an
            ensemble over the one STFT: each entry the network arguments of one member
            (any of ``MEMBER_ARGUMENTS``; the rest, the STFT, the geometry, the sources and
            ``bidirectional``, are this model's), and each bin's masks the mean of the
            members' (still summing to one). The network arguments above must then be left
            at their defaults. Members are trained apart and joined with
            :func:`ensemble_of`; only bidirectional models have them.
    """

    silence_gate = True
    crossfade_samples_22k = 6144
    """The overlap of consecutive segments, in samples at 22.05 kHz (0.28 s): a quarter of the
    1.11 s output the models were trained on. At that geometry (25% overlap) it was as good as
    50% on the validation clips (docs/architecture.md, "Geometry"); longer segments need no
    more of it."""
    CHUNK_VALUES = 2**20
    """The most mask values (segments x sources x channels x bins x frames) that
    :meth:`forward` makes at once (4 MiB of them): one 2.97 s segment of spectral-2stem, three
    of the 1.49 s segments it trains on. Every larger intermediate is given memory afresh by
    the C allocator on each call, every page of it faulted in, which cost more than the
    arithmetic on it (docs/architecture.md, "Memory per pass")."""

    def __init__(
        self,
        sources: tuple[str, ...] | list[str] = ("vocals", "accompaniment"),
        sample_rate: int = 22050,
        audio_channels: int = 2,
        context_samples: int = 32768,
        n_fft: int = 1024,
        hop: int = 256,
        bands: int = 256,
        full_resolution_bins: int = 128,
        hidden: int = 192,
        layers: int = 2,
        bidirectional: bool = True,
        output_start: int = 0,
        output_samples: int | None = None,
        dropout: float = 0.0,
        frequency_channels: tuple[int, ...] | list[int] = (),
        time_kernel: int = 1,
        dense_too: bool = False,
        high_bands: int = 0,
        magnitude_scale: float = 1.0,
        narrow_features: bool = False,
        high_hidden: int = 0,
        members: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
        synthesis_samples: int = 0,
        high_gain: int = 0,
    ):
        super().__init__()
        sources = tuple(sources)
        if len(sources) < 2:
            raise ValueError("a mask model separates at least two sources")
        if n_fft < 16 or n_fft % 2 or not 0 < hop <= n_fft // 2:
            raise ValueError(f"n_fft {n_fft} must be even and at least 16, hop {hop} in 1..n_fft/2")
        if context_samples % hop or context_samples < n_fft:
            raise ValueError(f"context_samples {context_samples} must be a multiple of hop {hop} and at least n_fft {n_fft}")
        if hidden < 2 or (bidirectional and hidden % 2) or layers < 1:
            raise ValueError(f"hidden {hidden} (even when bidirectional) and layers {layers} must be positive")
        output_samples = context_samples - output_start if output_samples is None else output_samples
        if output_start < 0 or output_samples < 1 or output_start + output_samples > context_samples:
            raise ValueError(f"output region [{output_start}, {output_start + output_samples}) is not within the context")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout {dropout} must be in [0, 1)")
        self.sources = sources
        self.sample_rate = sample_rate
        self.audio_channels = audio_channels
        self.context_samples = context_samples
        self.output_samples = output_samples
        self.output_start = output_start
        self.difference_source = sources[-1]
        self.n_fft, self.hop = n_fft, hop
        self.bins = n_fft // 2 + 1
        self.bands = bands
        self.config = dict(
            sources=list(sources), sample_rate=sample_rate, audio_channels=audio_channels, context_samples=context_samples,
            n_fft=n_fft, hop=hop, bands=bands, full_resolution_bins=full_resolution_bins, hidden=hidden, layers=layers,
            bidirectional=bidirectional, output_start=output_start, output_samples=output_samples,
        )  # fmt: skip
        if dropout:  # only when used, so the configurations of models without it stay as they were
            self.config["dropout"] = dropout
        if isinstance(high_bands, bool) or not isinstance(high_bands, int) or high_bands < 0:
            raise ValueError(f"high_bands {high_bands!r} must be 0 or a positive whole number")
        if not (isinstance(magnitude_scale, (int, float)) and 0 < magnitude_scale < 1e6):
            raise ValueError(f"magnitude_scale {magnitude_scale!r} must be a positive number")
        self.low_bins = self.bins
        if high_bands:
            if not bidirectional:
                raise ValueError("high_bands are for bidirectional models (a causal one spans the whole band with bands)")
            self.low_bins = int(HIGH_BAND_HZ * n_fft // sample_rate) + 1
            self.config["high_bands"] = high_bands
        if magnitude_scale != 1.0:
            self.config["magnitude_scale"] = float(magnitude_scale)
        if not isinstance(narrow_features, bool) or (narrow_features and not high_bands):
            raise ValueError(f"narrow_features {narrow_features!r} must be true or false (true only with high_bands)")
        if isinstance(high_hidden, bool) or not isinstance(high_hidden, int) or high_hidden < 0 or (high_hidden and not high_bands):
            raise ValueError(f"high_hidden {high_hidden!r} must be 0 or, with high_bands, a positive whole number")
        if high_hidden:
            self.config["high_hidden"] = high_hidden
        if narrow_features:
            self.config["narrow_features"] = True
        # an ensemble's members hold it
        self.register_buffer("feature_gain", torch.ones(self.bins) if narrow_features and not members else None)
        self.high_bands, self.high_hidden = high_bands, high_hidden
        self.total_bands = bands + high_bands
        self.magnitude_scale = float(magnitude_scale)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in frequency_channels):
            raise ValueError(f"frequency_channels {list(frequency_channels)} must be positive whole numbers")
        frequency_channels = tuple(frequency_channels)
        if frequency_channels:  # likewise
            self.config["frequency_channels"] = list(frequency_channels)
            self.config["time_kernel"] = time_kernel
            if time_kernel > 1 and not bidirectional:
                raise ValueError("a causal model's band convolutions see one frame (time_kernel 1)")
            if dense_too:
                self.config["dense_too"] = True
        elif time_kernel != 1 or dense_too:
            raise ValueError("time_kernel and dense_too are the band convolutions' (give frequency_channels)")
        if isinstance(synthesis_samples, bool) or not isinstance(synthesis_samples, int) or synthesis_samples < 0:
            raise ValueError(f"synthesis_samples {synthesis_samples!r} must be 0 or a positive whole number")
        if synthesis_samples:
            if bidirectional:
                raise ValueError("synthesis_samples (low-delay frames) are for causal models (bidirectional = false)")
            analysis, synthesis = low_delay_windows(n_fft, hop, synthesis_samples)
            self.config["synthesis_samples"] = synthesis_samples
            self.frame_lead = n_fft - hop  # frame t starts at t * hop - frame_lead
        else:
            analysis = synthesis = hann_window(n_fft)
            self.frame_lead = n_fft // 2
        self.synthesis_samples = synthesis_samples or n_fft
        self.register_buffer("window", torch.from_numpy(analysis.astype(np.float32)), persistent=False)
        self.register_buffer("synthesis_window", torch.from_numpy(synthesis.astype(np.float32)), persistent=False)
        if isinstance(high_gain, bool) or not isinstance(high_gain, int) or high_gain < 0:
            raise ValueError(f"high_gain {high_gain!r} must be 0 or a positive whole number")
        if high_gain and not (high_bands and len(sources) == 2 and audio_channels == 2):
            raise ValueError("high_gain is for 2-stem stereo models with high_bands")
        self.high_gain_net = HighBandGain(sample_rate, n_fft, high_gain) if high_gain else None
        if high_gain:
            self.config["high_gain"] = high_gain
        self.members = None
        if members:
            network = dict(bands=bands, full_resolution_bins=full_resolution_bins, hidden=hidden, layers=layers,
                           dropout=dropout, frequency_channels=frequency_channels, time_kernel=time_kernel, dense_too=dense_too)  # fmt: skip
            self._build_members(list(members), network)
            return
        centres = full_band_centres(self.bins, bands, full_resolution_bins, self.low_bins, high_bands)
        expand = interpolation_matrix(self.bins, bands, full_resolution_bins, centres)  # (total bands, bins)
        pooled = expand.copy()
        if narrow_features:  # each side of 11.025 kHz pools its own bins
            pooled[:bands, self.low_bins :] = 0.0
            pooled[bands:, : self.low_bins] = 0.0
        pool = (pooled / pooled.sum(axis=1, keepdims=True)).T  # (bins, bands)
        # expanding band values to bins: each bin from its two neighbouring bands (a sparse
        # form of ``expand``; the dense product would cost more than the rest of the network)
        lower = (expand > 0).argmax(axis=0)  # the first band with a weight in each column
        upper = np.minimum(lower + 1, self.total_bands - 1)
        self.register_buffer("expand_lower", torch.from_numpy(lower.astype(np.int64)), persistent=False)
        self.register_buffer("expand_upper", torch.from_numpy(upper.astype(np.int64)), persistent=False)
        lower_weight = expand[lower, np.arange(self.bins)]
        self.register_buffer("expand_weight", torch.from_numpy(lower_weight.astype(np.float32)), persistent=False)
        self.register_buffer("pool", torch.from_numpy(np.ascontiguousarray(pool)), persistent=False)
        # the same pooling as two scatter-adds: each bin goes to its two neighbouring bands
        # (``pool``'s two entries per row; the dense product reads a (bins, bands) matrix for
        # every frame, which is most of a streamed frame's memory traffic)
        pool_lower = pool[np.arange(self.bins), lower]
        pool_upper = np.where(upper != lower, pool[np.arange(self.bins), upper], 0.0)
        self.register_buffer("pool_lower", torch.from_numpy(pool_lower.astype(np.float32)), persistent=False)
        self.register_buffer("pool_upper", torch.from_numpy(pool_upper.astype(np.float32)), persistent=False)
        features = audio_channels * bands
        self.input_norm = nn.LayerNorm(features)
        dense = dense_too or not frequency_channels
        self.convolutions = None
        if frequency_channels:
            self.convolutions = BandConvolutions(audio_channels, len(sources) * audio_channels, bands, frequency_channels, hidden, time_kernel)
        self.encode = nn.Sequential(nn.Linear(features, hidden), nn.LayerNorm(hidden), nn.Tanh()) if dense else None
        self.dropout = nn.Dropout(dropout)
        self.recurrent = nn.GRU(
            hidden, hidden // 2 if bidirectional else hidden, num_layers=layers, batch_first=True,
            bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0,
        )  # fmt: skip
        self.decode = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.LayerNorm(hidden), nn.ReLU())
        self.mask_logits = nn.Linear(hidden, len(sources) * audio_channels * bands) if dense else None
        self.high_norm = self.high_logits = None
        if high_bands:
            self.high_norm = nn.LayerNorm(audio_channels * high_bands)
            inputs, outputs = hidden + audio_channels * high_bands, len(sources) * audio_channels * high_bands
            last = nn.Linear(high_hidden or inputs, outputs)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.high_logits = last
            if high_hidden:
                self.high_logits = nn.Sequential(nn.Linear(inputs + audio_channels * high_bands, high_hidden), nn.ReLU(), last)

    def _build_members(self, members: list[dict[str, Any]], network: dict[str, Any]) -> None:
        """The ensemble form (``members``): one network per entry, sharing this model's STFT,
        geometry and sources; ``network`` is this model's own network arguments, which must be
        their defaults."""
        defaults = {key: value.default for key, value in inspect.signature(SpectralMaskNet).parameters.items()}
        given = sorted(key for key, value in network.items() if value != defaults[key])
        if given:
            raise ValueError(f"a model with members takes its network arguments from them, not {', '.join(given)}")
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        if not self.config["bidirectional"]:
            raise ValueError("members are for bidirectional models (a causal one carries one recurrent state)")
        shared = {key: value for key, value in self.config.items() if key not in network and key != "high_gain"}  # the ensemble's
        built, arguments = [], []
        for index, member in enumerate(members):
            if not isinstance(member, dict):
                raise ValueError(f"member {index + 1} is not a table of network arguments")
            unknown = sorted(set(member) - set(MEMBER_ARGUMENTS))
            if unknown:
                raise ValueError(f"member {index + 1}: unknown network arguments {', '.join(map(str, unknown))}; known: {', '.join(MEMBER_ARGUMENTS)}")
            for key, value in member.items():
                wanted = _kind_wanted(value, defaults[key])
                if wanted:
                    raise ValueError(f"member {index + 1}: {key} {value!r} is not {wanted}")
            try:
                model = SpectralMaskNet(**shared, **member)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"member {index + 1}: {exc}") from None
            built.append(model)
            arguments.append(model.network_arguments())
        for key in network:
            self.config.pop(key, None)
        self.config["members"] = arguments
        self.members = nn.ModuleList(built)

    def network_arguments(self) -> dict[str, Any]:
        """This network's ``MEMBER_ARGUMENTS`` as its configuration holds them: what it is as a
        member of an ensemble."""
        return {key: self.config[key] for key in MEMBER_ARGUMENTS if key in self.config}

    @property
    def conv_stft(self) -> ConvSTFT:
        """The STFT as fixed convolutions, for ONNX exports; built on first use (its Fourier
        bases are 33 MB at 2048 points, which separating and training never read)."""
        cached = self.__dict__.get("_conv_stft")
        if cached is None or cached.length != self.context_samples:
            cached = ConvSTFT(self.n_fft, self.hop, self.context_samples).to(self.window.device)
            self.__dict__["_conv_stft"] = cached  # not a submodule: nothing of it is in a state dict
        return cached

    @property
    def default_overlap(self) -> float:
        """The fraction of a segment's output shared with the next: ``crossfade_samples_22k``
        at this model's rate (0.25 of a 1.11 s output, 0.107 of a 2.60 s one), at most 0.5."""
        crossfade = round(self.crossfade_samples_22k * self.sample_rate / 22050)
        return min(0.5, crossfade / self.output_samples)

    @property
    def output_offset(self) -> int:
        return self.output_start

    @property
    def frames(self) -> int:
        return self.context_samples // self.hop + 1

    def input_span(self, output_index: int) -> tuple[int, int]:
        # a recurrent network over the whole context: every output sample can depend on all
        # of it (a causal one on everything up to the end of the last frame that holds it).
        # The periodic Hann window is zero at its first sample, so frame t (centred on
        # t * hop) reaches the samples t * hop - n_fft / 2 + 1 to t * hop + n_fft / 2 - 1.
        # Low-delay frames: frame t's output reaches back synthesis_samples from its end,
        # (t + 1) * hop.
        if not self.config["bidirectional"]:
            sample = self.output_start + output_index
            if self.low_delay:
                last_frame = min((sample + self.synthesis_samples) // self.hop - 1, self.frames - 1)
                return 0, min((last_frame + 1) * self.hop - 1, self.context_samples - 1)
            last_frame = min((sample + self.n_fft // 2 - 1) // self.hop, self.frames - 1)
            return 0, min(last_frame * self.hop + self.n_fft // 2 - 1, self.context_samples - 1)
        return 0, self.context_samples - 1

    # -- the network -------------------------------------------------------------------------

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, bins, frames)`` magnitudes -> ``(batch, sources, channels,
        bins, frames)`` masks that sum to one over the sources."""
        return self.masks_and_state(magnitude)[0]

    def masks_and_state(self, magnitude: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`masks`, with the recurrent state carried in and out: ``state`` is the GRU's
        hidden state after the frames before these (``None``: zeros, the start of a signal),
        ``(layers * directions, batch, hidden per direction)``. A causal model separates a
        stream frame by frame this way (:class:`lightsep.frames.FrameEngine`) and gives what
        one call on all the frames gives. An ensemble's masks are its members' mean, with no
        state (``None``)."""
        if self.members is not None:
            if state is not None:
                raise ValueError("an ensemble has no recurrent state to carry (it is bidirectional)")
            return torch.stack([member.masks(magnitude) for member in self.members]).mean(dim=0), None
        logits, state = self._mask_logits(magnitude, state)  # (B, N, S, C, bands)
        if len(self.sources) == 2:
            # a softmax over two sources is the sigmoid of their difference, and expanding bands
            # to bins is linear: one expansion instead of two, the same masks up to rounding
            first = torch.sigmoid(self.expand_bands(logits[:, :, 0] - logits[:, :, 1]))  # (B, N, C, bins)
            masks = torch.stack([first, 1 - first], dim=2)
        else:
            masks = torch.softmax(self.expand_bands(logits), dim=2)  # (B, N, S, C, bins)
        return masks.permute(0, 2, 3, 4, 1), state

    def direct_masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The masks of every source but the last (the difference source), laid out as the
        spectrogram is: ``(batch, channels, bins, frames)`` magnitudes -> ``(batch,
        sources - 1, channels, bins, frames)``, contiguous. The same values as :meth:`masks`'s
        up to rounding, for less work: the logits are put in that layout while they are
        bands, before expanding to bins, and no mask is made for the last source."""
        if self.members is not None:
            return self.combine_masks([member.direct_masks(magnitude) for member in self.members])
        return self._direct_masks_of(self._mask_logits(magnitude)[0])

    def combine_masks(self, masks: list[torch.Tensor]) -> torch.Tensor:
        """An ensemble's masks from its members' (each ``(batch, sources - 1, channels, bins,
        frames)``): their mean, which still sums to one over the sources with the last."""
        return torch.stack(masks).mean(dim=0)

    def _direct_masks_of(self, logits: torch.Tensor) -> torch.Tensor:
        """:meth:`direct_masks` from mask logits ``(batch, frames, sources, channels, bands)``."""
        logits = logits.permute(0, 2, 3, 4, 1)  # (B, S, C, bands, N)
        if len(self.sources) == 2:
            return torch.sigmoid(self.expand_bands(logits[:, :1] - logits[:, 1:], dim=-2))
        return torch.softmax(self.expand_bands(logits, dim=-2), dim=1)[:, :-1]

    def _mask_logits(self, magnitude: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, channels, bins, frames)`` magnitudes -> mask logits ``(batch, frames,
        sources, channels, bands)`` and the GRU's state after the frames."""
        encoded, skips = self._encode(magnitude)
        recurrent, state = self.recurrent(self.dropout(encoded), state)
        return self._decode(encoded, recurrent, skips), state

    def _encode(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """The network up to its recurrent core: ``(batch, channels, bins, frames)``
        magnitudes -> the core's input ``(batch, frames, hidden)``, and the band convolutions'
        skips (``None`` without them). Each frame on its own (or with its neighbours, for
        ``time_kernel`` > 1) and each segment on its own."""
        return self._encode_features(self.band_features(magnitude))

    def band_features(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The network's input: ``(batch, channels, bins, frames)`` magnitudes -> the log
        magnitudes of the bands, ``(batch, frames, channels * bands)``. The same for every
        network with this band layout (``band_layout``)."""
        batch, channels, _, frames = magnitude.shape
        if self.feature_gain is not None:
            magnitude = magnitude * self.feature_gain[:, None]
        banded = self.pool_bands(magnitude.transpose(2, 3))  # (B, C, N, bands)
        if self.magnitude_scale != 1.0:
            banded = banded * self.magnitude_scale
        return torch.log(banded + 1e-4).permute(0, 2, 1, 3).reshape(batch, frames, channels * self.total_bands)

    @property
    def band_layout(self) -> tuple[int, int, int, float, bool]:
        """``bands``, ``full_resolution_bins``, ``high_bands``, ``magnitude_scale`` and whether
        the low bands are ``narrow_features``: what :meth:`band_features` depends on (an ensemble's members
        share the gain's values)."""
        layout = self.config["bands"], self.config["full_resolution_bins"], self.high_bands, self.magnitude_scale
        return (*layout, self.feature_gain is not None)

    def _encode_features(self, features: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """:meth:`_encode` from :meth:`band_features`."""
        batch, frames, _ = features.shape
        channels = self.audio_channels
        high = None
        if self.high_bands:  # the low bands go on as a 22.05 kHz model's; the high ones wait for the decoder
            split = features.reshape(batch, frames, channels, self.total_bands)
            high = split[..., self.bands :].reshape(batch, frames, channels * self.high_bands)
            high = torch.cat([self.high_norm(high), high], dim=-1) if self.high_hidden else self.high_norm(high)
            features = split[..., : self.bands].reshape(batch, frames, channels * self.bands)
        normalised = self.input_norm(features)  # (B, N, C * bands)
        encoded = self.encode(normalised) if self.encode is not None else 0  # (B, N, hidden)
        skips = None
        if self.convolutions is not None:
            image = normalised.reshape(batch, frames, channels, self.bands).transpose(1, 2)  # (B, C, N, bands)
            convolved, skips = self.convolutions.encode(image)
            encoded = encoded + convolved
        if high is not None:
            return encoded, (skips, high)
        return encoded, skips

    def _decode(self, encoded: torch.Tensor, recurrent: torch.Tensor, skips: list[torch.Tensor] | None) -> torch.Tensor:
        """The network after its recurrent core: its input and output, each ``(batch, frames,
        hidden)``, and :meth:`_encode`'s skips -> mask logits ``(batch, frames, sources,
        channels, bands)``."""
        batch, frames, _ = encoded.shape
        channels = self.audio_channels
        high = None
        if self.high_bands:
            skips, high = skips
        decoded = self.decode(self.dropout(torch.cat([encoded, recurrent], dim=-1)))
        shape = (batch, frames, len(self.sources), channels, self.bands)
        logits = self.mask_logits(decoded).reshape(shape) if self.mask_logits is not None else 0
        if self.convolutions is not None:
            convolved = self.convolutions.decode(decoded, skips)  # (B, S * C, N, bands)
            logits = logits + convolved.reshape(batch, len(self.sources), channels, frames, self.bands).permute(0, 3, 1, 2, 4)
        if high is not None:
            shape = (batch, frames, len(self.sources), channels, self.high_bands)
            high_logits = self.high_logits(torch.cat([decoded, high], dim=-1)).reshape(shape)
            if not self.high_hidden:  # a correction to the top low band's
                high_logits = logits[..., -1:] + high_logits
            logits = torch.cat([logits, high_logits], dim=-1)
        return logits

    @property
    def low_delay(self) -> bool:
        """Whether the frames are low-delay ones (``synthesis_samples``), not Hann frames."""
        return self.synthesis_samples < self.n_fft

    @property
    def causal(self) -> bool:
        """Whether each frame's masks depend only on it and the frames before (a one-way GRU)."""
        return not self.config["bidirectional"]

    def pool_bands(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., bins)`` -> ``(..., bands)``: each band the weighted mean of the bins that
        :meth:`expand_bands` interpolates from it (``pool``). ONNX exports keep the dense
        product (a matrix multiplication every runtime has)."""
        if torch.onnx.is_in_onnx_export():
            return torch.matmul(values, self.pool)
        out = values.new_zeros(values.shape[:-1] + (self.total_bands,))
        out.index_add_(-1, self.expand_lower, values * self.pool_lower)
        return out.index_add_(-1, self.expand_upper, values * self.pool_upper)

    def expand_bands(self, values: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Bands to bins along ``dim`` (negative; ``(..., bands)`` -> ``(..., bins)`` by
        default): each bin interpolated linearly between its two neighbouring bands (the
        interpolation matrix's two entries per column)."""
        lower = values.index_select(dim, self.expand_lower)
        upper = values.index_select(dim, self.expand_upper)
        weight = self.expand_weight.reshape((-1,) + (1,) * (-1 - dim))  # along dim
        return upper + (lower - upper) * weight

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        batch, channels, time = mixture.shape
        estimated = len(self.sources) - 1  # the last source is the difference
        start, length = self.output_start, self.output_samples
        if torch.onnx.is_in_onnx_export():  # real and imaginary parts: ONNX has no complex type
            if self.low_delay:
                raise ValueError("a model with low-delay frames is exported as its frame step (lightsep.frames.FrameStep)")
            shape = (batch * estimated * channels, -1, self.frames)
            real, imag = self.conv_stft(mixture.reshape(batch * channels, time))
            real, imag = real.reshape(batch, channels, self.bins, -1), imag.reshape(batch, channels, self.bins, -1)
            masks = self.direct_masks(torch.sqrt(real * real + imag * imag + 1e-12))  # (B, S-1, C, bins, N)
            if self.high_gain_net is not None:
                masks = self.with_high_gain(real, imag, masks)
            direct = self.conv_stft.inverse((masks * real[:, None]).reshape(shape), (masks * imag[:, None]).reshape(shape))
            direct = direct.reshape(batch, estimated, channels, time)[..., start : start + length]
        else:
            direct = self._separate_in_chunks(mixture)
        difference = mixture[:, None, :, start : start + length] - direct.sum(dim=1, keepdim=True)
        return torch.cat([direct, difference], dim=1)

    def with_high_gain(self, real: torch.Tensor, imag: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The vocal masks ``(batch, 1, 2, bins, frames)`` with every bin above 11.025 kHz
        set to ``high_gain_net``'s gain for its frame and channel, which it reads from the
        mixture's spectrogram (its real and imaginary parts, ``(batch, 2, bins, frames)``) and
        those masks."""
        gain = self.high_gain_net(real, imag, masks[:, 0])  # (B, C, N)
        high = gain[:, None, :, None, :].expand(-1, -1, -1, self.bins - self.low_bins, -1)
        return torch.cat([masks[..., : self.low_bins, :], high], dim=-2)

    def stft(self, signal: torch.Tensor) -> torch.Tensor:
        """``(n, time)`` -> the complex spectra ``(n, bins, time // hop + 1)`` of this model's
        frames: Hann windows centred on ``t * hop``, or the low-delay frames
        (``synthesis_samples``), zeros outside the signal."""
        if not self.low_delay:
            return torch.stft(signal, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant", return_complex=True)
        time = signal.shape[-1]
        after = (time // self.hop) * self.hop - self.frame_lead + self.n_fft - time
        padded = nn.functional.pad(signal, (self.frame_lead, after))
        return torch.stft(padded, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)

    def istft(self, spectrum: torch.Tensor, length: int) -> torch.Tensor:
        """The inverse of :meth:`stft`: ``(n, bins, frames)`` -> ``(n, length)``, each frame
        inverse-transformed, weighted by the synthesis window, overlap-added and divided by
        the summed products of the two windows (``torch.istft`` for the Hann frames)."""
        if not self.low_delay:
            return torch.istft(spectrum, self.n_fft, self.hop, window=self.window, center=True, length=length)
        frames = spectrum.shape[-1]
        total = (frames - 1) * self.hop + self.n_fft
        pieces = torch.fft.irfft(spectrum, n=self.n_fft, dim=-2) * self.synthesis_window[:, None]  # (n, n_fft, frames)
        fold = dict(output_size=(1, total), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        summed = nn.functional.fold(pieces, **fold)[:, 0, 0]
        weights = (self.window * self.synthesis_window)[None, :, None].expand(1, self.n_fft, frames)
        envelope = nn.functional.fold(weights, **fold)[0, 0, 0]
        start = self.frame_lead
        envelope = envelope[start : start + length]
        return summed[:, start : start + length] / torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope))

    def _separate_in_chunks(self, mixture: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, context_samples)`` -> the estimated sources but the last,
        ``(batch, sources - 1, channels, output_samples)``. The STFT, the band pooling,
        the work on each frame before and after the recurrent core, the masks and the inverse
        STFT run on a few segments at a time (``CHUNK_VALUES``); the recurrent core, which
        steps through the frames one at a time, on the whole batch at once, so that its
        steps are few. Each segment's result is what separating it alone gives."""
        batch, channels, time = mixture.shape
        networks = list(self.members) if self.members is not None else [self]
        per_chunk = max(1, self.CHUNK_VALUES // (len(self.sources) * channels * self.bins * self.frames))
        starts = range(0, batch, per_chunk)
        spectra, encodings = [], [[] for _ in networks]
        for start in starts:
            piece = mixture[start : start + per_chunk]
            spectrum = self.stft(piece.reshape(-1, time))
            spectrum = spectrum.reshape(len(piece), 1, channels, self.bins, -1)
            spectra.append(spectrum)
            # the magnitudes from the bins as pairs of reals (contiguous, unlike .real)
            squares = torch.view_as_real(spectrum).square()
            magnitude = (squares[..., 0] + squares[..., 1]).add_(1e-12).sqrt_()[:, 0]
            by_layout = {}  # the band features: members with the same band layout share them
            for network, encoded in zip(networks, encodings):
                if network.band_layout not in by_layout:
                    by_layout[network.band_layout] = network.band_features(magnitude)
                encoded.append(network._encode_features(by_layout[network.band_layout]))
        recurrent = [
            network.recurrent(network.dropout(torch.cat([inputs for inputs, _ in encoded])))[0]
            for network, encoded in zip(networks, encodings)
        ]  # fmt: skip
        estimated = len(self.sources) - 1
        direct = []
        for index, (start, spectrum) in enumerate(zip(starts, spectra)):
            count = spectrum.shape[0]
            masks = []
            for network, encoded, outputs in zip(networks, encodings, recurrent):
                features, skips = encoded[index]
                masks.append(network._direct_masks_of(network._decode(features, outputs[start : start + count], skips)))
            masks = masks[0] if self.members is None else self.combine_masks(masks)  # (b, S-1, C, bins, N)
            if self.high_gain_net is not None:
                parts = torch.view_as_real(spectrum[:, 0])
                masks = self.with_high_gain(parts[..., 0], parts[..., 1], masks)
            # real masks times complex bins, as pairs of reals: the same products, without
            # first making the masks complex
            masked = torch.view_as_complex(torch.view_as_real(spectrum) * masks[..., None])
            waveforms = self.istft(masked.reshape(count * estimated * channels, -1, self.frames), time)
            direct.append(waveforms.reshape(count, estimated, channels, time)[..., self.output_start : self.output_start + self.output_samples])
        return torch.cat(direct)


def resampler_response(rate: int, narrow_rate: int, n_fft: int, quality: str = "HQ", seconds: float = 120.0) -> np.ndarray:
    """The magnitude response of soxr's ``quality`` resampler from ``rate`` down to
    ``narrow_rate`` at the ``n_fft // 2 + 1`` bins of an ``n_fft``-point STFT at
    ``narrow_rate``: the output's mean power spectrum over the input's, square-rooted, measured
    on ``seconds`` of seeded white noise (deterministic; about 1% from the exact response)."""
    import soxr  # noqa: PLC0415 (only full_band_of needs it)

    ratio = rate / narrow_rate
    noise = np.random.default_rng(0).standard_normal(int(seconds * rate))
    narrow = soxr.resample(noise, rate, narrow_rate, quality)

    def power(signal: np.ndarray, size: int) -> np.ndarray:
        window = torch.hann_window(size, dtype=torch.float64)
        spectrum = torch.stft(torch.from_numpy(signal), size, size // 4, window=window, center=False, return_complex=True)
        return spectrum.abs().square().mean(dim=-1).numpy() / float(window.square().sum())

    bins = n_fft // 2 + 1
    wide = power(noise, round(n_fft * ratio))[:bins] / ratio  # the same bins in Hz; white noise per Hz
    return np.sqrt(power(narrow, n_fft) / wide)


def full_band_of(
    model: SpectralMaskNet,
    high_bands: int = 16,
    sample_rate: int = 44100,
    resample_quality: str = "HQ",
    narrow_features: bool = True,
    high_gain: int = 0,
) -> SpectralMaskNet:
    """A 22.05 kHz spectrogram-mask model (or ensemble) at ``sample_rate`` over the whole
    band, with its weights: the STFT, hop and segments scaled to the new rate (the same
    windows and frames in seconds, so the same bins below 11.025 kHz), ``high_bands`` bands
    above, whose corrections start at zero (the masks above 11 kHz continue its top band's),
    the magnitudes scaled back to the scale its weights learned, and its network's input
    given the roll-off of the ``resample_quality`` resampler through which it learned the
    bins just below 11.025 kHz (``narrow_features``): below 11.025 kHz it separates as the
    model did behind that resampler. ``narrow_features=False``: the low bands as the bins
    fall, the top one pooling above 11.025 kHz too (the first full-band experiments').
    ``high_gain``: the hidden units of a high-band gain (``SpectralMaskNet``'s argument; its
    weights untrained, to be loaded)."""
    ratio = sample_rate / model.sample_rate
    if ratio != int(ratio) or ratio < 2 or model.config.get("high_bands") or model.causal:
        raise ValueError("full_band_of takes a bidirectional model at a rate that divides sample_rate by 2 or more")
    ratio = int(ratio)
    config = dict(model.config)
    for key in ("n_fft", "hop", "context_samples", "output_start", "output_samples"):
        config[key] = config[key] * ratio
    config.update(sample_rate=sample_rate, high_bands=high_bands, narrow_features=narrow_features,
                  magnitude_scale=config.get("magnitude_scale", 1.0) / ratio)  # fmt: skip
    if high_gain:
        config["high_gain"] = high_gain
    wide = SpectralMaskNet(**config)
    missing, unexpected = wide.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(".high_" not in f".{key}" and not key.endswith("feature_gain") for key in missing):
        raise ValueError(f"the weights do not carry over: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if narrow_features:
        response = resampler_response(sample_rate, model.sample_rate, model.n_fft, resample_quality)
        with torch.no_grad():
            for network in wide.members if wide.members is not None else [wide]:
                network.feature_gain[: len(response)] = torch.from_numpy(response.astype(np.float32))
    wide.name = getattr(model, "name", "spectral")
    return wide.eval()


def _kind_wanted(value: Any, default: Any) -> str | None:
    """What ``value`` should be to be of ``default``'s kind (a whole number for an int, any
    number for a float, true or false for a bool, a list for a tuple), or ``None`` if it is."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(value, bool):
        return "a whole number" if isinstance(default, int) else "a number" if isinstance(default, float) else "a list"
    if isinstance(default, int):
        return None if isinstance(value, int) else "a whole number"
    if isinstance(default, float):
        return None if isinstance(value, (int, float)) else "a number"
    return None if isinstance(value, (list, tuple)) else "a list"


ENSEMBLE_SHARED_ARGUMENTS = ("sources", "sample_rate", "audio_channels", "n_fft", "hop", "bidirectional")
"""What the models joined by :func:`ensemble_of` must have in common."""


def ensemble_of(models: list[SpectralMaskNet] | tuple[SpectralMaskNet, ...], name: str | None = None) -> SpectralMaskNet:
    """One model whose masks are the mean of ``models``' masks (``members``), with their
    weights: what averaging their stems gives, for one STFT and one pass of the mixture.

    ``models``: at least two :class:`SpectralMaskNet` with the same
    ``ENSEMBLE_SHARED_ARGUMENTS``; an ensemble among them adds its members. The result has
    the first model's geometry, and its name unless ``name`` is given (a preset's, say, to
    bundle it as that model)."""
    if len(models) < 2:
        raise ValueError("an ensemble needs at least two models")
    first = models[0]
    networks: list[SpectralMaskNet] = []
    for index, model in enumerate(models):
        if not isinstance(model, SpectralMaskNet):
            raise ValueError(f"model {index + 1} is a {type(model).__name__}, not a spectrogram-mask model")
        differing = [key for key in ENSEMBLE_SHARED_ARGUMENTS if model.config.get(key) != first.config.get(key)]
        if differing:
            raise ValueError(f"model {index + 1} differs from the first in {', '.join(differing)}; an ensemble shares them")
        networks.extend(model.members if model.members is not None else [model])
    shared = {key: value for key, value in first.config.items() if key not in MEMBER_ARGUMENTS and key != "members"}
    ensemble = SpectralMaskNet(**shared, members=[network.network_arguments() for network in networks])
    for built, network in zip(ensemble.members, networks):
        built.load_state_dict(network.state_dict())
    ensemble.name = name or first.name
    return ensemble.eval()
