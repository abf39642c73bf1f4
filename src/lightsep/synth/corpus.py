"""``lightsep synth``: a procedural multitrack corpus in the MUSDB18-HQ layout.

``OUT/{train,test}/<song>/{mixture,drums,bass,other,vocals}.wav``: 16-bit stereo WAV at
44.1 kHz, like MUSDB18-HQ. ``OUT/lightsep-corpus.json`` records the parameters, the split
and each song's description. The mixture is the exact sum of the four stems. Stems are
quantised to 16 bits first and the mixture is their integer sum, so reading the files back
the stems add up to the mixture to the last bit.

Levels: each accompaniment stem gets an RMS level drawn around a nominal balance (drums
loudest, then bass and other). The vocals are then scaled so that the vocal-to-accompaniment
energy ratio over the whole song is drawn uniformly from ``VOCAL_RATIO_DB``, and the mixture
is normalised to a peak of ``PEAK``.

Same parameters, same bytes: every random draw comes from the corpus seed. A song folder
appears only when all its files are written (it is renamed into place), so an interrupted
run continues where it stopped when run again with the same parameters.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import write_audio
from ..data.tracks import CORPUS_MANIFEST, MUSDB_SOURCES
from ..errors import LightsepError
from ..fileio import atomic_path
from .. import signals
from ..workers import map_in_processes
from .composer import Composer
from .render import check_soundfont, find_fluidsynth, render_stems

SAMPLE_RATE = 44100
VOCAL_RATIO_DB = (-10.0, 0.0)
PEAK = 0.8
STEM_LEVELS_DB = {"drums": -18.0, "bass": -21.0, "other": -21.0}
LEVEL_SPREAD_DB = 2.0


@dataclass
class CorpusReport:
    out_dir: Path
    songs_rendered: int
    songs_skipped: int
    audio_seconds: float
    wall_seconds: float

    @property
    def audio_seconds_per_second(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")


def song_seed(corpus_seed: int, index: int) -> int:
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def song_name(index: int) -> str:
    return f"song-{index:04d}"


def test_songs(songs: int, test_fraction: float, seed: int) -> set[int]:
    """Indices of the songs in the test subset, drawn with the corpus seed."""
    n_test = int(round(test_fraction * songs))
    if songs >= 2 and test_fraction > 0:
        n_test = min(max(n_test, 1), songs - 1)
    order = np.random.default_rng([seed, 0x7E57]).permutation(songs)
    return {int(i) for i in order[:n_test]}


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def draw_levels(seed: int) -> dict[str, float]:
    """The song's levels in dB, a function of its seed alone: an RMS level per accompaniment
    stem, and ``vocal_ratio`` (vocal-to-accompaniment energy ratio)."""
    rng = np.random.default_rng([seed, 1])
    levels = {name: level + float(rng.uniform(-LEVEL_SPREAD_DB, LEVEL_SPREAD_DB)) for name, level in STEM_LEVELS_DB.items()}
    levels["vocal_ratio"] = float(rng.uniform(*VOCAL_RATIO_DB))
    return levels


def mix_levels(stems: dict[str, np.ndarray], levels: dict[str, float]) -> dict[str, np.ndarray]:
    """Scale the stems to ``levels`` (see :func:`draw_levels`), normalise the mixture's peak
    to ``PEAK`` and quantise each stem to int16."""
    scaled = {name: stems[name] * (10 ** (levels[name] / 20) / _rms(stems[name])) for name in STEM_LEVELS_DB}
    accompaniment = scaled["drums"] + scaled["bass"] + scaled["other"]
    vocal_rms = _rms(accompaniment) * 10 ** (levels["vocal_ratio"] / 20)
    scaled["vocals"] = stems["vocals"] * (vocal_rms / _rms(stems["vocals"]))
    mixture = accompaniment + scaled["vocals"]
    gain = PEAK / max(float(np.abs(mixture).max()), 1e-9)
    return {name: np.round(scaled[name] * gain * 32768.0).astype(np.int16) for name in MUSDB_SOURCES}


def describe_song(index: int, subset: str, corpus_seed: int, seconds: float) -> dict:
    """A song's manifest entry (composition is cheap and deterministic)."""
    seed = song_seed(corpus_seed, index)
    song = Composer(seed).compose(seconds)
    ratio = draw_levels(seed)["vocal_ratio"]
    return {"name": song_name(index), "subset": subset, "seed": seed,
            "vocal_to_accompaniment_db": round(ratio, 2), **song.describe()}  # fmt: skip


