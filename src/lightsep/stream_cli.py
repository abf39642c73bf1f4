"""``lightsep stream``: separate audio as it arrives, paced in real time, and report latency."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import audio_info, iter_audio_blocks, stem_writers
from .errors import LightsepError
from .fileio import refuse_existing
from .separator import InvalidAudioError, Separator
from .streaming import StreamingSeparator

RAW_DTYPES = {"f32le": "<f4", "s16le": "<i2"}


@dataclass
class StreamReport:
    blocks: int
    audio_seconds: float
    latency_seconds: float  # the stated algorithmic latency
    mean_block_seconds: float  # processing time per block
    max_block_seconds: float
    block_seconds: float  # audio per block

    @property
    def realtime_margin(self) -> float:
        """Audio seconds processed per second of processing (1 = just real time)."""
        total = self.mean_block_seconds * self.blocks
        return self.audio_seconds / total if total > 0 else float("inf")

    @property
    def worst_latency_seconds(self) -> float:
        """Algorithmic latency plus the slowest block's processing time."""
        return self.latency_seconds + self.max_block_seconds


def raw_blocks(handle, rate: int, channels: int, dtype: str, block_frames: int):
    """``(channels, n)`` float32 blocks from raw interleaved PCM on a binary stream."""
    np_dtype = np.dtype(RAW_DTYPES[dtype])
    frame = np_dtype.itemsize * channels
    while True:
        raw = handle.read(block_frames * frame)
        raw = raw[: len(raw) - len(raw) % frame]
        if not raw:
            return
        data = np.frombuffer(raw, dtype=np_dtype).reshape(-1, channels).T.astype(np.float32)
        if np_dtype.kind == "i":
            data /= 32768.0
        yield data


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
) -> StreamReport:
    """Feed ``source`` (a file, or ``-`` for raw PCM on stdin) block by block, paced at real
    time when ``pace``; write the stems (aligned with the input) into ``out_dir``, all or
    none, replacing existing stems only with ``force``."""
    if not block_ms > 0:
        raise LightsepError(f"the block length must be positive, got {block_ms} ms")
    paths = {name: out_dir / f"{name}.wav" for name in separator.sources}
    refuse_existing(paths.values(), force)
    if source == "-":
        if raw_rate < 1 or raw_channels < 1:
            raise LightsepError(f"raw PCM needs a positive rate and channel count, got {raw_rate} Hz, {raw_channels} channel(s)")
        rate, channels = raw_rate, raw_channels
        block_frames = max(1, int(rate * block_ms / 1000))
        blocks = raw_blocks(sys.stdin.buffer, rate, channels, raw_dtype, block_frames)
    else:
        info = audio_info(source)
        rate, channels = info.sample_rate, info.channels
        block_frames = max(1, int(rate * block_ms / 1000))
        blocks = iter_audio_blocks(source, block_frames)
    streaming = StreamingSeparator(separator, rate, channels)
    to_skip = streaming.latency  # the delayed stream starts with this much silence
    timings, total = [], 0
    start = time.perf_counter()

    def write(writers, out: np.ndarray) -> None:
        nonlocal to_skip
        skip = min(to_skip, out.shape[-1])
        to_skip -= skip
        for i, writer in enumerate(writers.values()):
            writer.write(out[i, :, skip:])

    with stem_writers(paths, rate, channels, "wav", 32) as writers:
        for block in blocks:
            if pace:  # wait until this block would have arrived from a live source
                due = start + total / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            try:
                out = streaming.push(block)
            except InvalidAudioError as exc:
                raise InvalidAudioError(f"{source}: {exc}") from None
            timings.append(time.perf_counter() - t0)
            total += block.shape[-1]
            write(writers, out)
        write(writers, streaming.flush())
        if total == 0:
            raise LightsepError(f"{source}: no audio received")
    return StreamReport(
        blocks=len(timings),
        audio_seconds=total / rate,
        latency_seconds=streaming.latency_seconds,
        mean_block_seconds=float(np.mean(timings)),
        max_block_seconds=float(np.max(timings)),
        block_seconds=block_frames / rate,
    )
