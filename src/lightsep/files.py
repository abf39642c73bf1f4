"""Separating audio files to disk, block by block (``lightsep separate``).

Outputs go to ``OUT/<model>/<track>/<stem>.<ext>`` (Demucs' layout) with the input's
sample rate, channel count and length. A file is read, separated and written in blocks of
about a second, so memory stays bounded whatever the file's length. Every stem is written
to a temporary name and renamed into place only when the whole file succeeded.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import audio_info, iter_audio_blocks, stem_writers
from .errors import LightsepError
from .fileio import refuse_existing
from .separator import Separator

FORMATS = ("wav", "flac", "mp3")
MAX_FORMAT_CHANNELS = {"wav": 1024, "flac": 8, "mp3": 2}
"""The most channels each output format holds (libsndfile's FLAC and MP3 encoders)."""


@dataclass
class OutputPlan:
    track: str
    folder: Path
    stems: dict[str, Path]


def track_name(path: Path) -> str:
    """The output folder's name: the file name without its extension (and without
    ``.stem`` for MUSDB18 files); for a MUSDB18-HQ-style ``<track>/mixture.wav``, the
    track's folder name."""
    name = path.name
    for suffix in (".stem.mp4", ".stem.m4a"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    if path.stem == "mixture" and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem


def stem_names(sources: tuple[str, ...], two_stems: str | None) -> list[str]:
    if two_stems is None:
        return list(sources)
    if two_stems not in sources:
        raise LightsepError(f"--two-stems {two_stems}: the model's stems are {', '.join(sources)}")
    return [two_stems, f"no_{two_stems}"]


def plan_outputs(separator: Separator, path: Path, out_dir: Path, fmt: str, two_stems: str | None) -> OutputPlan:
    folder = out_dir / separator.name / track_name(path)
    return OutputPlan(track_name(path), folder, {s: folder / f"{s}.{fmt}" for s in stem_names(separator.sources, two_stems)})


def separate_file_to_dir(
    separator: Separator,
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    fmt: str = "wav",
    bit_depth: int = 16,
    two_stems: str | None = None,
    force: bool = False,
    progress: bool = False,
    block_seconds: float = 1.0,
) -> OutputPlan:
    """Separate one file into ``out_dir``; returns where the stems went."""
    path, out_dir = Path(path), Path(out_dir)
    if fmt not in FORMATS:
        raise LightsepError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    plan = plan_outputs(separator, path, out_dir, fmt, two_stems)
    refuse_existing(plan.stems.values(), force, inputs=[path])
    info = audio_info(path)
    if info.channels > MAX_FORMAT_CHANNELS[fmt]:  # found now, not after the whole separation
        raise LightsepError(f"{path}: {info.channels} channels; {fmt} holds at most {MAX_FORMAT_CHANNELS[fmt]} (use --format wav)")
    stream = separator.stream(info.sample_rate, info.channels, path)
    index = {name: i for i, name in enumerate(separator.sources)}
    def write(writers, separated: np.ndarray) -> None:
        if not separated.shape[-1]:
            return
        if two_stems is None:
            for name, writer in writers.items():
                writer.write(separated[index[name]])
        else:
            kept = separated[index[two_stems]]
            writers[two_stems].write(kept)
            writers[f"no_{two_stems}"].write(separated.sum(axis=0) - kept)

    bar = None
    try:
        with stem_writers(plan.stems, info.sample_rate, info.channels, fmt, bit_depth) as writers:
            if progress:  # once the outputs could be opened
                from tqdm import tqdm

                bar = tqdm(total=info.frames or None, unit="sample", unit_scale=True, desc=plan.track, leave=False)
            for block in iter_audio_blocks(path, max(1, int(block_seconds * info.sample_rate))):
                write(writers, stream.push(block))
                if bar is not None:
                    bar.update(block.shape[-1])
            write(writers, stream.flush())
            if stream.received == 0:
                raise LightsepError(f"{path}: no audio samples in file")
    finally:
        if bar is not None:
            bar.close()
    announced = info.header_frames or (info.frames if info.exact else 0)
    if stream.received < announced:
        warnings.warn(f"{path}: its header announces {announced / info.sample_rate:.2f} s but only "
                      f"{stream.received / info.sample_rate:.2f} s could be read (a truncated file?); "
                      "the stems have the length read", stacklevel=2)  # fmt: skip
    if stream.replaced:
        warnings.warn(f"{path}: {stream.replaced} NaN or infinite sample(s) replaced with silence", stacklevel=2)
    return plan


def output_clashes(paths: list[str | os.PathLike]) -> dict[int, str]:
    """For inputs whose stems would go to the same folder as an earlier input's (two files
    with one track name, or one file given twice): ``{index: reason}``."""
    first: dict[str, str] = {}
    clashes = {}
    for i, path in enumerate(paths):
        name = track_name(Path(path))
        if name in first:
            clashes[i] = (f"{path}: its stems would go to the same folder as those of {first[name]} (track name "
                          f"{name!r}); separate it on its own with another --out")  # fmt: skip
        else:
            first[name] = str(path)
    return clashes
