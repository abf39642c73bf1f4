"""Applying a fixed-context model to audio of any length: overlap-add, incrementally.

The signal (at the model's rate) is covered by segments whose *outputs* are ``output_samples``
long and start every ``hop = round(output_samples * (1 - overlap))`` samples. Segment ``k``
outputs samples ``[k*hop, k*hop + output_samples)``. Its input is the model's context around
them, ``[k*hop - output_offset, ... + context_samples)``, taken from the real neighbouring
audio, with zeros only before the start and after the end of the signal. Each segment's
output is weighted by a crossfade window, the weighted outputs are summed, and the sum is
divided by the summed weights.

:class:`OverlapAdd` does this incrementally: ``push`` audio as it arrives and get back every
output sample that no later segment can change; ``flush`` at the end. Segments are computed
in fixed groups of ``batch_size`` consecutive segments, so the result does not depend on how
the input was cut into blocks: pushing a whole file at once or sample by sample gives
identical output. Memory is bounded by the context and the group size, not the signal length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SegmentFunction = Callable[[np.ndarray], np.ndarray]
"""``(segments, channels, context_samples) -> (segments, sources, channels, output_samples)``."""

SpanFunction = Callable[[np.ndarray, int, int], np.ndarray]
"""``(stretch, hop, n) -> (n, sources, channels, output_samples)``: the segment function on
the ``n`` segments ``hop`` samples apart that ``stretch`` (``(channels, (n - 1) * hop +
context_samples)``) holds, given in one piece so that a model can share work between them."""


def hop_samples(output_samples: int, overlap: float) -> int:
    """Samples between consecutive segments' outputs: ``round(output_samples * (1 - overlap))``, at least 1."""
    return max(1, int(round(output_samples * (1.0 - overlap))))


def crossfade_window(length: int, hop: int) -> np.ndarray:
    """A trapezoid: linear ramps of ``length - hop`` samples at both ends, 1 in between.

    Up to 50% overlap, shifted copies ``hop`` apart sum to a constant wherever they all
    overlap (a pure crossfade); beyond that they do not, and the division by the summed
    weights keeps the result exact all the same. Every value is strictly positive, so the
    first and last segments of a signal still count."""
    ramp = length - hop
    if ramp <= 0:
        return np.ones(length)
    i = np.arange(length, dtype=np.float64)
    return np.minimum(1.0, np.minimum((i + 0.5) / ramp, (length - i - 0.5) / ramp))


class BlockInput:
    """What the incremental engines share: ``(channels, n)`` blocks appended to an input
    buffer (``_input``, holding samples from ``_input_start``), ``_received`` samples in all,
    and no block after ``flush``."""

    channels: int
    _input: np.ndarray
    _received: int
    _finished: bool

    def _accept(self, block: np.ndarray) -> None:
        if self._finished:
            raise RuntimeError("push after flush")
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, samples), got {block.shape}")
        self._input = np.concatenate([self._input, block], axis=1)
        self._received += block.shape[1]


