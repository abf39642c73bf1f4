"""Builders of tiny datasets on disk for the tests."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np

from lightsep.audio import write_audio

STEM_LEVELS = {"drums": 0.1, "bass": 0.2, "other": 0.3, "vocals": 0.4}


ROOT = Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> ModuleType:
    """A file of the repository that is not part of the package (a script, a benchmark, an
    example), loaded as a module: ``load_script("experiments/wiener.py")``."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stem_signal(name: str, seconds: float, rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A recognisable signal per stem: noise at the stem's own level."""
    rng = np.random.default_rng([seed, list(STEM_LEVELS).index(name)])
    return (STEM_LEVELS[name] * rng.uniform(-1, 1, (channels, int(seconds * rate)))).astype(np.float32)


def band_limited(audio: np.ndarray, taps: int = 32) -> np.ndarray:
    """``audio`` through a ``taps``-sample moving average (a gentle low-pass), same shape."""
    kernel = np.ones(taps, np.float32) / taps
    return np.stack([np.convolve(channel, kernel, mode="same") for channel in audio]).astype(np.float32)


def make_musdb_hq(root: Path, tracks: dict[str, list[str]], seconds: float = 2.0, rate: int = 44100) -> Path:
    for subset, names in tracks.items():
        for k, name in enumerate(names):
            folder = root / subset / name
            stems = {n: stem_signal(n, seconds, rate, seed=k) for n in STEM_LEVELS}
            for n, audio in stems.items():
                write_audio(folder / f"{n}.wav", audio, rate, bit_depth=32)
            write_audio(folder / "mixture.wav", sum(stems.values()), rate, bit_depth=32)
    return root


def make_ccmixter(root: Path, names: list[str], seconds: float = 2.0, rate: int = 44100) -> Path:
    for k, name in enumerate(names):
        folder = root / name
        voice = stem_signal("vocals", seconds, rate, seed=k)
        accompaniment = stem_signal("other", seconds, rate, seed=k)
        write_audio(folder / "source-01.wav", accompaniment, rate, bit_depth=32)
        write_audio(folder / "source-02.wav", voice, rate, bit_depth=32)
        write_audio(folder / "mix.wav", voice + accompaniment, rate, bit_depth=32)
    return root


def make_musdb_stem_mp4(root: Path, tracks: dict[str, list[str]], seconds: float = 2.0, rate: int = 44100) -> Path:
    for subset, names in tracks.items():
        (root / subset).mkdir(parents=True, exist_ok=True)
        for k, name in enumerate(names):
            tmp = root / f".{name}"
            tmp.mkdir()
            # band-limited: AAC codes noise coarsely (-6 dB for white noise at 256 kb/s), and its coding noise would
            # make the mixture differ from the sum of the stems far more than on music
            stems = {n: band_limited(stem_signal(n, seconds, rate, seed=k)) for n in STEM_LEVELS}
            order = {"mixture": sum(stems.values()), **stems}
            args = []
            for n in ("mixture", "drums", "bass", "other", "vocals"):
                write_audio(tmp / f"{n}.wav", order[n], rate, bit_depth=32)  # float: the mixture peaks above 1
                args += ["-i", str(tmp / f"{n}.wav")]
            maps = [a for i in range(5) for a in ("-map", str(i))]
            out = root / subset / f"{name}.stem.mp4"
            subprocess.run(["ffmpeg", "-v", "error", *args, *maps, "-c:a", "aac", "-b:a", "256k", str(out)], check=True)
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    return root


def make_instrumental(root: Path, names: list[str], seconds: float = 2.0, rate: int = 44100, suffix: str = ".wav") -> Path:
    """An ``instrumental`` dataset: ``train/<name><suffix>``, one accompaniment file per track."""
    for k, name in enumerate(names):
        write_audio(root / "train" / f"{name}{suffix}", stem_signal("other", seconds, rate, seed=10 + k), rate)
    return root


def quiet_noise(length: int, seed: int = 0) -> np.ndarray:
    """``(2, length)`` float32 white noise at 0.1 RMS: a stereo input for the engines."""
    return (0.1 * np.random.default_rng(seed).standard_normal((2, length))).astype(np.float32)


def pushed_in_blocks(engine, audio: np.ndarray, sizes) -> np.ndarray:
    """``engine``'s whole output (``push`` of blocks of ``sizes`` samples, then of the rest,
    then ``flush``), joined along time."""
    out, position = [], 0
    for size in sizes:
        out.append(engine.push(audio[:, position : position + size]))
        position += size
    out.append(engine.push(audio[:, position:]))
    out.append(engine.flush())
    return np.concatenate(out, axis=-1)
