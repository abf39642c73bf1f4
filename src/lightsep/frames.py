"""Frame-by-frame separation with a causal spectrogram-mask model, for live streaming.

A causal :class:`~lightsep.models.spectral.SpectralMaskNet` (one-way GRU) needs no window of
context recomputed per block: :class:`FrameEngine` keeps its state instead. Each STFT frame
(``n_fft`` samples, ``hop`` apart, placed as the model's :meth:`~SpectralMaskNet.stft` places
them) is transformed once, the network advances its recurrent state by that frame, and the
masked frame is inverse-transformed, weighted by the synthesis window and overlap-added into
the output, normalised by the summed products of the two windows of the frames that reached
each sample (what ``torch.istft`` does with Hann windows). A sample is final once no later
frame's synthesis window reaches it, ``synthesis_samples - 1`` samples after it arrived
(``n_fft - 1`` for Hann frames, whose synthesis window is the whole frame): that is the
engine's whole latency.

The result is the model's own ``forward`` over the whole signal at once (the same frames,
the same recurrent state from zeros at the start), up to float rounding, however the input is
cut into blocks (``tests/test_frames.py``). It has :class:`~lightsep.apply.OverlapAdd`'s
interface (``push``, ``flush``, ``latency``, ``warm_up``), so
:class:`~lightsep.separator.SeparationStream` runs it in its place, offline and streaming
alike.
"""

from __future__ import annotations

import numpy as np
import torch

from .apply import BlockInput
from .models.base import SeparationModel
from .models.spectral import SpectralMaskNet


def frame_streamed(model: SeparationModel) -> bool:
    """Whether ``model`` separates frame by frame, carrying its state (a causal
    spectrogram-mask model), rather than over overlapping segments."""
    return bool(getattr(model, "causal", False))


MAX_FRAMES_PER_CALL = 256
"""Frames per network call when many are ready at once (offline): bounds memory."""


def state_shape(model: SpectralMaskNet) -> tuple[int, int, int]:
    """The recurrent state a causal model's frame step carries: ``(layers, 1, hidden)``."""
    return model.config["layers"], 1, model.config["hidden"]


