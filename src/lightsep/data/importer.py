"""``lightsep import-stems``: a folder of per-instrument stem files -> one MUSDB18-HQ track.

A multitrack session exported as one file per instrument (``Song_Stem_KICK.m4a``,
``Song_Stem_BGVOX 1.m4a``, ...) becomes ``DEST/<subset>/<track>/{vocals,drums,bass,other,
mixture}.wav``: 44.1 kHz, stereo, 16-bit, every stem the sum of its files, and the mixture
the exact sum of the four stems (the 16-bit values add up without rounding).

Each file goes to a stem by the first rule that matches, in this order:

1. the user's TOML file (``--rules``): ``[files]`` maps a file name to a stem, ``[patterns]``
   maps a shell pattern (``*PIANO*``, case-insensitive) to a stem; ``skip`` leaves the file
   out;
2. the words of its name (:func:`stem_by_name`): a master or mixdown of the whole song is
   skipped; lead and backing vocals and choirs are vocals; bass, sub and 808 are bass (a
   "bass drum" is drums); a named pitched instrument (synth, piano, pad, melody, ...) is
   other; kit pieces, percussion, beats, breaks and loops are drums;
3. everything else is ``other``.

The words are taken from the part of the name after ``_Stem_`` when there is one (the song's
name is not the instrument's), split at anything that is not a letter or digit. Copies of
one stem that differ only by a suffix such as ``_mobile`` are counted once: the copy without
the suffix when it can be read, otherwise the first that can.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import AudioError, read_audio, write_audio
from ..errors import LightsepError
from ..fileio import OutputSet, refuse_existing

SAMPLE_RATE = 44100
CHANNELS = 2
FULL_SCALE = 32767
STEMS = ("vocals", "drums", "bass", "other")  # MUSDB18's sources
AUDIO_EXTENSIONS = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff", ".m4a", ".mp4", ".aac", ".opus", ".wma", ".caf"}
COPY_SUFFIX = re.compile(r"([ _-](mobile|copy|low|lq|preview)|[ _-]?\(\d+\))$", re.IGNORECASE)

# the words of a file's instrument name that decide its stem; see stem_by_name for the order
MIX_WORDS = frozenset({"mixture", "master", "mastered", "premaster", "mixdown", "fullmix", "instrumental"})
"""A file named with one of these is the whole song mixed (MUSDB18's and lightsep's ``mixture.wav``
included): left out of the stems, and said so."""
VOCAL_WORDS = frozenset({"vox", "vocal", "vocals", "voice", "voices", "bgv", "bgvs", "choir", "choirs", "acapella",
                         "adlib", "adlibs", "lead", "singer", "sung", "spoken", "rap"})  # fmt: skip
VOCAL_FRAGMENTS = ("vox", "vocal", "voice", "choir", "bgv", "acapella", "adlib")
BASS_WORDS = frozenset({"bass", "bassline", "sub", "subbass", "808"})
PITCHED_WORDS = frozenset({"synth", "guitar", "gtr", "piano", "keys", "organ", "pad", "pads", "arp", "pluck", "strings",
                           "brass", "horn", "horns", "sax", "flute", "melody", "chord", "chords", "mallet", "marimba",
                           "bell", "bells"})  # fmt: skip
DRUM_WORDS = frozenset({"kick", "kik", "snare", "sn", "snr", "hh", "hihat", "hihats", "hat", "hats", "cymbal", "cymbals",
                        "crash", "ride", "tom", "toms", "perc", "percs", "prc", "percussion", "drum", "drums", "beat",
                        "beats", "break", "breaks", "breakbeat", "loop", "loops", "tops", "clap", "claps", "shaker",
                        "tamb", "tambourine", "conga", "congas", "bongo", "bongos", "rim", "rimshot", "cowbell", "kit",
                        "overhead", "overheads"})  # fmt: skip
DRUM_FRAGMENTS = ("drum", "snare", "hihat", "cymbal", "perc", "kick", "clap")


class StemImportError(LightsepError):
    """The stems cannot be imported (nothing readable, a clipping mixture, bad rules)."""


@dataclass
class Assignment:
    """Where one file goes: ``stem`` is one of :data:`STEMS`, ``skip`` (left out by the
    user's rules) or ``duplicate`` (another copy of the same stem is used)."""

    path: Path
    stem: str
    reason: str


def instrument_name(path: Path) -> str:
    """The part of a file's name that names the instrument: after ``_Stem_`` if present,
    without the extension or a copy suffix such as ``_mobile``."""
    name = path.name[: -len(path.suffix)] if path.suffix else path.name
    if "_stem_" in name.lower():
        name = name[name.lower().index("_stem_") + len("_stem_") :]
    return COPY_SUFFIX.sub("", name).strip()


def copy_key(path: Path) -> str:
    """Files with the same key are copies of one stem (``X.m4a`` and ``X_mobile.m4a``)."""
    name = path.name[: -len(path.suffix)] if path.suffix else path.name
    return COPY_SUFFIX.sub("", name).strip().lower()


def stem_by_name(path: Path) -> tuple[str, str]:
    """``(stem, reason)`` from the words of the file's instrument name, asking in order: a
    mix of the whole song (skipped)? a voice? a bass drum (drums)? a bass? a pitched
    instrument (other, so that a "melody break" is not a drum break)? a drum? Else other."""
    words = re.findall(r"[a-z0-9]+", instrument_name(path).lower())
    present = set(words)

    def find(exact: frozenset[str], fragments: tuple[str, ...] = ()) -> str | None:
        return next((w for w in words if w in exact or any(f in w for f in fragments)), None)

    if word := find(MIX_WORDS):
        return "skip", f"name word {word!r}: a mix of the whole song, not one part"
    vocal = find(VOCAL_WORDS - {"lead"}, VOCAL_FRAGMENTS)
    if vocal is None and "lead" in present and not (PITCHED_WORDS | DRUM_WORDS | BASS_WORDS) & present:
        vocal = "lead"  # a lead with no instrument named is the lead vocal
    if vocal:
        return "vocals", f"name word {vocal!r}"
    if "bass" in present and {"drum", "drums"} & present:
        return "drums", "a bass drum is the kick"
    if word := find(BASS_WORDS):
        return "bass", f"name word {word!r}"
    if word := find(PITCHED_WORDS):
        return "other", f"name word {word!r}: a pitched instrument"
    if word := find(DRUM_WORDS, DRUM_FRAGMENTS):
        return "drums", f"name word {word!r}"
    return "other", "no vocal, drum or bass word in the name"


@dataclass
class Rules:
    """The user's overrides: exact file names and shell patterns -> stem or ``skip``."""

    files: dict[str, str]
    patterns: dict[str, str]

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> Rules:
        if path is None:
            return cls({}, {})
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StemImportError(f"{path}: cannot read the rules ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise StemImportError(f"{path}: not a valid UTF-8 TOML file ({exc})") from None
        unknown = sorted(set(data) - {"files", "patterns"})
        if unknown:
            raise StemImportError(f"{path}: unknown table [{unknown[0]}]; the rules have [files] and [patterns]")
        tables = {}
        for table in ("files", "patterns"):
            entries = data.get(table, {})
            if not isinstance(entries, dict):
                raise StemImportError(f"{path}: [{table}] must be a table of \"name\" = \"stem\"")
            for key, value in entries.items():
                if value not in (*STEMS, "skip"):
                    raise StemImportError(f"{path}: [{table}] {key!r} = {value!r}; a stem is one of {', '.join(STEMS)} or skip")
            tables[table] = dict(entries)
        return cls(tables["files"], tables["patterns"])

    def match(self, path: Path) -> tuple[str, str] | None:
        if path.name in self.files:
            return self.files[path.name], "rules file [files]"
        for pattern, stem in self.patterns.items():
            if fnmatch.fnmatch(path.name.lower(), pattern.lower()):
                return stem, f"rules file pattern {pattern!r}"
        return None


def audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise StemImportError(f"{folder}: no such folder")
    # every entry with an audio file's name but a folder: a FIFO, a device or a broken link is
    # refused by the reader in one line, not skipped in silence
    return sorted(p for p in folder.iterdir() if not p.is_dir() and p.suffix.lower() in AUDIO_EXTENSIONS
                  and not p.name.startswith("."))  # fmt: skip


def plan_import(folder: str | os.PathLike, rules: Rules) -> list[Assignment]:
    """Every audio file of ``folder`` and where it goes (nothing is read but names)."""
    files = audio_files(Path(folder))
    if not files:
        raise StemImportError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))})")
    plan = []
    for path in files:
        chosen = rules.match(path)
        stem, reason = chosen if chosen else stem_by_name(path)
        plan.append(Assignment(path, stem, reason))
    for copies in copy_groups(plan):
        for other in copies[1:]:
            other.reason = f"a copy of {copies[0].path.name} ({other.stem})"
            other.stem = "duplicate"
    return plan


