"""Multitrack datasets on disk: finding their layout, listing their tracks, loading stems.

Supported layouts:

- ``musdb18``: ``{train,test}/<track>.stem.mp4``, audio streams 0-4 = mixture, drums, bass,
  other, vocals;
- ``musdb18hq``: ``{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav``;
- ``procedural``: the MUSDB18-HQ layout written by ``lightsep synth``, recognised by its
  ``lightsep-corpus.json`` manifest;
- ``ccmixter``: ``<track>/mix.wav``, ``source-01.wav`` (accompaniment), ``source-02.wav``
  (voice);
- ``instrumental``: ``{train,test}/<track>.{wav,flac,ogg,opus,mp3,m4a}``, one file per
  track, music without vocals (game soundtracks, backing tracks). Its one raw source is the
  accompaniment; training pairs it with vocals from the other datasets' tracks
  (:class:`lightsep.data.sampler.TrainingSegments`).

A track's *raw sources* are the stems the mixture is the sum of: drums, bass, other and
vocals for the MUSDB18 layouts, accompaniment and vocals for CCMixter. Training *targets*
are built from them (:func:`make_targets`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LightsepError
from .cache import AudioCache

MUSDB_STREAMS = ("mixture", "drums", "bass", "other", "vocals")
MUSDB_SOURCES = ("drums", "bass", "other", "vocals")
CCMIXTER_FILES = {"mixture": "mix.wav", "accompaniment": "source-01.wav", "vocals": "source-02.wav"}
CCMIXTER_SOURCES = ("accompaniment", "vocals")
INSTRUMENTAL_SOURCES = ("accompaniment",)
INSTRUMENTAL_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")
CORPUS_MANIFEST = "lightsep-corpus.json"
LAYOUTS = ("musdb18", "musdb18hq", "procedural", "ccmixter", "instrumental")


class DatasetError(LightsepError):
    """A dataset folder is missing, empty or of no known layout."""


@dataclass(frozen=True)
class StemRef:
    """Where one stem lives: a file, and the audio stream inside it (for ``.stem.mp4``)."""

    path: Path
    stream: int = 0


@dataclass
class Track:
    name: str
    subset: str
    layout: str
    stems: dict[str, StemRef] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """The raw sources whose sum is the mixture."""
        if self.layout == "instrumental":
            return INSTRUMENTAL_SOURCES
        return CCMIXTER_SOURCES if self.layout == "ccmixter" else MUSDB_SOURCES

    def load(
        self,
        sample_rate: int = 22050,
        channels: int = 1,
        cache: AudioCache | None = None,
        mixture: bool = False,
        strict: bool = False,
    ) -> dict[str, np.ndarray]:
        """The raw sources (and the mixture file if ``mixture``), each ``(channels, samples)``
        at ``sample_rate``, trimmed to a common length. With a cache the arrays are
        read-only memory maps of the cached files. ``strict`` (for scoring) refuses stems
        whose lengths differ by more than 0.1 s, and NaN or infinite samples."""
        cache = cache or AudioCache.default()
        names = list(self.sources) + (["mixture"] if mixture else [])
        missing = [n for n in names if n not in self.stems]
        if missing:
            raise DatasetError(f"track {self.name!r}: missing stem(s) {', '.join(missing)}")
        audio = {n: cache.load(self.stems[n].path, sample_rate, channels, self.stems[n].stream) for n in names}
        length = min(a.shape[-1] for a in audio.values())
        if strict:
            longest = max(audio, key=lambda n: audio[n].shape[-1])
            shortest = min(audio, key=lambda n: audio[n].shape[-1])
            if audio[longest].shape[-1] - length > sample_rate // 10:
                raise DatasetError(f"track {self.name!r}: its {shortest} ({length / sample_rate:.2f} s) is shorter than its "
                                   f"{longest} ({audio[longest].shape[-1] / sample_rate:.2f} s); the stems must cover the track")  # fmt: skip
            for n, a in audio.items():
                if not np.isfinite(a).all():
                    raise DatasetError(f"track {self.name!r}: its {n} ({self.stems[n].path}) holds NaN or infinite samples")
        return {n: a[..., :length] for n, a in audio.items()}


def make_targets(sources: dict[str, np.ndarray], targets: tuple[str, ...] | list[str]) -> np.ndarray:
    """Stack the targets a model estimates from a track's raw sources.

    ``vocals``, ``drums``, ``bass``, ``other`` are taken as they are; ``accompaniment`` is the
    sum of every raw source but the vocals. Returns ``(len(targets), channels, samples)``.
    """
    out = []
    for name in targets:
        if name in sources:
            out.append(sources[name])
        elif name == "accompaniment":
            out.append(sum(a for n, a in sources.items() if n not in ("vocals", "mixture")))
        else:
            raise DatasetError(f"target {name!r} cannot be made from the sources {', '.join(sources)}")
    return np.stack(out)


# --------------------------------------------------------------------------------------
# Layout detection
# --------------------------------------------------------------------------------------


def detect_layout(root: str | os.PathLike) -> str:
    """Which layout ``root`` holds; raises :class:`DatasetError` if none."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    subsets = [root / s for s in ("train", "test") if (root / s).is_dir()]
    if subsets:
        if any(next(s.glob("*.stem.mp4"), None) for s in subsets):
            return "musdb18"
        if any(_instrumental_files(s) for s in subsets):
            return "instrumental"
        if any(d.is_dir() for s in subsets for d in s.iterdir()):
            return "procedural" if (root / CORPUS_MANIFEST).exists() else "musdb18hq"
    if any((d / "mix.wav").exists() or (d / "source-02.wav").exists() for d in root.iterdir() if d.is_dir()):
        return "ccmixter"
    raise DatasetError(
        f"{root}: not a known dataset layout (MUSDB18: train/ and test/ with .stem.mp4 files; "
        "MUSDB18-HQ or a lightsep corpus: train/<track>/*.wav; CCMixter: <track>/mix.wav; "
        "instrumental: train/<track>.ogg and other audio files)"
    )


