"""``lightsep check-data``: what a dataset folder holds, and what is wrong with it."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from ..audio import AudioError, audio_info
from .tracks import CCMIXTER_FILES, MUSDB_STREAMS, Track, detect_layout, list_tracks


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
    return tuple(CCMIXTER_FILES) if layout == "ccmixter" else MUSDB_STREAMS


def check_track(track: Track) -> TrackReport:
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


def check_data(root: str | os.PathLike) -> DataReport:
    """Detect the layout of ``root`` and check every track."""
    layout = detect_layout(root)
    tracks = list_tracks(root)
    return DataReport(layout, [check_track(t) for t in tracks])