class FrameStep(torch.nn.Module):
    """The network of a causal :class:`SpectralMaskNet` over some frames, state in and out:
    what :class:`FrameEngine` calls, and what the ONNX export of such a model holds
    (:func:`lightsep.export.export_onnx`; ``web/lightsep.js`` runs it).

    ``forward(magnitude, state)``: ``(1, audio_channels, bins, frames)`` STFT magnitudes
    (``sqrt(re^2 + im^2 + 1e-12)`` of ``n_fft``-sample frames weighted by the model's analysis
    window, ``model.window``) and the GRU
    state ``(layers, 1, hidden)`` after the frames before (zeros at the start:
    :meth:`initial_state`) -> the direct sources' masks ``(1, sources - 1, audio_channels,
    bins, frames)`` and the state after these frames.
    """

    def __init__(self, model: SpectralMaskNet):
        super().__init__()
        if not getattr(model, "causal", False):
            raise ValueError("frame-by-frame separation needs a causal model (a one-way GRU)")
        self.model = model

    def initial_state(self) -> torch.Tensor:
        """The state at the start of a signal: zeros, :func:`state_shape`."""
        return torch.zeros(state_shape(self.model), device=self.model.window.device)

    def forward(self, magnitude: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masks, state = self.model.masks_and_state(magnitude, state)
        return masks[:, :-1], state


class OnnxFrameStep:
    """:class:`FrameStep` run by ONNX Runtime on the model's export (``session``, from
    :func:`lightsep.export.onnx_session`): the same function, with a fraction of PyTorch's
    cost per call on one frame, which is what streaming runs."""

    def __init__(self, session, model: SpectralMaskNet):
        self.session, self.model = session, model

    def initial_state(self) -> torch.Tensor:
        return torch.zeros(state_shape(self.model))

    def __call__(self, magnitude: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masks, state = self.session.run(None, {"magnitude": magnitude.cpu().numpy(), "state": state.cpu().numpy()})
        return torch.from_numpy(masks), torch.from_numpy(state)


class FrameEngine(BlockInput):
    """Incremental separation of ``(channels, n)`` blocks at the model's rate.

    Args:
        model: a causal :class:`SpectralMaskNet` (in eval mode).
        channels: the signal's channels (the model's own count).
        device: where the network runs.
        step: what runs the network (:class:`FrameStep` of ``model`` by default, or an
            :class:`OnnxFrameStep`).
        difference: output the difference source (the last) too, as the mixture minus the
            others; ``False``: the others only.
    """

    def __init__(self, model: SpectralMaskNet, channels: int, device: torch.device | str = "cpu", step=None, difference: bool = True):
        self.step = FrameStep(model) if step is None else step
        self.difference = difference
        self.model, self.channels, self.device = model, channels, torch.device(device)
        self.sources = len(model.sources)
        self.n_fft, self.hop = model.n_fft, model.hop
        self.lead = model.frame_lead  # frame j covers samples [j*hop - lead, j*hop - lead + n_fft)
        self.synthesis_samples = model.synthesis_samples  # the frame's last samples its output reaches
        self.synthesis = model.synthesis_window.detach().cpu().numpy().astype(np.float64)
        self.weights = model.window.detach().cpu().numpy().astype(np.float64) * self.synthesis  # summed: the envelope
        self._window = model.window.detach().cpu().numpy().astype(np.float32)
        self._input = np.zeros((channels, 0), np.float32)  # samples [input_start, ...)
        self._input_start = 0
        self._received = 0
        self._next_frame = 0
        self._state = self.step.initial_state().to(self.device)
        # output accumulators cover samples [emitted, emitted + length)
        self._sum = np.zeros((self.sources - 1, channels, 0))
        self._envelope = np.zeros(0)
        self._emitted = 0
        self._finished = False

    @property
    def latency(self) -> int:
        """Samples between an input sample's arrival and its output: the synthesis window's
        length less one (the whole frame's for Hann frames)."""
        return self.synthesis_samples - 1

    # -- public -------------------------------------------------------------------------------

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``(channels, n)`` samples; return the ``(sources, channels, m)`` samples now final."""
        self._accept(block)
        reach = self.n_fft - self.lead  # frame j is complete once j*hop + reach samples are in
        ready = (self._received - reach) // self.hop + 1 if self._received >= reach else 0
        self._frames(ready)
        return self._emit(self._next_frame * self.hop + reach - self.synthesis_samples)

    def flush(self) -> np.ndarray:
        """Finish the signal (zeros after its end, as ``torch.stft`` pads); return the rest."""
        if self._finished:
            return np.zeros((self.sources, self.channels, 0), np.float32)
        self._finished = True
        if self._received:
            self._frames(self._received // self.hop + 1)  # torch.stft(center=True)'s frame count
        return self._emit(self._received)

    def warm_up(self, passes: int) -> None:
        """Run the network ``passes`` times on one frame of silence; the state is not touched."""
        silence = torch.zeros(1, self.channels, self.n_fft // 2 + 1, 1, device=self.device)
        with torch.inference_mode():
            for _ in range(passes):
                self.step(silence, self._state)

    # -- internals ----------------------------------------------------------------------------

    def _frames(self, until: int) -> None:
        """Compute frames ``[next_frame, until)`` in calls of at most MAX_FRAMES_PER_CALL."""
        while self._next_frame < until:
            count = min(until - self._next_frame, MAX_FRAMES_PER_CALL)
            self._compute(self._next_frame, count)
            self._next_frame += count
            self._drop_consumed_input()

    def _segment(self, start: int) -> np.ndarray:
        """Input samples ``[start, start + n_fft)``, zeros outside the signal."""
        out = np.zeros((self.channels, self.n_fft), np.float32)
        lo = max(start, self._input_start)
        hi = min(start + self.n_fft, self._input_start + self._input.shape[1])
        if hi > lo:
            out[:, lo - start : hi - start] = self._input[:, lo - self._input_start : hi - self._input_start]
        return out

    def _compute(self, first: int, count: int) -> None:
        starts = [(first + k) * self.hop - self.lead for k in range(count)]
        frames = np.stack([self._segment(s) for s in starts], axis=-1)  # (C, n_fft, N)
        # the transforms in numpy (single precision, as torch's): on one frame, torch's cost per
        # call is most of theirs; the network wherever it runs
        spectrum = np.fft.rfft(frames * self._window[None, :, None], axis=1)  # (C, bins, N), complex64
        magnitude = np.sqrt(spectrum.real * spectrum.real + spectrum.imag * spectrum.imag + np.float32(1e-12))
        with torch.inference_mode():
            masks, self._state = self.step(torch.from_numpy(magnitude[None]).to(self.device), self._state)
        masks = masks[0].cpu().numpy()  # (S-1, C, bins, N)
        skip = self.n_fft - self.synthesis_samples  # where the synthesis window is zero: nothing to add
        support = self.synthesis_samples
        estimates = np.fft.irfft(masks * spectrum[None], n=self.n_fft, axis=2)[:, :, skip:]  # (S-1, C, support, N)
        estimates = estimates.astype(np.float64) * self.synthesis[None, None, skip:, None]
        end = starts[-1] + self.n_fft
        self._grow(end)
        for k, start in enumerate(starts):
            a = start + skip - self._emitted
            lo = max(0, -a)  # the part before sample 0 (the first frames' padding) is never output
            if lo >= support:
                continue
            self._sum[..., a + lo : a + support] += estimates[:, :, lo:, k]
            self._envelope[a + lo : a + support] += self.weights[skip + lo :]

    def _grow(self, end: int) -> None:
        missing = end - self._emitted - self._envelope.shape[0]
        if missing > 0:
            self._sum = np.concatenate([self._sum, np.zeros(self._sum.shape[:2] + (missing,))], axis=2)
            self._envelope = np.concatenate([self._envelope, np.zeros(missing)])

    def _emit(self, until: int) -> np.ndarray:
        until = min(until, self._received)
        n = max(0, until - self._emitted)
        out = np.zeros((self.sources - (not self.difference), self.channels, n), np.float32)
        if n:
            envelope = self._envelope[:n]
            direct = self._sum[..., :n] / np.where(envelope > 1e-11, envelope, 1.0)
            out[: self.sources - 1] = direct
            if self.difference:
                out[-1] = self._stretch(self._emitted, n) - direct.sum(axis=0)
            self._sum, self._envelope = self._sum[..., n:], self._envelope[n:]
            self._emitted += n
        return out

    def _stretch(self, start: int, length: int) -> np.ndarray:
        """Input samples ``[start, start + length)`` (kept until emitted)."""
        lo = start - self._input_start
        return self._input[:, lo : lo + length].astype(np.float64)

    def _drop_consumed_input(self) -> None:
        # keep what the next frame reads and what is not yet emitted (for the difference stem)
        keep_from = min(self._next_frame * self.hop - self.lead, self._emitted)
        drop = min(max(0, keep_from - self._input_start), self._input.shape[1])
        if drop:
            self._input = self._input[:, drop:]
            self._input_start += drop