def _instrumental_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder`` (an instrumental dataset's subset), sorted."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in INSTRUMENTAL_EXTENSIONS)  # fmt: skip


def list_tracks(root: str | os.PathLike, subset: str | None = None) -> list[Track]:
    """Every track under ``root`` (of subset ``train`` or ``test`` only, if given), sorted by
    subset and name. Stems that are missing on disk are simply absent from ``Track.stems``."""
    root = Path(root)
    layout = detect_layout(root)
    tracks: list[Track] = []
    if layout == "ccmixter":
        for folder in sorted(d for d in root.iterdir() if d.is_dir()):
            # a link to nothing counts as the stem, so that reading it names the broken link
            stems = {k: StemRef(folder / f) for k, f in CCMIXTER_FILES.items() if (folder / f).exists() or (folder / f).is_symlink()}
            tracks.append(Track(folder.name, "train", layout, stems))
        return [t for t in tracks if subset in (None, t.subset)]
    for sub in ("train", "test"):
        if subset not in (None, sub) or not (root / sub).is_dir():
            continue
        if layout == "instrumental":
            for path in _instrumental_files(root / sub):
                tracks.append(Track(path.stem, sub, layout, {"accompaniment": StemRef(path)}))
        elif layout == "musdb18":
            for path in sorted((root / sub).glob("*.stem.mp4")):
                stems = {name: StemRef(path, k) for k, name in enumerate(MUSDB_STREAMS)}
                tracks.append(Track(path.name[: -len(".stem.mp4")], sub, layout, stems))
        else:
            for folder in sorted(d for d in (root / sub).iterdir() if d.is_dir() and not d.name.startswith(".")):
                stems = {n: StemRef(folder / f"{n}.wav") for n in MUSDB_STREAMS
                         if (folder / f"{n}.wav").exists() or (folder / f"{n}.wav").is_symlink()}  # fmt: skip
                tracks.append(Track(folder.name, sub, layout, stems))
    return tracks
