"""Training and validation examples for PyTorch's DataLoader.

Training (:class:`TrainingSegments`): each example is a random segment of a random track.
Each raw source is scaled by its own gain drawn uniformly from ``gain_range`` (the paper's
[0.7, 1.0], after Wave-U-Net), and the mixture is rebuilt as the sum of the scaled sources.
Example ``i`` of epoch ``e`` is drawn from a generator seeded with ``(seed, e, i)``. It is
therefore the same whichever worker makes it and in whatever order, and a resumed run sees
exactly the examples it would have seen.

A track that lacks the vocals (an ``instrumental`` dataset's) is paired with the vocals of
another track, drawn by weight from the tracks that have them, at a random offset and with
its own gain: a cross-dataset remix that turns accompaniment-only music into 2-stem
examples. The extra draws come after the others, so tracks with vocals see the same
examples as without instrumental data.

With an :class:`Augmentation`, each example is then remixed, swapped, inverted and
equalised as it says, from a second generator seeded with ``(seed, e, i, 1)``, and with
``track_weights`` the track is drawn by weight (several datasets).

Validation (:class:`ValidationSegments`): every track, whole, cut into consecutive segments
whose outputs tile the track. Inputs are zero-padded past the ends, and the gains are 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
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

    def __init__(self, tracks, targets, context_samples, output_samples, sample_rate, channels, cache, output_offset=None):
        self.tracks = _TrackSet(tracks, sample_rate, channels, cache)
        self.targets = tuple(targets)
        self.context_samples = context_samples
        self.output_samples = output_samples or context_samples
        # centred by default (valid convolutions); a model says where otherwise (its ``output_offset``)
        self.output_offset = (context_samples - self.output_samples) // 2 if output_offset is None else output_offset


@dataclass(frozen=True)
class Augmentation:
    """What :class:`TrainingSegments` does to each example beyond the random source gains;
    each number is a probability (``docs/data.md``)."""

    remix: float = 0.0  # the sources of an example come from independent tracks and offsets
    channel_swap: float = 0.0  # per source: left and right swapped (stereo)
    polarity: float = 0.0  # per source: inverted
    eq: float = 0.0  # per source: random low and high shelves of up to eq_db
    eq_db: float = 6.0
    resample: float = 0.0  # per example: all sources played faster or slower (pitch and tempo together)
    resample_semitones: float = 2.0

    @property
    def active(self) -> bool:
        return any((self.remix, self.channel_swap, self.polarity, self.eq, self.resample))

    @property
    def largest_factor(self) -> float:
        """The largest playback-speed factor a resampled example can have (1 without them)."""
        return 2.0 ** (self.resample_semitones / 12.0) if self.resample else 1.0


EQ_LOW_HZ, EQ_HIGH_HZ = 200.0, 4000.0


def random_eq(audio: np.ndarray, sample_rate: int, low_db: float, high_db: float) -> np.ndarray:
    """``(channels, n)`` through a low shelf (below 200 Hz) of ``low_db`` and a high shelf
    (above 4 kHz) of ``high_db``, with smooth (raised-cosine, over an octave) transitions,
    applied in the frequency domain."""
    n = audio.shape[-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)

    def shelf(corner: float, below: bool) -> np.ndarray:
        # 1 well inside the shelf, 0 outside, a raised cosine over the octave around the corner
        position = np.clip((np.log2(np.maximum(freqs, 1.0) / corner) + 0.5), 0.0, 1.0)
        weight = 0.5 + 0.5 * np.cos(np.pi * position)  # 1 below, 0 above
        return weight if below else 1.0 - weight

    gain_db = low_db * shelf(EQ_LOW_HZ, True) + high_db * shelf(EQ_HIGH_HZ, False)
    spectrum = np.fft.rfft(audio, axis=-1) * (10.0 ** (gain_db / 20.0))
    return np.fft.irfft(spectrum, n=n, axis=-1).astype(np.float32)


def change_speed(audio: np.ndarray, factor: float, length: int) -> np.ndarray:
    """The first ``length`` samples of ``(channels, n)`` played ``factor`` times faster
    (higher in pitch and shorter for ``factor > 1``), by resampling with soxr: the input's
    first ``round(length * factor)`` samples become ``length``. ``n`` must be at least that."""
    needed = int(round(length * factor))
    if audio.shape[-1] < needed:
        raise ValueError(f"{audio.shape[-1]} samples cannot make {length} at speed {factor}")
    out = soxr.resample(np.ascontiguousarray(audio[..., :needed].T), needed, length, quality="MQ").T
    return np.ascontiguousarray(_window(out, 0, length))


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
        track_weights: list[float] | None = None,
        augmentation: Augmentation | None = None,
        output_offset: int | None = None,
    ):
        super().__init__(tracks, targets, context_samples, output_samples, sample_rate, channels, cache, output_offset)
        self.gain_range = gain_range
        self.examples_per_epoch = examples_per_epoch
        self.seed = seed
        self.epoch = 0
        self.augmentation = augmentation or Augmentation()
        self.probabilities = None
        if track_weights is not None:
            weights = np.asarray(track_weights, dtype=np.float64)
            if weights.shape != (len(tracks),) or (weights < 0).any() or weights.sum() <= 0:
                raise DatasetError("track weights must be one non-negative number per track, not all zero")
            self.probabilities = weights / weights.sum()
        self.vocal_tracks, self.vocal_probabilities = self._vocal_partners(tracks)
        # with resampling, windows are read long enough to be played at the largest speed
        factor = self.augmentation.largest_factor
        self.read_samples = self.context_samples if factor == 1 else int(np.ceil(self.context_samples * factor)) + 1

    def _vocal_partners(self, tracks: list[Track]) -> tuple[np.ndarray, np.ndarray | None]:
        """The tracks whose vocals pair with vocal-less tracks, and their probabilities;
        checks that every track can make every target, with a partner's vocals if need be."""
        has_vocals = np.array(["vocals" in t.sources for t in tracks])
        for track in tracks:
            sources = set(track.sources) | {"vocals"}
            missing = [n for n in self.targets if n not in sources and not (n == "accompaniment" and sources - {"vocals"})]
            if missing:
                raise DatasetError(f"track {track.name!r} ({track.layout}) cannot give the target(s) {', '.join(missing)}")
        if has_vocals.all():
            return np.flatnonzero(has_vocals), None
        if "vocals" not in self.targets:
            raise DatasetError("tracks without vocals (instrumental datasets) only serve models that estimate vocals")
        if not has_vocals.any():
            raise DatasetError("instrumental tracks need vocals to pair with: add a dataset with vocals")
        indices = np.flatnonzero(has_vocals)
        weights = np.ones(len(indices)) if self.probabilities is None else self.probabilities[indices]
        if weights.sum() <= 0:
            raise DatasetError("instrumental tracks need vocals to pair with: every dataset with vocals has weight 0")
        return indices, weights / weights.sum()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.examples_per_epoch

    def _track(self, rng: np.random.Generator) -> int:
        if self.probabilities is None:
            return int(rng.integers(len(self.tracks.audio)))
        return int(rng.choice(len(self.probabilities), p=self.probabilities))

    def _start(self, rng: np.random.Generator, k: int) -> int:
        return int(rng.integers(0, max(self.tracks.lengths[k] - self.read_samples, 0) + 1))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        k = self._track(rng)
        sources = self.tracks.audio[k]
        start = self._start(rng, k)
        low, high = self.gain_range
        scaled = {name: _window(audio, start, self.read_samples) * np.float32(rng.uniform(low, high))
                  for name, audio in sources.items()}  # fmt: skip
        if "vocals" not in sources and self.vocal_probabilities is not None:  # an instrumental track
            partner = int(self.vocal_tracks[rng.choice(len(self.vocal_tracks), p=self.vocal_probabilities)])
            vocals = self.tracks.audio[partner]["vocals"]
            scaled["vocals"] = _window(vocals, self._start(rng, partner), self.read_samples) * np.float32(rng.uniform(low, high))
        if self.augmentation.active:  # its own generator: the draws above stay the paper sampler's
            scaled = self._augment(np.random.default_rng([self.seed, self.epoch, index, 1]), scaled)
        else:
            scaled = {name: audio[..., : self.context_samples] for name, audio in scaled.items()}
        mixture = sum(scaled.values())
        targets = make_targets(scaled, self.targets)
        targets = targets[..., self.output_offset : self.output_offset + self.output_samples]
        return torch.from_numpy(mixture), torch.from_numpy(np.ascontiguousarray(targets))


    def _augment(self, rng: np.random.Generator, sources: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Remix, channel swap, polarity, EQ and resampling, in that order, each drawn from
        ``rng``. Takes windows of ``read_samples`` and returns ``context_samples``."""
        a = self.augmentation
        out = dict(sources)
        if rng.random() < a.remix:  # every source from its own track and offset, with its own gain
            low, high = self.gain_range
            for name in out:
                k = self._track(rng)
                track = self.tracks.audio[k]
                if name in track:
                    out[name] = _window(track[name], self._start(rng, k), self.read_samples) * np.float32(rng.uniform(low, high))
        for name, audio in out.items():
            swap, invert, equalise = rng.random(3)
            lows_highs = rng.uniform(-a.eq_db, a.eq_db, 2)
            if swap < a.channel_swap and audio.shape[0] == 2:
                audio = audio[::-1].copy()
            if invert < a.polarity:
                audio = -audio
            if equalise < a.eq:
                audio = random_eq(audio, self.tracks.sample_rate, *lows_highs)
            out[name] = audio
        resample, semitones = rng.random(), rng.uniform(-a.resample_semitones, a.resample_semitones)
        if resample < a.resample:  # every source at the same speed: they stay in time together
            return {name: change_speed(audio, 2.0 ** (semitones / 12.0), self.context_samples) for name, audio in out.items()}
        return {name: audio[..., : self.context_samples] for name, audio in out.items()}


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
        output_offset: int | None = None,
    ):
        super().__init__(tracks, targets, context_samples, output_samples, sample_rate, channels, cache, output_offset)
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
