"""``lightsep stream``: separate audio as it arrives, paced in real time, and report latency."""

from __future__ import annotations

import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import audio_info, iter_audio_blocks, stem_writers
from .errors import LightsepError
from .fileio import refuse_existing
from .files import track_name
from .separator import Separator
from .streaming import StreamingSeparator

RAW_DTYPES = {"f32le": "<f4", "s16le": "<i2"}


@dataclass
class StreamReport:
    block_times: np.ndarray  # seconds of processing per block, in order
    audio_seconds: float
    latency_seconds: float  # the stated algorithmic latency
    block_seconds: float  # audio per block
    underruns: int = 0  # blocks for which the separated audio was not ready (StreamingSeparator.underruns)
    ended: str = "end of input"  # or why the stream stopped early (a stalled input, a closed stdout)
    folder: Path | None = None  # where the stems went (None: to stdout)

    @property
    def blocks(self) -> int:
        return len(self.block_times)

    @property
    def mean_block_seconds(self) -> float:
        return float(np.mean(self.block_times))

    @property
    def max_block_seconds(self) -> float:
        return float(np.max(self.block_times))

    def block_percentile(self, q: float) -> float:
        """The ``q``-th percentile of the processing time per block, in seconds."""
        return float(np.percentile(self.block_times, q))

    @property
    def late_blocks(self) -> int:
        """Blocks whose processing took longer than the audio they hold: a live output
        would have run dry (an underrun of the audio device)."""
        return int(np.count_nonzero(self.block_times > self.block_seconds))

    @property
    def realtime_margin(self) -> float:
        """Audio seconds processed per second of processing (1 = just real time)."""
        total = self.mean_block_seconds * self.blocks
        return self.audio_seconds / total if total > 0 else float("inf")

    @property
    def worst_latency_seconds(self) -> float:
        """Algorithmic latency plus the slowest block's processing time."""
        return self.latency_seconds + self.max_block_seconds


class InputStalled(LightsepError):
    """No input arrived on stdin for the stall time."""


def raw_blocks(handle, rate: int, channels: int, dtype: str, block_frames: int, stall_seconds: float | None = None):
    """``(channels, n)`` float32 blocks from raw interleaved PCM on a binary stream; a
    partial frame at the end is dropped. With ``stall_seconds``, raises
    :class:`InputStalled` when no byte arrives for that long (the stream needs a file
    descriptor)."""
    np_dtype = np.dtype(RAW_DTYPES[dtype])
    frame = np_dtype.itemsize * channels
    fd = handle.fileno() if stall_seconds else None
    stalled = False
    while not stalled:
        if fd is None:
            raw = handle.read(block_frames * frame)
        else:
            raw, stalled = _read_with_deadline(fd, block_frames * frame, stall_seconds)
        raw = raw[: len(raw) - len(raw) % frame]
        if raw:
            data = np.frombuffer(raw, dtype=np_dtype).reshape(-1, channels).T.astype(np.float32)
            if np_dtype.kind == "i":
                data /= 32768.0
            yield data
        elif not stalled:
            return
    raise InputStalled(f"no input for {stall_seconds:g} s")


def _read_with_deadline(fd: int, size: int, stall_seconds: float) -> tuple[bytes, bool]:
    """Up to ``size`` bytes from ``fd`` (fewer at the end of the input), and whether the
    input stalled: nothing arrived for ``stall_seconds``. What arrived before a stall is
    returned with it."""
    chunks, have = [], 0
    while have < size:
        ready, _, _ = select.select([fd], [], [], stall_seconds)
        if not ready:
            return b"".join(chunks), True
        chunk = os.read(fd, size - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks), False


def _pcm(out: np.ndarray, dtype: str) -> bytes:
    """``(streams, n)`` float32 -> interleaved raw PCM of ``dtype``."""
    frames = out.T
    if dtype == "s16le":
        return np.clip(np.rint(frames * 32768.0), -32768, 32767).astype("<i2").tobytes()
    return frames.astype("<f4").tobytes()