def render_song(out_dir: Path, index: int, subset: str, corpus_seed: int, seconds: float, soundfont: str | None) -> None:
    """Compose, render, level and write one song into ``out_dir/subset/song-NNNN``."""
    seed = song_seed(corpus_seed, index)
    song = Composer(seed).compose(seconds)
    stems = render_stems(song, seconds, SAMPLE_RATE, soundfont)
    ints = mix_levels(stems, draw_levels(seed))
    mixture = sum(s.astype(np.int32) for s in ints.values())
    if np.abs(mixture).max() > 32767:
        raise LightsepError(f"{song_name(index)}: mixture overflows 16 bits")  # PEAK < 1 prevents this
    final = out_dir / subset / song_name(index)
    staging = out_dir / subset / f".{song_name(index)}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # a killed run's
    try:
        with signals.held():  # a signal cannot leave the folder made but unrecorded
            staging.mkdir(parents=True)
        for name, audio in {**ints, "mixture": mixture.astype(np.int16)}.items():
            write_audio(staging / f"{name}.wav", audio, SAMPLE_RATE)
        os.replace(staging, final)
    except BaseException:  # a full disk, an interruption: nothing half-written stays
        shutil.rmtree(staging, ignore_errors=True)
        raise


def make_corpus(
    out_dir: str | os.PathLike,
    songs: int,
    seconds: float,
    seed: int = 0,
    test_fraction: float = 0.2,
    jobs: int | None = None,
    soundfont: str | None = None,
    progress: bool = False,
) -> CorpusReport:
    """Render ``songs`` songs of ``seconds`` seconds into ``out_dir`` (see the module doc)."""
    if songs < 1:
        raise LightsepError("--songs must be at least 1")
    if not 1.0 <= seconds <= 3600:
        raise LightsepError("--seconds must be between 1 and 3600")
    if not 0.0 <= test_fraction < 1.0:
        raise LightsepError("--test-fraction must be in [0, 1)")
    find_fluidsynth()
    soundfont_path = check_soundfont(soundfont)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise LightsepError(f"{out_dir}: is a file, not a folder")
    params = {"seed": seed, "songs": songs, "seconds": seconds, "test_fraction": test_fraction,
              "sample_rate": SAMPLE_RATE, "soundfont": soundfont_path.name}  # fmt: skip
    manifest_path = out_dir / CORPUS_MANIFEST
    if manifest_path.exists():
        try:
            previous = json.loads(manifest_path.read_text(encoding="utf-8")).get("parameters")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            raise LightsepError(f"{manifest_path}: damaged corpus manifest; choose another folder, or remove the file "
                                "to render the corpus anew there") from None
        if previous != params:
            raise LightsepError(f"{out_dir} holds a corpus made with other parameters ({previous}); choose another folder")
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise LightsepError(f"{out_dir} is not empty and holds no lightsep corpus; choose an empty or new folder")

    testing = test_songs(songs, test_fraction, seed)
    todo, skipped = [], 0
    for i in range(songs):
        subset = "test" if i in testing else "train"
        if (out_dir / subset / song_name(i) / "mixture.wav").exists():
            skipped += 1
        else:
            todo.append((i, subset))
    created = [f for f in [out_dir, *out_dir.parents] if not f.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    # write the parameters first so an interrupted run can only be resumed with the same ones
    try:
        _write_manifest(manifest_path, params, entries=None)
        return _render(out_dir, todo, skipped, songs, testing, seed, seconds, soundfont, jobs, progress, manifest_path, params)
    except BaseException:
        if not any(any((out_dir / s).glob("*/mixture.wav")) for s in ("train", "test")):  # nothing to resume: leave no trace
            manifest_path.unlink(missing_ok=True)
            for folder in [out_dir / "train", out_dir / "test", *created]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty
        raise


def _render(out_dir, todo, skipped, songs, testing, seed, seconds, soundfont, jobs, progress, manifest_path, params) -> CorpusReport:
    start = time.perf_counter()
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    bar = _progress(len(todo), progress)
    if workers == 1:
        for i, subset in todo:
            render_song(out_dir, i, subset, seed, seconds, soundfont)
            bar.update(1)
    else:
        for _ in map_in_processes(render_song, [(out_dir, i, subset, seed, seconds, soundfont) for i, subset in todo], workers):
            bar.update(1)
    bar.close()
    wall = time.perf_counter() - start
    entries = [describe_song(i, "test" if i in testing else "train", seed, seconds) for i in range(songs)]
    _write_manifest(manifest_path, params, entries)
    return CorpusReport(out_dir, len(todo), skipped, len(todo) * seconds, wall)


def _write_manifest(path: Path, params: dict, entries: list[dict] | None) -> None:
    from .. import __version__

    data = {"generator": "lightsep synth", "lightsep_version": __version__, "parameters": params,
            "layout": "musdb18hq", "complete": entries is not None, "tracks": entries or []}  # fmt: skip
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="song", desc="rendering")
