"""How well can the band above 11.025 kHz of the vocals be separated, and from what?
(docs/research/full-band.md, "What the high band needs")

    .venv/bin/python experiments/high_band.py oracles     [--data data/musdb18-7]
    .venv/bin/python experiments/high_band.py heuristics  [--data data/musdb18-7]
    .venv/bin/python experiments/high_band.py heads       [--data data/musdb18-7] [--remixes 400] [--steps 1500]
    .venv/bin/python experiments/high_band.py levels      [--data data/musdb18-7]
    .venv/bin/python experiments/high_band.py compact     [--data data/musdb18-7] [--steps 1500] [--numbers 22 41] [--hidden 0 16] [--save CHECKPOINT]

Every score is the vocals' SNR above 11.025 kHz (the stems and the references high-passed
there; 10 log10 of the reference's energy over the error's), per clip, median and mean over
the 23 validation clips of musdb18-7 (the paper split of its training clips), with a
4096-point STFT (hop 1024) at 44.1 kHz.

``oracles``: masks that know the stems: the ideal ratio mask per bin (the amplitude and the
power ratio); one mask per band and frame for 16 to 128 bands above 11.025 kHz (the same
ratios of the band's);
one gain per frame for the whole band (the best in the least-squares sense); one gain for
the whole clip. And how loud the vocals are there against the mixture.

``heuristics``: masks from what a model knows without the stems: the vocal masks that
spectral-2stem-ensemble gives a band below 11.025 kHz, carried upward (each frame's
energy-weighted mean over the band, as is, or squared), and the inter-channel likeness of
each bin (vocals are mostly mixed to the centre), alone and times that gain.

``heads``: what the network of a full-band model (lightsep.models.spectral.full_band_of)
knows about the high band, learned. Each frame's features are the band log magnitudes of the
whole band and both members' decoded features (what their mask layers see); a small head
(linear, two layers, or two layers and a bidirectional GRU over frames) gives one vocal mask
per high band, channel and frame, trained with the high-snr loss on the band statistics of
the frames (the error of a band-constant mask), on (a) the training music of the bundled
weights (musdb18-7's paper training split and Everything is Remixed's training songs),
(b) the same with ``--remixes`` random remixes added (one song's vocals over another's
accompaniment, random gains and crops, as training augments), and (c) the validation clips
themselves: what the features allow at best, memorised. Scored on the validation clips with
the same band statistics. Seeded; on one CPU, a few minutes per head.

``levels``: how loud the vocals are above 11.025 kHz in each body of music with stems: the
vocals' energy there against the mixture's, and against their own energy at 5.5-11.025 kHz
(median over tracks), and how many minutes each holds, for musdb18-7's paper training and
validation clips and for Everything is Remixed's training songs.

``compact``: one gain per frame and channel for the whole high band (the "one gain per frame"
oracle's layout) from a few numbers a frame, those of lightsep.models.high_gain.HighBandGain:
the log energies of the mixture and of the ensemble's vocal estimate in four regions from 1.5
to 10.5 kHz and of the mixture in three above 11.025 kHz, as they are and less their mean over
the 128-frame segment (22); then per region from 8 kHz up the mid's energy over the side's and
the share of it in bins mixed to the centre (30); then the change of the 11 log energies from
the frame before (41), each at the frame and its neighbours. ``--numbers`` takes the first N
of them, ``--hidden`` the heads' sizes (0: linear). Each head is trained with the high-snr
loss (each track as likely as any other) and scored (a) trained on the paper training clips,
on the validation clips, and (b) in five folds over all 93 clips of musdb18-7's training set,
the clips of an artist in one fold, each clip scored by the head that did not see it; beside
them, the oracle gain per frame on the same clips. ``--save CHECKPOINT`` then trains the last
``--hidden`` head on all 93 clips with every number and writes spectral-2stem-fullband: the
ensemble carried over by ``full_band_of`` with that gain (``high_gain``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lightsep.checkpoint import save_checkpoint
from lightsep.data.splits import split_tracks
from lightsep.data.tracks import list_tracks
from lightsep.errors import LightsepError
from lightsep.evaluate import track_references
from lightsep.models.high_gain import CONTEXT, FRAME_FEATURES, HighBandGain
from lightsep.models.spectral import HIGH_BAND_HZ, full_band_centres, full_band_of, interpolation_matrix
from lightsep.separator import resolve_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from full_band import high_passed, snr  # noqa: E402

N_FFT, HOP, RATE = 4096, 1024, 44100
BINS = N_FFT // 2 + 1
LOW_BINS = int(HIGH_BAND_HZ * N_FFT // RATE) + 1  # 1025: the bins below 11.025 kHz
HIGH_BANDS = 16
SEGMENT_FRAMES = 128  # 2.97 s: the full-band model's segments


WINDOW = torch.hann_window(N_FFT, dtype=torch.float64)


def bin_of(hz: float) -> int:
    """The STFT bin at ``hz`` (rounded down)."""
    return int(hz * N_FFT / RATE)


def stft(audio: np.ndarray) -> torch.Tensor:
    return torch.stft(torch.from_numpy(audio.astype(np.float64)), N_FFT, HOP, window=WINDOW, center=True, return_complex=True)


def masked_high_band(mixture: torch.Tensor, mask: torch.Tensor, length: int) -> np.ndarray:
    """The high band of the mixture's spectrum ``(channels, bins, frames)`` times ``mask``
    (above 11.025 kHz; zero below), as a high-passed waveform."""
    full = torch.zeros(mixture.shape, dtype=torch.float64)
    full[:, LOW_BINS:] = mask[..., LOW_BINS:, :] if mask.shape[-2] == BINS else mask
    audio = torch.istft(mixture * full, N_FFT, HOP, window=WINDOW, center=True, length=length).numpy()
    return high_passed(audio, RATE)


def validation_clips(data: str):
    return split_tracks(list_tracks(data, "train"), "paper")["valid"]


def report(rows: dict[str, list[float]]) -> None:
    print(f"{'mask':<46} {'median':>7} {'mean':>7}")
    for name, values in rows.items():
        print(f"{name:<46} {np.median(values):7.2f} {np.mean(values):7.2f}")


def oracles(args) -> None:
    layouts = {}
    for high_bands in (16, 32, 64, 128):
        centres = full_band_centres(BINS, 256, 128, LOW_BINS, high_bands)
        expand = interpolation_matrix(BINS, len(centres), 128, centres).astype(np.float64)
        layouts[high_bands] = (expand, expand / expand.sum(axis=1, keepdims=True))
    rows: dict[str, list[float]] = {"vocals / mixture energy, dB": []}
    for track in validation_clips(args.data):
        references, _ = track_references(track)
        vocals, accompaniment = stft(references["vocals"]), stft(references["accompaniment"])
        mixture = vocals + accompaniment
        reference, mixture_high = high_passed(references["vocals"], RATE), high_passed(references["mixture"], RATE)
        length = reference.shape[-1]
        rows["vocals / mixture energy, dB"].append(float(10 * np.log10(np.sum(reference**2) / np.sum(mixture_high**2))))

        def score(name: str, mask) -> None:
            rows.setdefault(name, []).append(snr(reference, masked_high_band(mixture, torch.as_tensor(mask), length)))

        v, a = vocals.abs().numpy(), accompaniment.abs().numpy()
        score("per bin, amplitude ratio", v / (v + a + 1e-12))
        score("per bin, power ratio (lightsep's oracle-irm)", v**2 / (v**2 + a**2 + 1e-12))
        for high_bands, (expand, pool) in layouts.items():
            for power, kind in ((1, "amplitude"), (2, "power")):
                pv, pa = np.einsum("cfn,bf->cbn", v**power, pool), np.einsum("cfn,bf->cbn", a**power, pool)
                score(f"{high_bands} bands, {kind} ratio", np.einsum("cbn,bf->cfn", pv / (pv + pa + 1e-12), expand))
        high_v, high_x = vocals[:, LOW_BINS:], mixture[:, LOW_BINS:]
        gain = ((high_v * high_x.conj()).real.sum(dim=(0, 1)) / ((high_x.abs() ** 2).sum(dim=(0, 1)) + 1e-12)).clamp(0, 1)
        score("one gain per frame", gain.expand(high_x.shape))
        constant = float(np.clip(np.sum(reference * mixture_high) / np.sum(mixture_high**2), 0, 1))
        score("one gain per clip", torch.full(high_x.shape, constant, dtype=torch.float64))
    report(rows)


def heuristics(args) -> None:
    model = full_band_of(resolve_model("spectral-2stem-ensemble"))
    ranges = {"5.5-10.5 kHz": (5500, 10500), "8-10.5 kHz": (8000, 10500), "3-8 kHz": (3000, 8000)}
    rows: dict[str, list[float]] = {}
    for track in validation_clips(args.data):
        references, _ = track_references(track)
        mixture = stft(references["mixture"])
        reference = high_passed(references["vocals"], RATE)
        with torch.no_grad():
            masks = model.direct_masks(mixture.abs().float()[None])[0, 0].double()  # (channels, bins, frames)
        power = mixture.abs() ** 2
        left, right = mixture[0], mixture[1]
        centre = (2 * (left * right.conj()).real / (left.abs() ** 2 + right.abs() ** 2 + 1e-12)).clamp(0, 1)
        candidates = {}
        for name, (low, high) in ranges.items():
            low, high = bin_of(low), bin_of(high)
            gain = (masks[:, low:high] * power[:, low:high]).sum(dim=1) / (power[:, low:high].sum(dim=1) + 1e-12)
            candidates[f"vocal mask of {name}"] = gain[:, None].expand(mixture.shape)
            candidates[f"vocal mask of {name}, squared"] = (gain**2)[:, None].expand(mixture.shape)
        for exponent in (4, 16, 64):
            candidates[f"centre likeness ^ {exponent}"] = (centre**exponent).expand(mixture.shape)
            gain = candidates["vocal mask of 5.5-10.5 kHz"]
            candidates[f"centre likeness ^ {exponent} x that mask"] = centre**exponent * gain
        for name, mask in candidates.items():
            rows.setdefault(name, []).append(snr(reference, masked_high_band(mixture, mask, reference.shape[-1])))
    report(rows)


# -- heads ------------------------------------------------------------------------------


def band_statistics(mixture: torch.Tensor, vocals: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per frame, channel and high band: the mixture's energy, its correlation with the vocals
    and the vocals' energy; a band-constant mask ``m`` errs by ``m² xx - 2 m xv + vv``."""
    high_x, high_v = mixture[:, LOW_BINS:], vocals[:, LOW_BINS:]
    pooled = lambda values: torch.einsum("cfn,fb->ncb", values.float(), onehot)  # noqa: E731
    return pooled(high_x.abs() ** 2), pooled((high_x.conj() * high_v).real), pooled(high_v.abs() ** 2)