def copy_groups(plan: list[Assignment]) -> list[list[Assignment]]:
    """The files of ``plan`` that are not skipped, grouped by :func:`copy_key`; in each
    group the preferred copy (without a copy suffix, then by name) comes first."""
    groups: dict[str, list[Assignment]] = {}
    for item in plan:
        if item.stem != "skip":
            groups.setdefault(copy_key(item.path), []).append(item)
    for copies in groups.values():
        copies.sort(key=lambda a: (COPY_SUFFIX.search(a.path.stem) is not None, a.path.name))
    return list(groups.values())


@dataclass
class ImportReport:
    folder: Path
    seconds: float
    files: dict[str, list[str]]  # stem -> the files summed into it
    warnings: list[str]


def track_name_of(name: str) -> str:
    """``name`` if it can name a track folder inside ``DEST/<subset>/``: one path component,
    not ``.`` or ``..``, not hidden, no control characters."""
    if (not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name
            or any(ord(c) < 32 for c in name)):  # fmt: skip
        raise StemImportError(f"track name {name!r}: give a plain folder name (no '/', not '.' or '..', not hidden)")
    return name


COPY_CORRELATION = 0.99
"""Two files with a copy's name are copies only if their waveforms correlate this well
(normalised, so a copy at another level or a lower-bitrate encoding, such as Everything is
Remixed's ``_mobile`` files, still is one: about 20 dB of agreement once the level is matched)."""