class OverlapAdd(BlockInput):
    """Incremental overlap-add of a segment function over a multichannel signal.

    Args:
        segment_function: maps ``(n, channels, context_samples)`` float32 inputs to
            ``(n, sources, channels, output_samples)`` outputs.
        channels, sources: the signal's channels and the outputs per channel.
        context_samples, output_samples, output_offset: the model's geometry.
        overlap: fraction of each segment's output shared with the next, in [0, 1).
        batch_size: segments per call of ``segment_function``.
        span_function: optional, used instead of ``segment_function``: the same outputs from
            the stretch of signal a group of segments covers (:data:`SpanFunction`).
    """

    def __init__(
        self,
        segment_function: SegmentFunction,
        channels: int,
        sources: int,
        context_samples: int,
        output_samples: int,
        output_offset: int = 0,
        overlap: float = 0.5,
        batch_size: int = 1,
        span_function: SpanFunction | None = None,
    ):
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        self.fn, self.span_fn = segment_function, span_function
        self.channels, self.sources = channels, sources
        self.context, self.output, self.offset = context_samples, output_samples, output_offset
        self.hop = hop_samples(output_samples, overlap)
        self.batch_size = max(1, int(batch_size))
        self.window = crossfade_window(output_samples, self.hop)
        # input: samples [input_start, input_start + buffer length) of the signal
        self._input = np.zeros((channels, 0), dtype=np.float32)
        self._input_start = 0
        self._received = 0
        # output accumulators cover samples [emitted, emitted + accumulator length)
        self._sum = np.zeros((sources, channels, 0))
        self._weight = np.zeros(0)
        self._emitted = 0
        self._next_segment = 0
        self._finished = False

    @property
    def latency(self) -> int:
        """Samples between an input sample's arrival and its output (with ``batch_size`` 1):
        the context beyond the output region, plus up to one hop of waiting."""
        return self.context - self.offset + self.hop * self.batch_size - 1

    # -- public -------------------------------------------------------------------------------

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``(channels, n)`` samples; return the ``(sources, channels, m)`` output samples
        that are now final (``m`` may be 0)."""
        self._accept(block)
        return self._run(final=False)

    def flush(self) -> np.ndarray:
        """Finish the signal (zeros after its end); return the remaining output samples."""
        if self._finished:
            return np.zeros((self.sources, self.channels, 0), dtype=np.float32)
        self._finished = True
        return self._run(final=True)

    # -- internals ----------------------------------------------------------------------------

    def _segments_needed(self) -> int:
        """Segments that cover the signal received so far (at least one for a non-empty signal)."""
        return -(-self._received // self.hop) if self._received else 0

    def _available(self, k: int) -> bool:
        return self._received >= k * self.hop - self.offset + self.context

    def _run(self, final: bool) -> np.ndarray:
        """Compute every group of segments the input allows; return the output made final.
        Output is emitted after each group, so the accumulators stay one group long."""
        needed = self._segments_needed()
        pieces = []
        while True:
            first = self._next_segment
            last = first + self.batch_size  # a fixed group: segments [first, last)
            if final:
                last = min(last, needed)
                if last <= first:
                    break
            elif not self._available(last - 1):
                break
            self._compute(first, last)
            self._next_segment = last
            pieces.append(self._emit(last * self.hop))  # no later segment reaches before this
        self._drop_consumed_input()
        pieces.append(self._emit(self._received if final else self._next_segment * self.hop))
        return np.concatenate(pieces, axis=2)

    def _stretch(self, start: int, length: int) -> np.ndarray:
        """Input samples ``[start, start + length)``, zeros outside the signal."""
        out = np.zeros((self.channels, length), dtype=np.float32)
        lo = max(start, self._input_start)
        hi = min(start + length, self._input_start + self._input.shape[1])
        if hi > lo:
            out[:, lo - start : hi - start] = self._input[:, lo - self._input_start : hi - self._input_start]
        return out

    def _outputs(self, stretch: np.ndarray, count: int) -> np.ndarray:
        """The model on the ``count`` segments, ``hop`` apart, that ``stretch`` covers."""
        if self.span_fn is not None:
            return self.span_fn(stretch, self.hop, count)
        return self.fn(np.stack([stretch[:, k * self.hop : k * self.hop + self.context] for k in range(count)]))

    def warm_up(self, passes: int) -> None:
        """Run the model ``passes`` times on one segment of silence, as :meth:`push` runs it;
        the signal's state is not touched."""
        for _ in range(passes):
            self._outputs(np.zeros((self.channels, self.context), np.float32), 1)

    def _compute(self, first: int, last: int) -> None:
        stretch = self._stretch(first * self.hop - self.offset, (last - first - 1) * self.hop + self.context)
        outputs = np.asarray(self._outputs(stretch, last - first), dtype=np.float32)
        expected = (last - first, self.sources, self.channels, self.output)
        if outputs.shape != expected:
            raise ValueError(f"segment function returned {outputs.shape}, expected {expected}")
        end = (last - 1) * self.hop + self.output
        self._grow(end)
        for i, k in enumerate(range(first, last)):
            a = k * self.hop - self._emitted
            self._sum[..., a : a + self.output] += outputs[i] * self.window
            self._weight[a : a + self.output] += self.window

    def _grow(self, end: int) -> None:
        missing = end - self._emitted - self._weight.shape[0]
        if missing > 0:
            self._sum = np.concatenate([self._sum, np.zeros((self.sources, self.channels, missing))], axis=2)
            self._weight = np.concatenate([self._weight, np.zeros(missing)])

    def _emit(self, until: int) -> np.ndarray:
        until = min(until, self._received)
        n = max(0, until - self._emitted)
        if n == 0:
            return np.zeros((self.sources, self.channels, 0), dtype=np.float32)
        out = (self._sum[..., :n] / self._weight[:n]).astype(np.float32)
        self._sum, self._weight = self._sum[..., n:], self._weight[n:]
        self._emitted += n
        return out

    def _drop_consumed_input(self) -> None:
        keep_from = self._next_segment * self.hop - self.offset  # the next segment's first input sample
        drop = min(max(0, keep_from - self._input_start), self._input.shape[1])
        if drop:
            self._input = self._input[:, drop:]
            self._input_start += drop


def overlap_add(
    segment_function: SegmentFunction,
    signal: np.ndarray,
    sources: int,
    context_samples: int,
    output_samples: int,
    output_offset: int = 0,
    overlap: float = 0.5,
    batch_size: int = 1,
) -> np.ndarray:
    """Offline overlap-add of ``(channels, samples)``: ``(sources, channels, samples)``."""
    engine = OverlapAdd(segment_function, signal.shape[0], sources, context_samples, output_samples, output_offset,
                        overlap, batch_size)  # fmt: skip
    return np.concatenate([engine.push(signal), engine.flush()], axis=2)
