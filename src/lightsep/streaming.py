"""Streaming separation with a fixed latency.

:class:`StreamingSeparator` takes audio in blocks of any size as they arrive. For every
block of ``n`` samples it returns ``n`` samples of each stem: the separated audio delayed by
exactly ``latency`` samples (zeros before it starts). ``flush`` returns the last ``latency``
samples. The latency is the model's context beyond its output region plus one hop of the
overlap-add (for a causal spectrogram-mask model, run frame by frame: its STFT frame less one
sample, :mod:`lightsep.frames`), plus the resamplers' filter delays when the stream's rate is
not the model's.
The result, with the delay removed, is identical to offline separation with the same
settings.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
from collections.abc import Iterator

import numpy as np
import soxr

from .defaults import STREAM_MODEL as REALTIME_MODEL  # lightsep stream's default model
from .frames import frame_streamed
from .separator import SeparationStream, Separator, streaming_backend



def realtime_resample_quality(model) -> str:
    """soxr's quality that ``lightsep stream`` resamples with for ``model``: QQ for a model
    that streams frame by frame (a few samples of delay, against LQ's 10 ms at 48 kHz: the
    46 ms model states 46.5 ms there instead of 57.1, and the 20 ms model stays within 20; both
    separated the demo song streamed at 48 kHz no worse through QQ than through LQ,
    docs/research/live-20ms.md), LQ (half HQ's delay, even output) for a model that streams
    by segments, whose latency is seconds."""
    return "QQ" if frame_streamed(model) else "LQ"


def realtime_separator(
    model: str = REALTIME_MODEL, backend: str = "auto", threads: int = 1, resample_quality: str | None = None, **options
) -> Separator:
    """The :class:`Separator` that ``lightsep stream`` runs: one segment (or, for a model
    that streams by frames, one frame) at a time (``batch_size=1``), one thread, soxr's
    resampler at :func:`realtime_resample_quality` unless ``resample_quality`` says otherwise,
    and ONNX Runtime when it is installed
    (``backend="auto"``: on one segment or frame at a time it is the faster one). ``options``
    go to :class:`Separator` as they are (``overlap``, ``nan_to_zero``, ``random_weights``,
    ...)."""
    if backend == "auto":
        backend = streaming_backend()
    separator = Separator(model, batch_size=1, threads=threads, backend=backend, resample_quality=resample_quality or "LQ", **options)
    if resample_quality is None:
        separator.resample_quality = realtime_resample_quality(separator.model)
    return separator


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """For the block, everything alive at its start (torch and the model: over 100,000
    objects) is out of the cyclic garbage collector's sight: a full collection of them takes
    longer than several blocks. Collected once first; back to normal afterwards."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@functools.lru_cache(maxsize=None)
def _resampler_delay(rate_in: int, rate_out: int, quality: str = "HQ") -> int:
    """The most output samples soxr's streaming resampler ever holds back: its filter delay
    plus its internal block, measured by pushing one sample at a time for two seconds."""
    if rate_in == rate_out:
        return 0
    stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality=quality)
    sample = np.zeros((1, 1), np.float32)
    produced, worst = 0, 0
    for n in range(1, 2 * rate_in + 1):
        produced += stream.resample_chunk(sample).shape[0]
        worst = max(worst, math.ceil(n * rate_out / rate_in) - produced)
    return worst


class StreamingSeparator:
    """Fixed-latency streaming separation of one signal.

    Args:
        separator: a :class:`lightsep.Separator` (its model, backend, overlap and batch size);
            streaming usually wants ``batch_size=1`` for the lowest latency.
        sample_rate, channels: of the incoming audio.
        source: where the audio comes from (a file), named in errors about it.
        warm_up: run the model a few times on silence first (:meth:`warm_up`), so that the
            first blocks are not the slowest.
    """

    def __init__(self, separator: Separator, sample_rate: int, channels: int = 1, source: object = None, warm_up: bool = True):
        self._frozen = None
        self.separator = separator
        self.sources = separator.sources
        self._stream = SeparationStream(separator, sample_rate, channels, source)
        ratio = sample_rate / separator.sample_rate
        delay_down = _resampler_delay(sample_rate, separator.sample_rate, separator.resample_quality)
        delay_up = _resampler_delay(separator.sample_rate, sample_rate, separator.resample_quality)
        self.latency = int(math.ceil((self._stream.engine.latency + delay_down) * ratio)) + delay_up
        self.sample_rate, self.channels = sample_rate, channels
        self._ready = np.zeros((len(self.sources), channels, 0), np.float32)
        self._returned = 0
        self.underruns = 0
        if warm_up:
            self.warm_up()

    @classmethod
    def realtime(
        cls, model: str = REALTIME_MODEL, sample_rate: int = 44100, channels: int = 2, source: object = None, **options
    ) -> StreamingSeparator:
        """Exactly what ``lightsep stream`` runs: :func:`realtime_separator` (``options``
        go to it: ``backend``, ``threads``, ``resample_quality``, ...), warmed up. Use it as a
        context manager, as the command does, to keep the garbage collector's full
        collections out of the blocks (:func:`frozen_heap`)::

            with StreamingSeparator.realtime("spectral-2stem-live", 44100, 2) as stream:
                for block in blocks:                  # (2, n) float32, any n
                    stems = stream.push(block)        # (2 sources, 2, n), `stream.latency` late
                tail = stream.flush()
        """
        return cls(realtime_separator(model, **options), sample_rate, channels, source, warm_up=True)

    def __enter__(self) -> StreamingSeparator:
        self._frozen = frozen_heap()
        self._frozen.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        frozen, self._frozen = self._frozen, None
        if frozen is not None:
            frozen.__exit__(*exc)

    def warm_up(self, passes: int = 3) -> None:
        """Run the model ``passes`` times on a segment of silence, as a block will run it.
        The first calls of a network are much slower than the rest (memory allocation,
        oneDNN choosing its kernels): without this, the first block that completes a segment
        takes several times as long as the others. The stream's state is not touched."""
        self._stream.engine.warm_up(passes)

    @property
    def latency_seconds(self) -> float:
        return self.latency / self.sample_rate

    def push(self, block: np.ndarray) -> np.ndarray:
        """``(channels, n)`` in, ``(sources, channels, n)`` out (delayed by ``latency``)."""
        block = np.asarray(block, dtype=np.float32)
        self._ready = np.concatenate([self._ready, self._stream.push(block)], axis=-1)
        return self._take(block.shape[-1])

    def flush(self) -> np.ndarray:
        """The last ``latency`` samples of every stem."""
        self._ready = np.concatenate([self._ready, self._stream.flush()], axis=-1)
        return self._take(self._stream.received + self.latency - self._returned)

    def _take(self, n: int) -> np.ndarray:
        out = np.zeros((len(self.sources), self.channels, n), np.float32)
        lead = min(max(self.latency - self._returned, 0), n)  # the initial silence
        want = n - lead
        have = min(want, self._ready.shape[-1])
        out[..., lead : lead + have] = self._ready[..., :have]
        self._ready = self._ready[..., have:]
        if have < want:
            self.underruns += 1
        self._returned += n
        return out
