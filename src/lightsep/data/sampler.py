"""Training and validation examples for PyTorch's DataLoader.

Training (:class:`TrainingSegments`): each example is a random segment of a random track.
Each raw source is scaled by its own gain drawn uniformly from ``gain_range`` (the paper's
[0.7, 1.0], after Wave-U-Net), and the mixture is rebuilt as the sum of the scaled sources.
Example ``i`` of epoch ``e`` is drawn from a generator seeded with ``(seed, e, i)``. It is
therefore the same whichever worker makes it and in whatever order, and a resumed run sees
exactly the examples it would have seen.

Validation (:class:`ValidationSegments`): every track, whole, cut into consecutive segments
whose outputs tile the track. Inputs are zero-padded past the ends, and the gains are 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .cache import AudioCache
from .tracks import DatasetError, Track, make_targets


class _TrackSet:
    """Decodes (through the cache) every track once, up front, and keeps memory maps."""

    def __init__(self, tracks: list[Track], sample_rate: int, channels: int, cache: AudioCache | None):
        if not tracks:
            raise DatasetError("no tracks to sample from")
        self.tracks = tracks
        self.cache = cache or AudioCache.default()
        self.sample_rate, self.channels = sample_rate, channels
        self.audio = [t.load(sample_rate, channels, self.cache) for t in tracks]
        self.lengths = [next(iter(a.values())).shape[-1] for a in self.audio]


def _window(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """``audio[..., start:start + length]`` with zeros where that falls outside the array."""
    out = np.zeros(audio.shape[:-1] + (length,), dtype=np.float32)
    lo, hi = max(start, 0), min(start + length, audio.shape[-1])
    if hi > lo:
        out[..., lo - start : hi - start] = audio[..., lo:hi]
    return out


class _Segments(Dataset):
    """What both datasets share: the tracks, the targets and the model's geometry."""

    def __init__(self, tracks, targets, context_samples, output_samples, sample_rate, channels, cache):
        self.tracks = _TrackSet(tracks, sample_rate, channels, cache)
        self.targets = tuple(targets)
        self.context_samples = context_samples
        self.output_samples = output_samples or context_samples
        self.output_offset = (context_samples - self.output_samples) // 2


class TrainingSegments(_Segments):
    """Random augmented segments.

    ``dataset[i]`` is ``(mixture, targets)``: ``mixture`` is ``(channels, context_samples)``,
    ``targets`` is ``(len(targets), channels, output_samples)``, aligned with the mixture's
    samples ``output_offset : output_offset + output_samples``.
    """

    def __init__(
        self,
        tracks: list[Track],
        targets: tuple[str, ...] | list[str],
        context_samples: int,
        output_samples: int | None = None,
        sample_rate: int = 22050,
        channels: int = 1,
        gain_range: tuple[float, float] = (0.7, 1.0),
        examples_per_epoch: int = 64000,
        seed: int = 0,
        cache: AudioCache | None = None,
    ):
        super().__init__(tracks, targets, context_samples, output_samples, sample_rate, channels, cache)
        self.gain_range = gain_range
        self.examples_per_epoch = examples_per_epoch
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.examples_per_epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        k = int(rng.integers(len(self.tracks.audio)))
        sources, length = self.tracks.audio[k], self.tracks.lengths[k]
        start = int(rng.integers(0, max(length - self.context_samples, 0) + 1))
        low, high = self.gain_range
        scaled = {name: _window(audio, start, self.context_samples) * np.float32(rng.uniform(low, high))
                  for name, audio in sources.items()}  # fmt: skip
        mixture = sum(scaled.values())
        targets = make_targets(scaled, self.targets)
        targets = targets[..., self.output_offset : self.output_offset + self.output_samples]
        return torch.from_numpy(mixture), torch.from_numpy(np.ascontiguousarray(targets))


class ValidationSegments(_Segments):
    """Whole tracks in consecutive segments: ``dataset[i]`` is ``(mixture, targets, weight)``,
    where ``weight`` is ``(output_samples,)``, 1 inside the track and 0 in the zero padding
    of its last segment, so that a weighted mean over segments is the mean over the tracks'
    real samples."""

    def __init__(
        self,
        tracks: list[Track],
        targets: tuple[str, ...] | list[str],
        context_samples: int,
        output_samples: int | None = None,
        sample_rate: int = 22050,
        channels: int = 1,
        cache: AudioCache | None = None,
    ):
        super().__init__(tracks, targets, context_samples, output_samples, sample_rate, channels, cache)
        self.index = [
            (k, start)
            for k, length in enumerate(self.tracks.lengths)
            for start in range(0, length, self.output_samples)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, start = self.index[index]
        sources, length = self.tracks.audio[k], self.tracks.lengths[k]
        window = {n: _window(a, start - self.output_offset, self.context_samples) for n, a in sources.items()}
        mixture = sum(window.values())
        targets = make_targets(window, self.targets)[..., self.output_offset : self.output_offset + self.output_samples]
        weight = np.zeros(self.output_samples, dtype=np.float32)
        weight[: min(self.output_samples, length - start)] = 1.0
        return torch.from_numpy(mixture), torch.from_numpy(np.ascontiguousarray(targets)), torch.from_numpy(weight)