def run_stream(
    separator: Separator,
    source: str,
    out_dir: Path,
    block_ms: float = 20.0,
    pace: bool = True,
    raw_rate: int = 44100,
    raw_channels: int = 2,
    raw_dtype: str = "f32le",
    force: bool = False,
    stdout_stem: str | None = None,
    stall_seconds: float | None = None,
) -> StreamReport:
    """Feed ``source`` (a file, or ``-`` for raw PCM on stdin) block by block, paced at real
    time when ``pace``; write the stems (aligned with the input) into
    ``out_dir/<model>/<track>/<stem>.wav`` as ``lightsep separate`` lays them out (the track
    ``stdin`` for raw PCM), all or none, replacing existing stems only with ``force``.

    With ``stdout_stem`` (a stem's name, or ``all``), the separated audio goes to stdout
    instead, as raw PCM of ``raw_dtype`` at the input's rate, as it is produced: delayed by
    the stated latency (silence first), and for ``all`` the stems' channels interleaved
    stem after stem. Input that ends, stalls for ``stall_seconds`` (stdin) or a stdout that
    is closed end the stream: what was produced so far has been written, and the report's
    ``ended`` says why."""
    if not block_ms > 0:
        raise LightsepError(f"the block length must be positive, got {block_ms} ms")
    if stdout_stem not in (None, "all", *separator.sources):
        raise LightsepError(f"--stdout {stdout_stem}: the model's stems are {', '.join(separator.sources)} (or all)")
    folder = out_dir / separator.name / ("stdin" if source == "-" else track_name(Path(source)))
    paths = {name: folder / f"{name}.wav" for name in separator.sources}
    if stdout_stem is None:
        refuse_existing(paths.values(), force, inputs=[] if source == "-" else [source])
    if source == "-":
        if raw_rate < 1 or raw_channels < 1:
            raise LightsepError(f"raw PCM needs a positive rate and channel count, got {raw_rate} Hz, {raw_channels} channel(s)")
        rate, channels = raw_rate, raw_channels
        block_frames = max(1, int(rate * block_ms / 1000))
        blocks = raw_blocks(sys.stdin.buffer, rate, channels, raw_dtype, block_frames, stall_seconds)
    else:
        info = audio_info(source)
        rate, channels = info.sample_rate, info.channels
        block_frames = max(1, int(rate * block_ms / 1000))
        blocks = iter_audio_blocks(source, block_frames)
    streaming = StreamingSeparator(separator, rate, channels, source)
    timings, total, ended = [], 0, "end of input"
    sink = _StdoutSink(stdout_stem, separator.sources, raw_dtype) if stdout_stem else _FileSink(paths, rate, channels, streaming.latency)
    with sink, streaming:
        start = time.perf_counter()
        try:
            for block in blocks:
                if pace:  # wait until this block would have arrived from a live source
                    due = start + total / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t0 = time.perf_counter()
                out = streaming.push(block)
                timings.append(time.perf_counter() - t0)
                total += block.shape[-1]
                sink.write(out)
        except InputStalled as exc:
            ended = str(exc)
        except BrokenPipeError:
            ended = "stdout closed"
        if total and ended != "stdout closed":
            try:
                sink.write(streaming.flush())
            except BrokenPipeError:
                ended = "stdout closed"
        if total == 0:
            raise LightsepError(f"{source}: no audio received" + ("" if ended == "end of input" else f" ({ended})"))
    return StreamReport(
        block_times=np.array(timings),
        audio_seconds=total / rate,
        latency_seconds=streaming.latency_seconds,
        block_seconds=block_frames / rate,
        underruns=streaming.underruns,
        ended=ended,
        folder=None if stdout_stem else folder,
    )


class _FileSink:
    """The stems as float WAV files in a folder, aligned with the input (the latency's
    leading silence dropped), committed together at the end."""

    def __init__(self, paths: dict, rate: int, channels: int, latency: int):
        self._context = stem_writers(paths, rate, channels, "wav", 32)
        self._to_skip = latency

    def __enter__(self):
        self._writers = self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def write(self, out: np.ndarray) -> None:
        skip = min(self._to_skip, out.shape[-1])
        self._to_skip -= skip
        for i, writer in enumerate(self._writers.values()):
            writer.write(out[i, :, skip:])


class _StdoutSink:
    """One stem, or all interleaved, as raw PCM on stdout, as it is produced (a live
    stream: the latency's leading silence included)."""

    def __init__(self, stem: str, sources: tuple[str, ...], dtype: str):
        self._index = None if stem == "all" else sources.index(stem)
        self._dtype = dtype
        self._stdout = sys.stdout.buffer

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def write(self, out: np.ndarray) -> None:
        streams = out.reshape(-1, out.shape[-1]) if self._index is None else out[self._index]
        try:
            self._stdout.write(_pcm(streams, self._dtype))
            self._stdout.flush()
        except BrokenPipeError:
            # nothing more can go out: point stdout at /dev/null so that Python's own flush
            # at exit does not complain about the closed pipe
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise
