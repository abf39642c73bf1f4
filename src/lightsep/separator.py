"""Separating audio: the Python API behind ``lightsep separate`` and ``lightsep stream``.

One pipeline serves offline, file and streaming separation alike: soxr's streaming resampler
to the model's rate, :class:`lightsep.apply.OverlapAdd` over the model, and a resampler back
to the input's rate. Both the resampler and the overlap-add give the same output however
the input is cut into blocks, so offline separation is exactly streaming separation fed
one block.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import soxr
import torch

from .apply import OverlapAdd
from .audio import convert_channels
from .bounds import MAX_SEPARATION_BATCH, MAX_THREADS, check_count
from .checkpoint import load_checkpoint
from .defaults import SEPARATE_MODEL
from .errors import LightsepError
from .frames import frame_streamed
from .gate import SilenceGate
from .models.base import SeparationModel
from .models.fast import fast_inference_form
from .models.registry import PRESETS, build_model

BACKENDS = ("torch", "onnx", "onnx-int8")



def streaming_backend() -> str:
    """The backend ``lightsep stream`` runs by default: ONNX Runtime when it is installed
    (on one segment of the streaming model at a time, one thread, it is faster than PyTorch's
    fastest form, whose cost per operator dominates at that size: ``benchmarks/streaming.py
    --backends torch onnx``), else torch."""
    import importlib.util

    return "onnx" if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx") else "torch"


RESAMPLE_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
"""soxr's qualities. HQ (the default) is transparent in the model's band. LQ is what
``lightsep stream`` uses: its filter ends its passband near 8 kHz at 22.05 kHz, but it
holds back about half as much audio (44 ms instead of 84 ms between 44.1 kHz and 22.05 kHz
and back) and hands its output on in even pieces, so that no block has to run the model
twice (``docs/separation.md``, "Streaming")."""


MAX_OVERLAP = 0.95
"""The most overlap separation accepts: each segment then advances by a twentieth of its
output, 20 times the work of no overlap (more would only multiply the work)."""

MAX_CHANNELS = 64
"""The most audio channels separation accepts."""

STREAM_RATES = (1000, 384000)
"""The sample rates (Hz) separation accepts for its input: beyond them a resampler's state,
and the time to set it up, grow with no use."""

DEFAULT_SILENCE_FLOOR_DB = -90.0
"""The silence gate's default floor (:mod:`lightsep.gate`); the browser app applies it too."""

SILENCE_GATE_RANGE_DB = 30.0
"""The gate opens fully this far above its floor."""


def silence_floor(model: SeparationModel, floor_db: float | None = DEFAULT_SILENCE_FLOOR_DB) -> float | None:
    """The silence gate's floor for ``model``: None (no gate) for a model that opts out
    (``silence_gate = False``, such as the mixture reference)."""
    return floor_db if getattr(model, "silence_gate", True) else None


class UntrainedModelError(LightsepError):
    """A model name with no bundled weights, where random weights were not asked for."""


UNTRAINED_OK = ("tiny", "mixture")
"""Presets that are what they are without training: a test fixture and the mixture floor."""


def names_a_checkpoint(text: str) -> bool:
    """Whether a model argument that is not a model name is taken as a checkpoint file: it
    exists, or it ends in ``.pt``/``.pth`` (so a missing one is named as a missing file)."""
    if not text.strip():  # Path("") is the current folder: an empty name names nothing
        return False
    path = Path(text)
    return path.exists() or path.suffix in (".pt", ".pth")


def resolve_model(
    model: str | os.PathLike | SeparationModel, device: str | torch.device = "cpu", random_weights: bool = False
) -> SeparationModel:
    """A model from a name, a checkpoint path or a model instance (in eval mode).

    A name loads the bundled pretrained weights when lightsep ships them. A name without
    them is refused (:class:`UntrainedModelError`) unless ``random_weights``: the model is
    then built with random weights, for timing and tests only (``tiny`` and ``mixture`` are
    always built).
    """
    if isinstance(model, SeparationModel):
        return model.to(device).eval()
    if not isinstance(model, (str, os.PathLike)):
        raise LightsepError(f"model: a name, a checkpoint path or a model, not {type(model).__name__} {model!r:.40}")
    text = os.fspath(model)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text in PRESETS:
        from .pretrained import PEER_MODELS, peer_checkpoint_path, pretrained_checkpoint

        path = pretrained_checkpoint(text)
        if path is None and text in PEER_MODELS and peer_checkpoint_path(text).exists():
            path = peer_checkpoint_path(text)
        if path is not None:
            return load_checkpoint(path, device)
        if text in PEER_MODELS and not random_weights:
            raise UntrainedModelError(f"{text} is a peer whose weights are converted on this machine: "
                                      f"run `lightsep get {text}` first")  # fmt: skip
        if not random_weights and text not in UNTRAINED_OK:
            raise UntrainedModelError(
                f"{text} has no trained weights (none are bundled): give a checkpoint of it (lightsep train makes one), "
                "or ask for random weights (--random-weights; Separator(random_weights=True)) to time it"
            )
        with torch.random.fork_rng(devices=[]):  # the same random weights every time: one ONNX cache entry, not one a run
            torch.manual_seed(0)
            model = build_model(text)
        return model.to(device).eval()
    if names_a_checkpoint(text):
        return load_checkpoint(text, device)
    from .pretrained import unknown_model_error

    raise unknown_model_error(text)


class Separator:
    """Separates audio with one model, built once and reused.

    Args:
        model: a model name (``lightsep info`` lists them), a checkpoint path, or a model.
        device: ``"cpu"`` or ``"cuda"`` (torch backend).
        overlap: fraction of each segment shared with the next (default: the model's
            ``default_overlap``, 0.5, or 0.25 for the spectral models).
        backend: ``"torch"``, ``"onnx"`` (ONNX Runtime on an export of the same model) or
            ``"onnx-int8"`` (the export with int8 weights).
        batch_size: segments per forward pass (default: the model's
            ``default_batch_size``, 16, or 1 for the Spleeter port; with overlapping segments
            that share work, larger groups share more: see ``docs/separation.md``).
        threads: intra-op threads for the backend (default: its own default).
        nan_to_zero: replace NaN and infinite input samples with silence instead of refusing
            the input (:class:`InvalidAudioError`, naming the first bad sample's time).
        silence_floor_db: input peak level (dBFS) at and below which the estimated stems are
            silent (:class:`~lightsep.gate.SilenceGate`; it opens fully 30 dB higher). ``None``
            turns the gate off.
        optimized: with the torch backend on the CPU, run a :class:`LightSepNet` in its
            channels-last inference form (:class:`~lightsep.models.fast.FastLightSepNet`:
            the same function, computed faster, overlapping segments sharing the work they
            have in common; outputs agree to about 1e-6). ``False``
            runs the model's own ``forward``.
        random_weights: separate with a model name that has no bundled weights, randomly
            initialised, instead of refusing it (for benchmarks: the stems are noise).
        resample_quality: soxr's quality (:data:`RESAMPLE_QUALITIES`) for the resamplers
            to and from the model's rate.
    """

    def __init__(
        self,
        model: str | os.PathLike | SeparationModel = SEPARATE_MODEL,
        device: str | torch.device = "cpu",
        overlap: float | None = None,
        backend: str = "torch",
        batch_size: int | None = None,
        threads: int | None = None,
        optimized: bool = True,
        nan_to_zero: bool = False,
        silence_floor_db: float | None = DEFAULT_SILENCE_FLOOR_DB,
        random_weights: bool = False,
        resample_quality: str = "HQ",
    ):
        if backend not in BACKENDS:
            raise LightsepError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if resample_quality not in RESAMPLE_QUALITIES:
            raise LightsepError(f"unknown resampling quality {resample_quality!r}; choose one of {', '.join(RESAMPLE_QUALITIES)}")
        if overlap is not None and (isinstance(overlap, bool) or not isinstance(overlap, numbers.Real)
                                    or not 0.0 <= float(overlap) <= MAX_OVERLAP):  # fmt: skip
            raise LightsepError(f"overlap must be a number in [0, {MAX_OVERLAP}], got {overlap!r}")
        if batch_size is not None:
            batch_size = check_count(batch_size, "batch_size", MAX_SEPARATION_BATCH)
        if threads is not None:
            threads = check_count(threads, "threads", MAX_THREADS)
        if silence_floor_db is not None and (isinstance(silence_floor_db, bool) or not isinstance(silence_floor_db, numbers.Real)
                                             or not -400 <= float(silence_floor_db) <= 0):  # fmt: skip
            raise LightsepError(f"silence_floor_db must be a level in dBFS from -400 to 0 (or None: no gate), got {silence_floor_db!r}")
        silence_floor_db = None if silence_floor_db is None else float(silence_floor_db)
        overlap = None if overlap is None else float(overlap)
        device = check_device(device)
        self.model = resolve_model(model, device, random_weights)
        self.device = torch.device(device)
        self.overlap = self.model.default_overlap if overlap is None else overlap
        self.batch_size = self.model.default_batch_size if batch_size is None else batch_size
        self.backend = backend
        self.nan_to_zero = nan_to_zero
        self.resample_quality = resample_quality
        self.silence_floor_db = silence_floor(self.model, silence_floor_db)
        if threads:
            torch.set_num_threads(threads)
        self.sources = self.model.sources
        self.sample_rate = self.model.sample_rate
        self._network: torch.nn.Module = self.model
        if optimized and backend == "torch" and self.device.type == "cpu":
            self._network = fast_inference_form(self.model)
        self._onnx = None
        if backend.startswith("onnx"):
            from .export import onnx_session

            self._onnx = onnx_session(self.model, threads=threads, int8=backend == "onnx-int8")

    @property
    def name(self) -> str:
        return getattr(self.model, "name", type(self.model).__name__)

    # -- the model on a batch of segments -----------------------------------------------------

    def _forward(self, segments: np.ndarray) -> np.ndarray:
        """``(n, audio_channels, context)`` -> ``(n, sources, audio_channels, output)``."""
        if self._onnx is not None:
            return self._onnx.run(None, {"mixture": segments})[0]
        with torch.inference_mode():
            out = self._network(torch.from_numpy(segments).to(self.device))
        return out.float().cpu().numpy()

    def segment_function(self, channels: int):
        """The model as :class:`OverlapAdd` needs it: ``(n, channels, context)`` ->
        ``(n, sources, channels, output)``; a mono model runs on every channel."""
        if self.model.audio_channels == 1:

            def mono(segments: np.ndarray) -> np.ndarray:
                n, c, t = segments.shape
                out = self._forward(segments.reshape(n * c, 1, t))  # (n*c, S, 1, O)
                return out.reshape(n, c, out.shape[1], out.shape[-1]).transpose(0, 2, 1, 3)

            return mono
        return self._forward

    def span_function(self):
        """The model on a stretch of signal, as :class:`OverlapAdd`'s ``span_function``,
        when the network shares work between overlapping segments
        (:meth:`~lightsep.models.fast.FastLightSepNet.forward_overlapping`, a mono network:
        each channel is separated); else ``None``."""
        if not hasattr(self._network, "forward_overlapping"):  # only the torch backend's fast form
            return None

        def span(stretch: np.ndarray, hop: int, count: int) -> np.ndarray:
            with torch.inference_mode():
                out = self._network.forward_overlapping(torch.from_numpy(stretch).to(self.device)[:, None], hop, count)
            return out[:, :, :, 0].transpose(1, 2).float().cpu().numpy()  # (count, sources, channels, time)

        return span

    def estimated_sources(self) -> list[int]:
        """The indices of the sources the model estimates directly: every source but its
        difference source (which is the input minus them), or every source if it has none."""
        difference = self.model.difference_source
        return [i for i, name in enumerate(self.model.sources) if name != difference]

    def engine(self, channels: int, estimated_only: bool = False):
        """What runs the model over a signal of ``channels`` channels at its rate: a
        :class:`~lightsep.frames.FrameEngine` (state carried frame to frame) for a model that
        streams by frames, else :class:`OverlapAdd` over fixed segments. Its outputs are
        every source, or with ``estimated_only`` the :meth:`estimated_sources` alone (what
        :class:`SeparationStream` uses: it makes the difference source from the input)."""
        if frame_streamed(self.model):
            from .frames import FrameEngine, OnnxFrameStep

            step = OnnxFrameStep(self._onnx, self.model) if self._onnx is not None else None
            return FrameEngine(self.model, channels, self.device, step, difference=not estimated_only)
        segment_function, span_function = self.segment_function(channels), self.span_function()
        sources = len(self.model.sources)
        kept = self.estimated_sources() if estimated_only else list(range(sources))
        if len(kept) < sources:
            # the kept outputs only, as a view when they are the first ones (the difference source last)
            keep = slice(0, len(kept)) if kept == list(range(len(kept))) else kept
            segment_function = _outputs_of(segment_function, keep)
            span_function = _outputs_of(span_function, keep) if span_function is not None else None
        return OverlapAdd(segment_function, channels, len(kept), self.model.context_samples, self.model.output_samples,
                          self.model.output_offset, self.overlap, self.batch_size, span_function)  # fmt: skip

    # -- separation ----------------------------------------------------------------------

    def stream(self, sample_rate: int, channels: int, source: object = None) -> SeparationStream:
        """A :class:`SeparationStream` for audio of this rate and channel count (from
        ``source``, a file, named in its errors)."""
        return SeparationStream(self, sample_rate, channels, source)

    def separate(self, waveform: np.ndarray | torch.Tensor, sample_rate: int) -> dict[str, np.ndarray]:
        """Separate ``(channels, samples)`` (or ``(samples,)``) audio of any rate.

        Returns ``{source: array}`` with the input's shape, rate and length. The caller's
        array is not modified.
        """
        audio = float_audio(waveform)  # read only: the stream keeps copies of what it needs
        flat = audio.ndim == 1
        if flat:
            audio = audio[None]
        if audio.ndim != 2 or audio.shape[0] == 0:
            raise LightsepError(f"expected (channels, samples) or (samples,) audio, got shape {np.shape(waveform)}")
        stream = self.stream(sample_rate, audio.shape[0])
        # one of the two parts is usually empty (the first, for a song shorter than a batch
        # of segments): no copy of the whole song then
        pushed, flushed = stream.push(audio), stream.flush()
        parts = [part for part in (pushed, flushed) if part.shape[-1]] or [flushed]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
        return {name: (out[i, 0] if flat else out[i]) for i, name in enumerate(self.sources)}

    def separate_file(self, path: str | os.PathLike) -> tuple[dict[str, np.ndarray], int]:
        """Read a file and separate it; returns ``({source: (channels, samples)}, rate)``."""
        from .audio import read_audio

        audio, rate = read_audio(path)
        return self.separate(audio, rate), rate


