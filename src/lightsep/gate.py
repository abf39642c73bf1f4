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

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """``(channels, n)`` input -> ``(n,)`` float32 gains for those samples."""
        n = block.shape[-1]
        if n == 0:
            return np.zeros(0, np.float32)
        peaks = np.concatenate([self._peaks, np.abs(block).max(axis=0)])
        envelope = running_max(peaks, self.window)  # (n,): the peak over each sample's last window
        self._peaks = peaks[n:]
        with np.errstate(divide="ignore"):
            level_db = 20.0 * np.log10(envelope.astype(np.float64))
        fraction = np.clip((level_db - self.floor_db) / (self.open_db - self.floor_db), 0.0, 1.0)
        levels = np.concatenate([self._levels, np.rint(fraction * STEPS).astype(np.int64)])
        sums = np.concatenate([[0], np.cumsum(levels)])
        smoothed = sums[self.window :] - sums[: -self.window]  # (n,): exact integer sums over each window
        self._levels = levels[n:]
        return (smoothed / (STEPS * self.window)).astype(np.float32)
