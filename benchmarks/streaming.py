"""Live streaming on one thread: latency and processing time per block, paced in real time.

    .venv/bin/python benchmarks/streaming.py [--seconds 60] [--blocks-ms 10 20 50] [--busy]
        [--models spectral-2stem-live spectral-2stem-live-20ms] [--no-pace] [--input SONG]

Each model streams the same music (the demo song's mixture, repeated to ``--seconds``),
through ``lightsep stream``'s own loop (:func:`lightsep.stream_cli.run_stream`) with its
defaults: a stereo 44.1 kHz file fed block by block at real-time pace, one thread, soxr's
resampler as the command sets it, ONNX Runtime when it is installed (``--backends torch onnx`` compares), the model
warmed up first.
For every model and block length it prints the stated latency, the processing time per
block (median, 99th percentile, maximum), the real-time margin (audio seconds per second
of processing), the late blocks (processing longer than the block: a live output would
have run dry) and the underruns of the stream itself (separated audio not ready). The last
column compares each model's mean processing time with the first model's in the same run.
``--busy`` keeps every other core busy with a spinning process meanwhile, as on a machine
doing other work.

``--paths cli api`` (the default) measures both ways to stream: ``cli`` is the command's
loop above; ``api`` is what a Python user writes, a loop of ``push`` calls on
``lightsep.StreamingSeparator.realtime(model, rate, channels)`` used as a context manager
(``README.md``, "Python API"), paced the same way. The two should agree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def music(seconds: float, song: str | None) -> tuple[np.ndarray, int]:
    """``(2, seconds * rate)`` of music: ``song`` or the demo song's mixture, repeated."""
    from lightsep.audio import convert_channels, read_audio

    if song:
        audio, rate = read_audio(song)
    else:
        from demo import load_song

        stems, rate = load_song()
        audio = stems["mixture"]
    audio = convert_channels(audio, 2)
    repeats = int(np.ceil(seconds * rate / audio.shape[1]))
    return np.tile(audio, (1, repeats))[:, : int(seconds * rate)], rate


def api_stream(model: str, audio: np.ndarray, rate: int, block_ms: float, pace: bool, options: dict):
    """The Python API's real-time path on ``audio``: ``StreamingSeparator.realtime`` as a
    context manager, one ``push`` per block (paced like a live source), then ``flush``."""
    import time

    from lightsep.stream_cli import StreamReport
    from lightsep.streaming import StreamingSeparator

    block = max(1, int(rate * block_ms / 1000))
    timings = []
    with StreamingSeparator.realtime(model, rate, audio.shape[0], **options) as stream:
        start = time.perf_counter()
        for first in range(0, audio.shape[1], block):
            if pace:
                delay = start + first / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            stream.push(audio[:, first : first + block])
            timings.append(time.perf_counter() - t0)
        stream.flush()
    return StreamReport(block_times=np.array(timings), audio_seconds=audio.shape[1] / rate, latency_seconds=stream.latency_seconds,
                        block_seconds=block / rate, underruns=stream.underruns, ended="end of input")  # fmt: skip


def spinners(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["spectral-2stem-live", "spectral-2stem-live-20ms", "proposed-2stem-lowlatency"])
    parser.add_argument("--blocks-ms", nargs="+", type=float, default=[10.0, 20.0, 50.0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per run (default 60)")
    parser.add_argument("--busy", action="store_true", help="keep the other cores busy meanwhile")
    parser.add_argument("--no-pace", action="store_true", help="feed as fast as possible instead of in real time")
    parser.add_argument("--input", help="an audio file to stream instead of the demo song")
    parser.add_argument("--random-weights", action="store_true", help="time models that have no trained weights")
    parser.add_argument("--resample-quality", default=None,
                        help="soxr's quality (default: lightsep stream's, LQ or QQ for a low-delay model)")
    parser.add_argument("--paths", nargs="+", choices=("cli", "api"), default=["cli", "api"],
                        help="cli: lightsep stream's loop; api: StreamingSeparator.realtime (default both)")
    parser.add_argument("--backends", nargs="+", default=["auto"],
                        help="torch, onnx, onnx-int8, or auto (lightsep stream's default: onnx when installed)")
    args = parser.parse_args()

    import torch

    from lightsep.audio import write_audio
    from lightsep.stream_cli import run_stream
    from lightsep.streaming import realtime_separator

    torch.set_num_threads(1)
    audio, rate = music(args.seconds, args.input)
    busy = spinners((os.cpu_count() or 1) - 1) if args.busy else []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            song = write_audio(Path(tmp) / "song.wav", audio, rate, bit_depth=32)
            print(f"{args.seconds:g} s of stereo {rate} Hz music, one thread, {'paced in real time' if not args.no_pace else 'unpaced'}"
                  f"{f', {len(busy)} other core(s) busy' if busy else ''}; torch {torch.__version__}, {os.cpu_count()} CPU(s)")  # fmt: skip
            print(f"{'model':<27} {'path':>4} {'backend':>9} {'block':>6} {'latency':>8} {'p50':>7} {'p99':>7} {'max':>7} {'margin':>7} {'late':>5} "
                  f"{'underruns':>9} {'mean vs first':>13}")  # fmt: skip
            first_mean = {}
            for name, backend, path in [(n, b, p) for n in args.models for b in args.backends for p in args.paths]:
                # what lightsep stream runs ("auto": ONNX Runtime when installed, else torch)
                separator = realtime_separator(name, backend=backend, threads=1, resample_quality=args.resample_quality,
                                               random_weights=args.random_weights)  # fmt: skip
                backend = separator.backend
                for block_ms in args.blocks_ms:
                    if path == "cli":
                        out = Path(tmp) / f"{name}-{backend}-{block_ms:g}"
                        report = run_stream(separator, str(song), out, block_ms, pace=not args.no_pace)
                    else:
                        options = dict(backend=backend, resample_quality=args.resample_quality, random_weights=args.random_weights)
                        report = api_stream(name, audio, rate, block_ms, not args.no_pace, options)
                    mean = report.mean_block_seconds
                    ratio = mean / first_mean.setdefault(block_ms, mean)
                    ms = [1000 * report.block_percentile(q) for q in (50, 99)] + [1000 * report.max_block_seconds]
                    print(f"{name:<27} {path:>4} {backend:>9} {block_ms:>4g}ms {1000 * report.latency_seconds:>6.0f}ms "
                          + " ".join(f"{v:>5.2f}ms" for v in ms)
                          + f" {report.realtime_margin:>6.1f}x {report.late_blocks:>5d} {report.underruns:>9d} {ratio:>12.2f}x",
                          flush=True)  # fmt: skip
    finally:
        for process in busy:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
