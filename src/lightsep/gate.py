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
        self._levels = np.zeros(self.window - 1, np.int64)  # the last window - 1 unsmoothed gains, in steps
        self._surely_open = np.float32(10.0 ** (self.open_db / 20.0) * (1.0 + 1e-5))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """``(channels, n)`` input -> ``(n,)`` float32 gains for those samples."""
        n = block.shape[-1]
        if n == 0:
            return np.zeros(0, np.float32)
        peaks = np.concatenate([self._peaks, np.abs(block).max(axis=0)])
        envelope = running_max(peaks, self.window)  # (n,): the peak over each sample's last window
        self._peaks = peaks[n:]
        levels = np.concatenate([self._levels, self._levels_of(envelope)])
        self._levels = levels[n:]
        gains = np.ones(n, np.float32)
        # a gain is the sum of `window` levels from its own on; past the last level below
        # STEPS every window is fully open (most of any music), and the gain exactly 1
        partial = np.flatnonzero(levels < STEPS)
        if partial.size:
            last = min(int(partial[-1]), n - 1)  # the gains [0, last] see a level below STEPS
            sums = np.concatenate([[0], np.cumsum(levels[: last + self.window])])
            smoothed = sums[self.window :] - sums[: -self.window]  # exact integer sums over each window
            gains[: last + 1] = smoothed / (STEPS * self.window)
        return gains

    def _levels_of(self, envelope: np.ndarray) -> np.ndarray:
        """Unsmoothed gains in steps: ``STEPS`` times the envelope's place between the floor and
        the open level, in dB. The logarithm is taken only below ``_surely_open`` (a hair above
        the open level, where the gain is certainly whole): the same values, for less work."""
        levels = np.full(envelope.shape, STEPS, np.int64)
        below = envelope < self._surely_open
        if below.any():
            with np.errstate(divide="ignore"):
                level_db = 20.0 * np.log10(envelope[below].astype(np.float64))
            fraction = np.clip((level_db - self.floor_db) / (self.open_db - self.floor_db), 0.0, 1.0)
            levels[below] = np.rint(fraction * STEPS).astype(np.int64)
        return levels