def clip_features(model, mixture: np.ndarray, vocals: np.ndarray, onehot: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(frames, features)``: the band log magnitudes (both channels, every band) and the
    members' decoded features, in segments of 128 frames (2.97 s, as the model separates);
    then the band statistics."""
    spectrum_x, spectrum_v = stft(mixture), stft(vocals)
    features = []
    with torch.no_grad():
        for start in range(0, spectrum_x.shape[-1], SEGMENT_FRAMES):
            bands = model.members[0].band_features(spectrum_x[..., start : start + SEGMENT_FRAMES].abs().float()[None])
            decoded = []
            for member in model.members:
                encoded, _ = member._encode_features(bands)
                recurrent = member.recurrent(encoded)[0]
                decoded.append(member.decode(torch.cat([encoded, recurrent], dim=-1)))
            features.append(torch.cat([bands[0], *(d[0] for d in decoded)], dim=-1))
    return (torch.cat(features), *band_statistics(spectrum_x, spectrum_v, onehot))


class Head(nn.Module):
    """Band log magnitudes and decoded features of a frame -> ``(channels, HIGH_BANDS)``
    vocal masks. ``kind``: linear, mlp or gru."""

    def __init__(self, kind: str, features: int, channels: int = 2, hidden: int = 64):
        super().__init__()
        self.kind, self.channels = kind, channels
        outputs = channels * HIGH_BANDS
        if kind == "linear":
            self.body = nn.Linear(features, outputs)
        elif kind == "mlp":
            self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, outputs))
        else:
            self.inputs = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
            self.gru = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
            self.outputs = nn.Linear(hidden, outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (batch, frames, features)
        if self.kind == "gru":
            logits = self.outputs(self.gru(self.inputs(features))[0])
        else:
            logits = self.body(features)
        return torch.sigmoid(logits).reshape(*logits.shape[:-1], self.channels, HIGH_BANDS)


def scaled(features: torch.Tensor, channels: int = 2) -> torch.Tensor:
    """The log magnitudes brought near unit scale (a fifth); the decoded features as they are."""
    bands = channels * (256 + HIGH_BANDS)
    return torch.cat([features[..., :bands] / 5, features[..., bands:]], dim=-1)


def band_error(mask, xx, xv, vv):
    return mask * mask * xx - 2 * mask * xv + vv


def high_snr_loss(mask, xx, xv, vv, floor: float) -> torch.Tensor:
    """The high-snr loss (docs/training.md) of a vocal ``mask`` and its complement, from the
    band statistics: each example's thresholded SNRs, summed over all but the batch dimension."""
    total = lambda values: values.sum(dim=tuple(range(1, values.dim())))  # noqa: E731
    vocals_error = total(band_error(mask, xx, xv, vv))
    accompaniment_error = total(band_error(1 - mask, xx, xx - xv, xx - 2 * xv + vv))
    mixture = total(xx)
    return (10 * torch.log10(vocals_error + floor * (total(vv) + mixture) + 1e-9)
            + 10 * torch.log10(accompaniment_error + floor * (total(xx - 2 * xv + vv) + mixture) + 1e-9)).mean()  # fmt: skip


def median_snr(head: Head, clips) -> tuple[float, float]:
    values = clip_snrs(lambda clip: head(scaled(clip[0].float())[None])[0], clips)
    return float(np.median(values)), float(np.mean(values))


def clip_snrs(gain_of, clips) -> list[float]:
    """Each clip's vocal SNR above 11.025 kHz with the masks ``gain_of(clip)`` (shaped as the
    clip's band statistics)."""
    values = []
    with torch.no_grad():
        for clip in clips:
            _, xx, xv, vv = clip
            values.append(10 * np.log10(float(vv.sum()) / float(band_error(gain_of(clip), xx, xv, vv).sum())))
    return values


def drawn_segments(clips, chosen, rng, segment: int) -> list[torch.Tensor]:
    """A batch: from each clip in ``chosen``, ``segment`` frames (fewer if one is shorter)
    from a random start, of its features and band statistics, stacked."""
    starts = [int(rng.integers(0, max(1, len(clips[i][0]) - segment))) for i in chosen]
    frames = min(min(len(clips[i][0]) - s, segment) for i, s in zip(chosen, starts))
    return [torch.stack([clips[i][k][s : s + frames].float() for i, s in zip(chosen, starts)]) for k in range(4)]


def train_head(kind: str, clips, valid, steps: int, segment: int = 64, batch: int = 16, floor_db: float = -30.0) -> tuple[float, float]:
    """A head trained with the high-snr loss on ``clips`` (their frames drawn in proportion
    to their length); its validation medians."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    head = Head(kind, clips[0][0].shape[-1])
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    lengths = np.array([len(clip[0]) for clip in clips], dtype=np.float64)
    floor = 10 ** (floor_db / 10)
    for _ in range(steps):
        chosen = rng.choice(len(clips), size=batch, p=lengths / lengths.sum())
        features, xx, xv, vv = drawn_segments(clips, chosen, rng, segment)
        loss = high_snr_loss(head(scaled(features)), xx, xv, vv, floor)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return median_snr(head, valid)


def remixed_clips(model, tracks, count: int, onehot: torch.Tensor, seconds: float = 6.0):
    """``count`` remixes: one track's vocals over another's accompaniment, each cropped at
    random to ``seconds``, the vocals at -6..+3 dB and the accompaniment at -3..+3 dB, the
    vocals' channels swapped half the time."""
    rng = np.random.default_rng(1)
    references = [track_references(track)[0] for track in tracks]
    length = int(seconds * RATE)

    def crop(audio: np.ndarray) -> np.ndarray:
        start = int(rng.integers(0, max(1, audio.shape[-1] - length)))
        return audio[:, start : start + length]

    clips = []
    for _ in range(count):
        vocals = crop(references[rng.integers(len(references))]["vocals"])
        accompaniment = crop(references[rng.integers(len(references))]["accompaniment"])
        n = min(vocals.shape[-1], accompaniment.shape[-1])
        vocals = vocals[:, :n] * 10 ** (rng.uniform(-6, 3) / 20)
        accompaniment = accompaniment[:, :n] * 10 ** (rng.uniform(-3, 3) / 20)
        if rng.random() < 0.5:
            vocals = vocals[::-1]
        clips.append(clip_features(model, (vocals + accompaniment).astype(np.float32), vocals.astype(np.float32), onehot))
    return clips


def heads(args) -> None:
    torch.set_num_threads(1)
    model = full_band_of(resolve_model("spectral-2stem-ensemble"))
    centres = full_band_centres(BINS, 256, 128, LOW_BINS, HIGH_BANDS)[256:]
    nearest = np.argmin(np.abs(np.arange(LOW_BINS, BINS)[:, None] - centres[None]), axis=1)
    onehot = torch.from_numpy(np.eye(HIGH_BANDS, dtype=np.float32)[nearest])  # each high bin to its nearest band
    split = split_tracks(list_tracks(args.data, "train"), "paper")
    training_tracks = split["train"] + [track for more in args.more for track in list_tracks(more, "train")]

    def features_of(tracks):
        clips = []
        for track in tracks:
            references, _ = track_references(track)
            clips.append(clip_features(model, references["mixture"], references["vocals"], onehot))
        return clips

    began = time.time()
    train, valid = features_of(training_tracks), features_of(split["valid"])
    remixes = remixed_clips(model, training_tracks, args.remixes, onehot)
    print(f"features: {len(train)} training tracks, {args.remixes} remixes, {len(valid)} validation clips ({time.time() - began:.0f} s)")
    rows = {}
    for kind in args.kinds:
        rows[f"{kind}, training music"] = train_head(kind, train, valid, args.steps)
        rows[f"{kind}, + {args.remixes} remixes"] = train_head(kind, train + remixes, valid, args.steps)
        rows[f"{kind}, fitted to the validation clips"] = train_head(kind, valid, valid, 2 * args.steps)
        print(f"{kind} done ({time.time() - began:.0f} s)", flush=True)
    print(f"{'head, trained on':<44} {'median':>7} {'mean':>7}")
    for name, (median, mean) in rows.items():
        print(f"{name:<44} {median:7.2f} {mean:7.2f}")


# -- levels -----------------------------------------------------------------------------


def band_energies(audio: np.ndarray, *ranges: tuple[float, float]) -> list[float]:
    """The energy of ``(channels, samples)`` audio in each ``(low, high)`` range of Hz."""
    power = np.abs(np.fft.rfft(audio, axis=-1)) ** 2
    frequencies = np.fft.rfftfreq(audio.shape[-1], 1 / RATE)
    return [float(power[..., (frequencies >= low) & (frequencies < high)].sum()) for low, high in ranges]


def levels(args) -> None:
    split = split_tracks(list_tracks(args.data, "train"), "paper")
    music = {"musdb18-7, paper training clips": split["train"], "musdb18-7, validation clips": split["valid"]}
    music.update({f"{more}, training songs": list_tracks(more, "train") for more in args.more})
    print(f"{'music':<46} {'tracks':>6} {'minutes':>7} {'vs mixture':>11} {'vs 5.5-11k':>11}   (vocals above 11.025 kHz, dB, median)")
    for name, tracks in music.items():
        against_mixture, against_own, samples = [], [], 0
        for track in tracks:
            references, _ = track_references(track)
            samples += references["mixture"].shape[-1]
            high, below = band_energies(references["vocals"], (HIGH_BAND_HZ, RATE), (5500, HIGH_BAND_HZ))
            (mixture_high,) = band_energies(references["mixture"], (HIGH_BAND_HZ, RATE))
            against_mixture.append(10 * np.log10(high / mixture_high))
            against_own.append(10 * np.log10(high / below))
        print(f"{name:<46} {len(tracks):6d} {samples / RATE / 60:7.1f} {np.median(against_mixture):11.1f} {np.median(against_own):11.1f}")


# -- compact ----------------------------------------------------------------------------

REGION_ENERGIES = 22  # of HighBandGain's FRAME_FEATURES: the region energies, as they are and centred


def compact_clip(model, mixture: np.ndarray, vocals: np.ndarray) -> tuple[torch.Tensor, ...]:
    """A clip's compact features ``(frames, channels, FRAME_FEATURES * len(CONTEXT))``:
    :class:`HighBandGain`'s numbers a frame, in segments of 128 frames as the model
    separates, with their context; and the whole high band's statistics ``(frames,
    channels)``."""
    spectrum_x, spectrum_v = stft(mixture), stft(vocals)
    gain = HighBandGain(RATE, N_FFT)
    features = []
    with torch.no_grad():
        for start in range(0, spectrum_x.shape[-1], SEGMENT_FRAMES):
            piece = spectrum_x[None, ..., start : start + SEGMENT_FRAMES]
            real, imag = piece.real.float(), piece.imag.float()
            vocal_mask = model.direct_masks(piece.abs().float())[:, 0]
            features.append(gain.frame_features(real, imag, vocal_mask)[0])
    statistics = band_statistics(spectrum_x, spectrum_v, torch.ones(BINS - LOW_BINS, 1))  # the whole high band as one
    return (HighBandGain.with_context(torch.cat(features)).float(), *(value[..., 0] for value in statistics))


def train_gain_head(clips, hidden: int, numbers: int, steps: int, segment: int = 64, batch: int = 16, floor_db: float = -30.0) -> HighBandGain:
    """A :class:`HighBandGain` reading the first ``numbers`` of a frame's numbers (``clips``'
    features, with context, hold those alone), standardised on them and trained with the
    high-snr loss, each step on ``batch`` segments of tracks drawn uniformly (a long song no
    likelier than a short clip)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    head = HighBandGain(RATE, N_FFT, hidden, numbers)
    head.standardise(torch.cat([clip[0] for clip in clips]))
    optimizer = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-2)
    for _ in range(steps):
        features, xx, xv, vv = drawn_segments(clips, rng.integers(len(clips), size=batch), rng, segment)
        loss = high_snr_loss(head.gain_of(features), xx, xv, vv, 10 ** (floor_db / 10))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head


def artist_folds(names: list[str], folds: int = 5) -> np.ndarray:
    """A fold for each track (``"Artist - Title"``), every artist's tracks in one fold, the
    artists dealt to the folds in a seeded random order."""
    artists = sorted({name.split(" - ")[0] for name in names})
    order = np.random.default_rng(0).permutation(len(artists))
    fold_of = {artists[index]: position % folds for position, index in enumerate(order)}
    return np.array([fold_of[name.split(" - ")[0]] for name in names])


def compact(args) -> None:
    torch.set_num_threads(1)
    model = full_band_of(resolve_model("spectral-2stem-ensemble"))
    split = split_tracks(list_tracks(args.data, "train"), "paper")
    tracks = split["train"] + split["valid"]
    references = [track_references(track)[0] for track in tracks]
    clips = [compact_clip(model, refs["mixture"], refs["vocals"]) for refs in references]
    ntrain = len(split["train"])
    oracle = lambda clip: (clip[2] / (clip[1] + 1e-12)).clamp(0, 1)  # noqa: E731
    folds = artist_folds([track.name for track in tracks])
    rows = {"oracle gain per frame": (clip_snrs(oracle, clips[ntrain:]), clip_snrs(oracle, clips))}
    for numbers in args.numbers:
        # the first `numbers` of each context frame's
        keep = torch.cat([torch.arange(numbers) + FRAME_FEATURES * k for k in range(len(CONTEXT))])
        subset = [(clip[0][..., keep], *clip[1:]) for clip in clips] if numbers < FRAME_FEATURES else clips
        for hidden in args.hidden:
            head = train_gain_head(subset[:ntrain], hidden, numbers, args.steps)
            on_valid = clip_snrs(lambda clip: head.gain_of(clip[0]), subset[ntrain:])
            crossed = np.zeros(len(clips))
            for fold in range(folds.max() + 1):
                head = train_gain_head([clip for clip, f in zip(subset, folds) if f != fold], hidden, numbers, args.steps)
                held_out = np.flatnonzero(folds == fold)
                crossed[held_out] = clip_snrs(lambda clip: head.gain_of(clip[0]), [subset[i] for i in held_out])
            name = f"{numbers} numbers, " + (f"{hidden} hidden" if hidden else "linear")
            rows[name] = (on_valid, list(crossed))
    print(f"{len(clips) - ntrain} validation clips (heads trained on {ntrain}); {len(clips)} clips in {folds.max() + 1} folds by artist")
    print(f"{'gain':<24} {'validation':>10} {'mean':>7} {'folds':>7} {'mean':>7} {'of those, validation':>21} {'fold medians':>13}")
    for name, (on_valid, crossed) in rows.items():
        crossed = np.array(crossed)
        per_fold = [np.median(crossed[folds == fold]) for fold in range(folds.max() + 1)]
        print(f"{name:<24} {np.median(on_valid):10.2f} {np.mean(on_valid):7.2f} {np.median(crossed):7.2f} {np.mean(crossed):7.2f}"
              f" {np.median(crossed[ntrain:]):21.2f} {min(per_fold):6.2f}-{max(per_fold):.2f}")  # fmt: skip
    if args.save:
        hidden = args.hidden[-1]
        head = train_gain_head(clips, hidden, FRAME_FEATURES, args.steps)  # all 93 clips, every number
        full = full_band_of(resolve_model("spectral-2stem-ensemble"), high_gain=hidden)
        full.high_gain_net.load_state_dict(head.state_dict())
        full.name = "spectral-2stem-fullband"
        metadata = {"high_gain": {"command": " ".join(["experiments/high_band.py", *sys.argv[1:]]), "clips": len(clips), "hidden": hidden,
                                  "steps": args.steps, "data": args.data, "base": "spectral-2stem-ensemble"}}  # fmt: skip
        print(f"saved {save_checkpoint(full, args.save, metadata)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", choices=("oracles", "heuristics", "heads", "levels", "compact"))
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--more", nargs="*", default=["data/everythingisremixed"], help="more training music (their train/ tracks), for heads; none with --more alone")
    parser.add_argument("--remixes", type=int, default=400)
    parser.add_argument("--steps", type=int, default=1500, help="training steps of each head (twice as many fitted to validation)")
    parser.add_argument("--kinds", nargs="+", default=["linear", "mlp", "gru"], choices=("linear", "mlp", "gru"))
    parser.add_argument("--numbers", nargs="+", type=int, default=[REGION_ENERGIES, FRAME_FEATURES], help="compact: the first N of the gain's numbers a frame (22: region energies; 30: and stereo; 41: and their change)")
    parser.add_argument("--hidden", nargs="+", type=int, default=[0, 16], help="compact: hidden units of each head (0: linear)")
    parser.add_argument("--save", metavar="CHECKPOINT", help="compact: then train the last --hidden head on all the clips with every number and save spectral-2stem-fullband")
    args = parser.parse_args()
    if not all(1 <= numbers <= FRAME_FEATURES for numbers in args.numbers) or min(args.hidden) < 0:
        parser.error(f"--numbers are from 1 to {FRAME_FEATURES}, --hidden 0 or more")
    torch.set_num_threads(1)
    try:
        {"oracles": oracles, "heuristics": heuristics, "heads": heads, "levels": levels, "compact": compact}[args.study](args)
    except LightsepError as exc:  # a missing or unreadable folder, track or model: one line
        parser.error(str(exc))


if __name__ == "__main__":
    main()
