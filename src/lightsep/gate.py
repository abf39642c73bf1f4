"""Silence in, silence out: a gain that closes the estimated stems where the input is silent.

A waveform network is not scale-equivariant: its biases give it an output when its input is
zero (for ``proposed-2stem`` on digital silence, a 344.5 Hz buzz at its frame rate, 22050/64,
about -43 dBFS). :class:`SilenceGate` computes, per input sample, a gain from the input's
peak level over a short window: 0 at or below ``floor_db`` (default -90 dBFS, about one
16-bit step), 1 at or above ``open_db`` (default -60 dBFS), linear in dB between, then
averaged over the same window so it opens and closes in ramps instead of steps.

:class:`~lightsep.separator.SeparationStream` multiplies the directly estimated stems by it;
the difference stem stays the input minus the others, so the stems still sum to the input
and whatever a closed gate removes goes to the difference stem. The gate is causal and keeps
its state between blocks, and its gains are multiples of 1/1024 summed as integers, so it
gives the same gains however the input is cut into blocks.
"""

from __future__ import annotations

import numpy as np

STEPS = 1024  # gain resolution: integer sums are exact, so block boundaries change nothing
MAX_RUNS = 64  # more stretches of possibly quiet windows than this: measure every window


def running_max(values: np.ndarray, window: int) -> np.ndarray:
    """``out[i] = max(values[i : i + window])`` for every full window (``len - window + 1``
    values), in ``log2(window)`` vectorised passes."""
    span, current = 1, values
    while 2 * span <= window:
        current = np.maximum(current[:-span], current[span:])  # current[i] = max(values[i : i + 2 * span])
        span *= 2
    count = len(values) - window + 1
    return np.maximum(current[:count], current[window - span : window - span + count])


class SilenceGate:
    """Per-sample gains in [0, 1] for consecutive ``(channels, n)`` input blocks.

    Args:
        sample_rate: the input's rate.
        floor_db: peak level (dBFS) at and below which the gain is 0.
        open_db: peak level at and above which the gain is 1.
        window_seconds: the peak window, and the length of the ramps.
    """

    def __init__(self, sample_rate: int, floor_db: float = -90.0, open_db: float = -60.0, window_seconds: float = 0.005):
        if not open_db > floor_db:
            raise ValueError(f"open_db ({open_db}) must be above floor_db ({floor_db})")
        self.floor_db, self.open_db = float(floor_db), float(open_db)
        self.window = max(1, round(window_seconds * sample_rate))
        self._peaks = np.zeros(self.window - 1, np.float32)  # the last window - 1 input peaks (silence before the start)
        self._levels = np.zeros(self.window - 1, np.int16)  # the last window - 1 unsmoothed gains, in steps
        self._surely_open = np.float32(10.0 ** (self.open_db / 20.0) * (1.0 + 1e-5))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """``(channels, n)`` input -> ``(n,)`` float32 gains for those samples."""
        n = block.shape[-1]
        if n == 0:
            return np.zeros(0, np.float32)
        peaks = np.concatenate([self._peaks, np.abs(block).max(axis=0)])
        self._peaks = peaks[n:]
        levels = np.concatenate([self._levels, self._levels_of(peaks)])
        self._levels = levels[n:]
        gains = np.ones(n, np.float32)
        # a gain is the sum of `window` levels from its own on; past the last level below
        # STEPS every window is fully open (most of any music), and the gain exactly 1
        partial = np.flatnonzero(levels < STEPS)
        if partial.size:
            last = min(int(partial[-1]), n - 1)  # the gains [0, last] see a level below STEPS
            sums = np.concatenate([[0], np.cumsum(levels[: last + self.window], dtype=np.int64)])
            smoothed = sums[self.window :] - sums[: -self.window]  # exact integer sums over each window
            gains[: last + 1] = smoothed / (STEPS * self.window)
        return gains

    def _levels_of(self, peaks: np.ndarray) -> np.ndarray:
        """Unsmoothed gains in steps for the ``len(peaks) - window + 1`` windows of ``peaks``:
        ``STEPS`` times each window's peak level's place between the floor and the open
        level, in dB.

        Only windows that may lie below ``_surely_open`` (a hair above the open level, where
        the gain is certainly whole) are measured: ``peaks`` is cut into blocks of half a
        window, every window holds a whole block, and one whose block reaches
        ``_surely_open`` is fully open. The running peak and its logarithm are taken over the
        stretches of windows left (in music, the few around silent passages): the same
        values as taking them everywhere, for less work."""
        window = self.window
        count = len(peaks) - window + 1
        levels = np.full(count, STEPS, np.int16)
        block = (window + 1) // 2  # window [i, i + window) holds block ceil(i / block) whole
        blocks = len(peaks) // block
        loud = peaks[: blocks * block].reshape(blocks, block).max(axis=1) >= self._surely_open
        # window i is surely open if block ceil(i / block) is whole and loud: windows
        # (j - 1) * block + 1 .. j * block for block j; the windows after the last whole block's are not
        unsure = np.ones(blocks + 1, bool)
        unsure[:blocks] = ~loud
        edges = np.flatnonzero(np.diff(np.concatenate([[False], unsure, [False]]).astype(np.int8)))
        runs = [(max(0, (j - 1) * block + 1), min(count, k * block - block + 1)) for j, k in zip(edges[::2], edges[1::2])]
        if len(runs) > MAX_RUNS:  # fewer, larger array operations: the whole signal at once
            return self._measured_levels(running_max(peaks, window))
        for start, stop in runs:  # windows [start, stop), blocks [j, k)
            if stop > start:
                levels[start:stop] = self._measured_levels(running_max(peaks[start : stop + window - 1], window))
        return levels

    def _measured_levels(self, envelope: np.ndarray) -> np.ndarray:
        """:meth:`_levels_of` for windows of peak level ``envelope``."""
        levels = np.full(envelope.shape, STEPS, np.int16)
        below = envelope < self._surely_open
        if below.any():
            with np.errstate(divide="ignore"):
                level_db = 20.0 * np.log10(envelope[below].astype(np.float64))
            fraction = np.clip((level_db - self.floor_db) / (self.open_db - self.floor_db), 0.0, 1.0)
            levels[below] = np.rint(fraction * STEPS).astype(np.int16)
        return levels
