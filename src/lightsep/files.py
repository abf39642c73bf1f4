"""Separating audio files to disk, block by block (``lightsep separate`` and
:func:`separate_files`).

Outputs go to ``OUT/<model>/<track>/<stem>.<ext>`` (Demucs' layout) with the input's
sample rate, channel count and length. A file is read, separated and written in blocks of
about a second, so memory stays bounded whatever the file's length. Every stem is written
to a temporary name and renamed into place only when the whole file succeeded; no output
replaces an existing file without ``force``, and none ever replaces one of the inputs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import audio_info, iter_audio_blocks, stem_writers
from .bounds import MAX_THREADS, check_count
from .defaults import SEPARATE_MODEL
from .errors import EXIT_INPUT, EXIT_INTERNAL, LightsepError, one_line
from .fileio import check_output_folder, folders_under, refuse_existing, remove_new_empty_folders
from .separator import Separator
from .workers import map_in_processes

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
        if name.lower().endswith(suffix) and name[: -len(suffix)] not in ("", ".", ".."):
            return name[: -len(suffix)]
    if path.stem == "mixture" and path.resolve().parent.name:
        return path.resolve().parent.name
    # a stem that is no folder name of its own ("..wav", "...wav"): the whole file name
    return name if path.stem in ("", ".", "..") else path.stem


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
    inputs: Iterable[str | os.PathLike] = (),
) -> OutputPlan:
    """Separate one file into ``out_dir``; returns where the stems went. No stem replaces
    ``path`` or any of ``inputs`` (the other inputs of the same command), even with
    ``force``."""
    path, out_dir = Path(path), Path(out_dir)
    check_format(fmt, bit_depth)
    plan = plan_outputs(separator, path, out_dir, fmt, two_stems)
    refuse_existing(plan.stems.values(), force, inputs=[path, *inputs])
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


def check_format(fmt: str, bit_depth: int) -> None:
    if fmt not in FORMATS:
        raise LightsepError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if bit_depth not in (16, 24, 32):
        raise LightsepError(f"bit depth {bit_depth!r}: choose 16, 24 or 32")
    if bit_depth == 32 and fmt != "wav":
        raise LightsepError("--bit-depth 32 (float) is only for --format wav")


@dataclass
class FileOutcome:
    """What became of one input of :func:`iter_separate_files`: the stems written, or the
    one-line error and the exit status it calls for (2 an input error, 3 a bug)."""

    input: str
    stems: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    status: int = 0

    @property
    def folder(self) -> Path | None:
        return next(iter(self.stems.values())).parent if self.stems else None


_WORKER: dict = {}


def _worker_init(options: dict) -> None:
    import torch

    torch.set_num_threads(options.pop("threads"))
    _WORKER["separator"] = Separator(**options)


def _separate_one(path: str, out: str, fmt: str, bit_depth: int, two_stems: str | None, force: bool, progress: bool,
                  inputs: tuple[str, ...]) -> FileOutcome:  # fmt: skip
    """One input, in this process or a worker: a failure fails this input alone."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plan = separate_file_to_dir(_WORKER["separator"], path, out, fmt, bit_depth, two_stems, force, progress,
                                        inputs=inputs)  # fmt: skip
        return FileOutcome(str(path), dict(plan.stems), [str(w.message) for w in caught])
    except Exception as exc:  # this input fails, the others go on
        message, status = one_line(exc, path)
        if status == EXIT_INTERNAL and os.environ.get("LIGHTSEP_DEBUG"):
            raise
        return FileOutcome(str(path), error=message, status=status)


def iter_separate_files(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike = "separated",
    model=SEPARATE_MODEL,
    *,
    fmt: str = "wav",
    bit_depth: int = 16,
    two_stems: str | None = None,
    force: bool = False,
    jobs: int = 1,
    progress: bool = False,
    **options,
) -> Iterator[FileOutcome]:
    """Separate each of ``inputs`` into ``out/<model>/<track>/<stem>.<fmt>``, ``jobs`` files
    at a time (in worker processes when more than one), yielding each input's
    :class:`FileOutcome` in the inputs' order. ``options`` go to :class:`Separator`
    (``overlap``, ``backend``, ``batch_size``, ``device``, ...). What ``lightsep separate``
    runs. Folders it made for outputs that were not written are removed again."""
    inputs = [str(p) for p in inputs]
    check_format(fmt, bit_depth)
    check_output_folder(out)
    clashes = output_clashes(inputs)
    todo = [p for i, p in enumerate(inputs) if i not in clashes]
    jobs = max(1, min(check_count(jobs, "jobs", MAX_THREADS), len(todo) or 1))
    threads = options.pop("threads", None) or max(1, (os.cpu_count() or 1) // jobs)
    work = [(p, str(out), fmt, bit_depth, two_stems, force, progress and jobs == 1, tuple(inputs)) for p in todo]
    existing = folders_under(out, depth=2)  # OUT/<model>/<track>
    init = {**options, "model": model, "threads": threads}
    if jobs == 1:
        if todo:
            _worker_init(dict(init))
        results = (_separate_one(*w) for w in work)
    else:
        results = map_in_processes(_separate_one, work, jobs, _worker_init, (init,))
    try:
        for i, path in enumerate(inputs):  # in the inputs' order
            yield FileOutcome(path, error=clashes[i], status=EXIT_INPUT) if i in clashes else next(results)
    finally:
        results.close()  # workers stopped, each having removed its outputs in progress
        remove_new_empty_folders(out, existing, depth=2)


def separate_files(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike = "separated",
    model=SEPARATE_MODEL,
    *,
    fmt: str = "wav",
    bit_depth: int = 16,
    two_stems: str | None = None,
    force: bool = False,
    jobs: int = 1,
    progress: bool = False,
    **options,
) -> dict[str, dict[str, Path]]:
    """Separate audio files into ``out/<model>/<track>/<stem>.<fmt>``, as ``lightsep
    separate`` does and with its guarantees: each track's stems appear all together or not
    at all, nothing is replaced without ``force``, no input is ever replaced.

    Args:
        inputs: one file or a list of files (any format lightsep reads).
        out: the output folder.
        model: a model name, a checkpoint or a :class:`Separator`'s model (default: the
            default model of ``lightsep separate``).
        fmt: ``wav``, ``flac`` or ``mp3``; bit_depth: 16, 24 or 32 (float, wav only).
        two_stems: write only this stem and ``no_<stem>`` (the rest).
        jobs: files separated at once, in worker processes.
        options: go to :class:`Separator` (``overlap``, ``backend``, ``batch_size``, ...).

    Returns ``{input: {stem: path}}``. Every input is tried; if any failed, raises
    :class:`LightsepError` naming the failures after the others are written.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    outcomes = list(iter_separate_files(inputs, out, model, fmt=fmt, bit_depth=bit_depth, two_stems=two_stems,
                                        force=force, jobs=jobs, progress=progress, **options))  # fmt: skip
    for outcome in outcomes:
        for message in outcome.warnings:
            warnings.warn(message, stacklevel=2)
    failed = [o for o in outcomes if o.error]
    if failed:
        more = f" ({len(failed)} of {len(outcomes)} inputs failed)" if len(outcomes) > 1 else ""
        raise LightsepError(failed[0].error + more)
    return {o.input: o.stems for o in outcomes}


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
