"""``lightsep check-data``: what a dataset folder holds, and what is wrong with it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..audio import AudioError, audio_info, read_audio
from .tracks import CCMIXTER_FILES, INSTRUMENTAL_SOURCES, MUSDB_STREAMS, Track, detect_layout, list_tracks


@dataclass
class TrackReport:
    name: str
    subset: str
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    stems: list[str]
    problems: list[str] = field(default_factory=list)


@dataclass
class DataReport:
    layout: str
    tracks: list[TrackReport]

    @property
    def problems(self) -> int:
        return sum(len(t.problems) for t in self.tracks)

    def as_dict(self) -> dict:
        return {"layout": self.layout, "tracks": [asdict(t) for t in self.tracks]}


def expected_stems(layout: str) -> tuple[str, ...]:
    if layout == "instrumental":
        return INSTRUMENTAL_SOURCES  # one file: no mixture to compare with
    return tuple(CCMIXTER_FILES) if layout == "ccmixter" else MUSDB_STREAMS


MIXTURE_RESIDUAL_DB = -30.0
"""A mixture whose difference from the sum of its stems is louder than this, relative to the
mixture, is reported."""
LOSSY_MIXTURE_RESIDUAL_DB = -15.0
"""The same, where any of the track's files is lossy: each stream is coded on its own, and the
coding noise alone leaves a difference (about -25 dB on the MUSDB18 7-second clips when
this was chosen)."""
LOSSY_EXTENSIONS = {".mp4", ".m4a", ".aac", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".wma", ".mka", ".m4b", ".mov"}


def check_content(track: Track) -> list[str]:
    """Problems in the samples themselves: NaN or infinite values, and a mixture that is not
    the sum of its stems."""
    problems, audio = [], {}
    for name in expected_stems(track.layout):
        ref = track.stems[name]
        try:
            samples, rate = read_audio(ref.path, stream=ref.stream)
        except AudioError as exc:
            return [f"unreadable {name}: {exc}"]
        bad = ~np.isfinite(samples)
        if bad.any():
            first = int(np.argmax(bad.any(axis=0)))
            problems.append(f"{name} holds {int(bad.sum())} NaN or infinite sample(s), the first at {first / rate:.3f} s")
        audio[name] = samples
    if problems or "mixture" not in audio:
        return problems
    length = min(a.shape[-1] for a in audio.values())
    mixture = audio.pop("mixture")[..., :length].astype(np.float64)
    residual = mixture - sum(a[..., :length].astype(np.float64) for a in audio.values())
    energy = float(np.sum(mixture**2))
    if energy > 0:
        level = 10 * np.log10(max(float(np.sum(residual**2)), 1e-300) / energy)
        lossy = any(ref.path.suffix.lower() in LOSSY_EXTENSIONS for ref in track.stems.values())
        if level > (LOSSY_MIXTURE_RESIDUAL_DB if lossy else MIXTURE_RESIDUAL_DB):
            problems.append(f"the mixture is not the sum of its stems (difference at {level:.1f} dB of the mixture)")
    elif np.any(residual):
        problems.append("the mixture is silent but its stems are not")
    return problems


def check_track(track: Track, content: bool = True) -> TrackReport:
    """Headers (stems present and readable, equal rates, channels and lengths) and, with
    ``content``, the samples (:func:`check_content`)."""
    problems = []
    infos = {}
    for name in expected_stems(track.layout):
        if name not in track.stems:
            problems.append(f"missing stem {name}")
            continue
        ref = track.stems[name]
        try:
            infos[name] = audio_info(ref.path, ref.stream)
        except AudioError as exc:
            problems.append(f"unreadable {name}: {exc}")
    rates = {i.sample_rate for i in infos.values()}
    if len(rates) > 1:
        problems.append("sample rates differ between stems: " + ", ".join(f"{n} {i.sample_rate}" for n, i in infos.items()))
    channels = {i.channels for i in infos.values()}
    if len(channels) > 1:
        problems.append("channel counts differ between stems: " + ", ".join(f"{n} {i.channels}" for n, i in infos.items()))
    # lengths: compare durations (robust to a rate mismatch); a compressed container's
    # durations are only known to about a codec frame (2048 samples at 44.1 kHz)
    tolerance = 0.05 if track.layout == "musdb18" else 0.5 / max(rates or {1})
    durations = {n: i.duration for n, i in infos.items()}
    if durations and max(durations.values()) - min(durations.values()) > tolerance:
        problems.append("lengths differ between stems: " + ", ".join(f"{n} {d:.3f} s" for n, d in durations.items()))
    if content and infos and len(problems) == 0:
        problems += check_content(track)
    first = next(iter(infos.values()), None)
    return TrackReport(
        name=track.name,
        subset=track.subset,
        duration_s=round(min(durations.values()), 3) if durations else None,
        sample_rate=first.sample_rate if first else None,
        channels=first.channels if first else None,
        stems=[n for n in expected_stems(track.layout) if n in infos],
        problems=problems,
    )


def check_data(root: str | os.PathLike, content: bool = True) -> DataReport:
    """Detect the layout of ``root`` and check every track (its samples too, with
    ``content``: every file is decoded)."""
    layout = detect_layout(root)
    tracks = list_tracks(root)
    return DataReport(layout, [check_track(t, content) for t in tracks])