def _same_audio(a: np.ndarray, b: np.ndarray) -> bool:
    if abs(a.shape[-1] - b.shape[-1]) > SAMPLE_RATE // 10:
        return False
    n = min(a.shape[-1], b.shape[-1])
    x, y = a[:, :n].astype(np.float64).ravel(), b[:, :n].astype(np.float64).ravel()
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    if norms == 0.0:
        return not x.any() and not y.any()
    return float(np.dot(x, y)) / norms >= COPY_CORRELATION


def _read(path: Path) -> np.ndarray:
    audio, _ = read_audio(path, SAMPLE_RATE, CHANNELS)
    if not np.isfinite(audio).all():
        raise StemImportError(f"{path}: holds NaN or infinite samples")
    return audio


def import_stems(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    name: str | None = None,
    subset: str = "train",
    rules: Rules | None = None,
    gain_db: float = 0.0,
    force: bool = False,
) -> ImportReport:
    """Import the stem files of ``source`` as track ``DEST/<subset>/<name>`` (default name:
    the folder's). Raises :class:`StemImportError` with one line for a folder with nothing
    readable, a stem or mixture that would clip, or an existing track without ``force``;
    nothing is written then."""
    source = Path(source)
    if not (isinstance(gain_db, (int, float)) and math.isfinite(gain_db) and -120 <= gain_db <= 120):
        raise StemImportError(f"--gain {gain_db}: must be a finite level in dB from -120 to 120")
    name = track_name_of(name if name is not None else source.resolve().name)
    track = Path(dest) / subset / name
    if source.resolve() == track.resolve() or track.resolve() in source.resolve().parents:
        raise StemImportError(f"{source}: is the track it would be imported as ({track}); import it into another DEST")
    outputs = [track / f"{s}.wav" for s in (*STEMS, "mixture")]
    plan = plan_import(source, rules or Rules({}, {}))
    refuse_existing(outputs, force, inputs=[item.path for item in plan])
    warnings, sums, used = [], {s: None for s in STEMS}, {s: [] for s in STEMS}
    for item in plan:
        if item.stem == "skip" and "a mix of the whole song" in item.reason:
            warnings.append(f"{item.path.name}: left out, the whole song mixed ({item.reason.split(':')[0]}); "
                            "the mixture written is the sum of the stems")  # fmt: skip
    def add(stem: str, audio: np.ndarray, path: Path) -> None:
        if not np.any(audio):
            warnings.append(f"{path.name} is silent")
        total = sums[stem]
        if total is None or total.shape[-1] < audio.shape[-1]:
            grown = np.zeros((CHANNELS, audio.shape[-1]), np.float64)
            if total is not None:
                grown[:, : total.shape[-1]] = total
            total = grown
        total[:, : audio.shape[-1]] += audio
        sums[stem] = total
        used[stem].append(path.name)

    for copies in copy_groups(plan):
        stem = copies[0].stem  # the others are marked as its duplicates
        audio, errors, chosen = None, [], None
        for index, candidate in enumerate(copies):  # the first copy that can be read
            try:
                audio, chosen = _read(candidate.path), index
                break
            except AudioError as exc:
                errors.append(str(exc))
        if audio is None:
            raise StemImportError(errors[0])
        if len(errors):
            warnings.append(f"{errors[0]}; used {copies[chosen].path.name} instead")
        add(stem, audio, copies[chosen].path)
        for other in copies[chosen + 1 :]:  # a copy by name only counts once if it is the same audio
            try:
                theirs = _read(other.path)
            except AudioError:
                warnings.append(f"{other.path.name}: skipped as a copy of {copies[chosen].path.name} (unreadable)")
                continue
            if _same_audio(audio, theirs):
                warnings.append(f"{other.path.name}: skipped, a copy of {copies[chosen].path.name}")
            else:
                other_stem = (rules or Rules({}, {})).match(other.path) or stem_by_name(other.path)
                warnings.append(f"{other.path.name}: named like {copies[chosen].path.name} but other audio: imported too")
                add(other_stem[0] if other_stem[0] != "skip" else stem, theirs, other.path)
    length = max((s.shape[-1] for s in sums.values() if s is not None), default=0)
    if length == 0:
        raise StemImportError(f"{source}: every file was skipped")
    gain = 10 ** (gain_db / 20)
    ints = {}
    for stem in STEMS:
        audio = np.zeros((CHANNELS, length), np.float64)
        if sums[stem] is None:
            warnings.append(f"no file went to {stem}: {stem}.wav is silent")
        else:
            audio[:, : sums[stem].shape[-1]] = sums[stem]
        scaled = np.rint(audio * gain * 32768.0)
        _refuse_clipping(scaled, f"{source}: {stem}")
        ints[stem] = scaled.astype(np.int32)
    mixture = sum(ints.values())
    _refuse_clipping(mixture, f"{source}: the mixture of the stems")
    with OutputSet() as outputs:
        for stem, audio in {**ints, "mixture": mixture}.items():
            write_audio(outputs.path(track / f"{stem}.wav"), audio.astype(np.int16), SAMPLE_RATE, format="wav")
    return ImportReport(track, length / SAMPLE_RATE, used, warnings)


def _refuse_clipping(samples: np.ndarray, what: str) -> None:
    """Raise :class:`StemImportError` if 16-bit ``samples`` exceed full scale, naming the
    ``--gain`` that would avoid it."""
    peak = float(np.abs(samples).max(initial=0))
    if peak > FULL_SCALE:
        raise StemImportError(f"{what} would clip ({20 * np.log10(peak / 32768):+.1f} dBFS); "
                              f"import with --gain {-np.ceil(20 * np.log10(peak / FULL_SCALE)):.0f} or lower")  # fmt: skip


def song_folders(root: str | os.PathLike) -> list[Path]:
    """The sub-folders of ``root`` that hold audio files, for ``--each``."""
    root = Path(root)
    if not root.is_dir():
        raise StemImportError(f"{root}: no such folder")
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and audio_files(d))
    if not folders:
        raise StemImportError(f"{root}: no sub-folder holds audio files")
    return folders