def _outputs_of(function, keep: slice | list[int]):
    """``function`` (a segment or span function, outputs ``(n, sources, ...)``) with only
    the sources ``keep`` selects."""

    def selected(*args):
        return function(*args)[:, keep]

    return selected


class RowResampler:
    """soxr's streaming resampler for ``(channels, n)`` blocks: one mono stream per channel,
    each fed its row as it lies in memory. The same output, sample for sample, as one
    multichannel stream, which wants ``(n, channels)`` and so a transposed copy of every
    block in and out (for a 30 s stereo song at 44.1 kHz those copies cost about a third as
    much as the resampling)."""

    def __init__(self, rate_in: int, rate_out: int, channels: int, quality: str):
        self.streams = [soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality=quality) for _ in range(channels)]

    def __call__(self, block: np.ndarray, last: bool) -> np.ndarray:
        """``(channels, n)`` float32 -> ``(channels, m)``: the output these samples complete
        (``last``: and the rest, at the end of the signal)."""
        rows = [stream.resample_chunk(np.ascontiguousarray(row), last=last) for stream, row in zip(self.streams, block)]
        return np.stack(rows)


class InvalidAudioError(LightsepError):
    """The audio holds NaN or infinite samples."""


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, if it names one this machine has."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise LightsepError(f"unknown device {str(device)!r}; use cpu or cuda") from None
    if parsed.type not in ("cpu", "cuda"):
        raise LightsepError(f"unsupported device {str(device)!r}; use cpu or cuda")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise LightsepError("device 'cuda' requested but no CUDA device is available")
    return parsed


MAX_SAMPLE = 1e6
"""Input samples beyond this magnitude (a million times full scale) are refused like NaN: no
audio is that loud, and the STFT and the overlap-add of samples near float32's maximum
overflow into infinities."""


def float_audio(audio: object) -> np.ndarray:
    """``audio`` as float32 samples; integer, boolean, complex, string and object arrays are
    refused (:class:`LightsepError`): their scale is not known (is int16 full scale 32767 or
    1?) and a complex signal is not audio."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    array = np.asarray(audio)
    if array.dtype.kind != "f":
        hint = " (divide integer PCM by its full scale, 32768 for 16-bit, to get floats in [-1, 1])" if array.dtype.kind in "iu" else ""
        raise LightsepError(f"audio must be floating-point samples (about -1 to 1), got an array of {array.dtype}{hint}")
    return array.astype(np.float32, copy=False)


class SeparationStream:
    """Incremental separation of one signal: ``push`` blocks of ``(channels, n)`` audio at
    ``sample_rate``, get back ``(sources, channels, m)`` blocks of separated audio; ``flush``
    at the end. Concatenated, the outputs have exactly as many samples as the inputs.

    For a difference-output model the difference source is computed here, at the input's
    rate and channel count, as the input minus the other (resampled) estimates, so the
    stems always sum to the input, including the band above the model's Nyquist frequency.

    ``source``, when given (the file the audio comes from), begins the message of an
    :class:`InvalidAudioError`.
    """

    def __init__(self, separator: Separator, sample_rate: int, channels: int, source: object = None):
        if isinstance(sample_rate, float) and sample_rate.is_integer():
            sample_rate = int(sample_rate)
        if not (isinstance(sample_rate, (int, np.integer)) and STREAM_RATES[0] <= sample_rate <= STREAM_RATES[1]):
            raise LightsepError(f"sample rate {sample_rate!r} Hz is not in {STREAM_RATES[0]}..{STREAM_RATES[1]}")
        if not (isinstance(channels, (int, np.integer)) and 1 <= channels <= MAX_CHANNELS):
            raise LightsepError(f"channel count {channels!r} is not in 1..{MAX_CHANNELS}")
        model = separator.model
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.model_channels = channels if model.audio_channels == 1 else model.audio_channels
        self.sources = len(model.sources)
        self.engine = separator.engine(self.model_channels, estimated_only=True)
        self.model_rate = model.sample_rate
        self.received = 0
        self.emitted = 0
        self.flushed = False
        # the difference source is recomputed at the input's rate: input minus the other
        # estimates, so the stems sum to the input exactly, high band included (and it is
        # not resampled)
        self.difference = model.sources.index(model.difference_source) if model.difference_source else None
        self._resampled = separator.estimated_sources()  # what the engine gives, in its order
        resample = self.sample_rate != self.model_rate
        quality = separator.resample_quality
        self._down = RowResampler(self.sample_rate, self.model_rate, self.model_channels, quality) if resample else None
        self._up = RowResampler(self.model_rate, self.sample_rate, self.model_channels * len(self._resampled), quality) if resample else None  # noqa: E501
        self._pending = np.zeros((self.channels, 0), np.float32)  # input not yet matched by output
        self.nan_to_zero = separator.nan_to_zero
        self._where = f"{source}: " if source is not None else ""
        self.replaced = 0  # NaN or infinite samples replaced by silence
        floor = separator.silence_floor_db
        self.gate = SilenceGate(self.sample_rate, floor, floor + SILENCE_GATE_RANGE_DB) if floor is not None else None

    def push(self, block: np.ndarray) -> np.ndarray:
        self._check_open("push")
        block = float_audio(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise LightsepError(f"expected ({self.channels}, samples) blocks, got {block.shape}")
        block = self._finite(block)
        self.received += block.shape[1]
        self._pending = np.concatenate([self._pending, block], axis=1)
        return self._out(self.engine.push(self._in(block, last=False)), last=False)

    def _finite(self, block: np.ndarray) -> np.ndarray:
        """The one check every input goes through: refuse NaN and infinite samples, or
        replace them with silence."""
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(block) <= MAX_SAMPLE)  # NaN, infinite, or far beyond full scale
        if not bad.any():
            return block
        if self.nan_to_zero:
            self.replaced += int(np.count_nonzero(bad))
            return np.where(bad, np.float32(0.0), block)
        channel, index = np.unravel_index(np.argmax(bad.T), bad.T.shape)[::-1]
        sample = self.received + int(index)
        raise InvalidAudioError(
            f"{self._where}{'NaN or infinite' if not np.isfinite(block[channel, index]) else 'far beyond full scale (|x| > 1e6)'} "
            f"sample at {sample / self.sample_rate:.3f} s (sample {sample}, channel {int(channel) + 1}); "
            "--nan-to-zero (nan_to_zero=True) replaces such samples with silence"
        )

    def _check_open(self, call: str) -> None:
        if self.flushed:
            raise LightsepError(f"{call}() after flush(): a stream separates one signal; start another stream for more audio")

    def flush(self) -> np.ndarray:
        self._check_open("flush")
        self.flushed = True
        tail = self._in(np.zeros((self.channels, 0), np.float32), last=True)
        out = np.concatenate([self.engine.push(tail), self.engine.flush()], axis=-1) if tail.shape[1] else self.engine.flush()
        return self._out(out, last=True)

    def _in(self, block: np.ndarray, last: bool) -> np.ndarray:
        block = convert_channels(block, self.model_channels) if self.model_channels != self.channels else block
        if self._down is None:
            return block
        return self._down(block, last)

    def _out(self, separated: np.ndarray, last: bool) -> np.ndarray:
        kept, c = len(self._resampled), self.model_channels
        estimates = separated  # (kept, c, m): the sources the model estimates (the engine gives no others)
        if self._up is not None:
            estimates = self._up(estimates.reshape(kept * c, -1), last).reshape(kept, c, -1)
        if c != self.channels:
            estimates = np.stack([convert_channels(x, self.channels) for x in estimates])
        allowed = self.received - self.emitted
        if last and estimates.shape[-1] < allowed:  # the resampler may come out a few samples short
            pad = allowed - estimates.shape[-1]
            estimates = np.concatenate([estimates, np.zeros(estimates.shape[:-1] + (pad,), np.float32)], axis=-1)
        estimates = estimates[..., :allowed]
        n = estimates.shape[-1]
        mixture = self._pending[:, :n]  # the input these output samples are aligned with
        self._pending = self._pending[:, n:]
        if self.gate is not None:
            gains = self.gate(mixture)
            if n and gains.min() < 1.0:  # else (most of any music) multiplying changes nothing
                estimates = estimates * gains
        out = np.empty((self.sources, self.channels, n), np.float32)
        out[self._resampled] = estimates
        if self.difference is not None:
            np.subtract(mixture, estimates[0] if kept == 1 else estimates.sum(axis=0), out=out[self.difference])
        self.emitted += n
        return out
