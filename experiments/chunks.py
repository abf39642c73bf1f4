"""What running the spectrogram-mask models' per-bin work in chunks buys, measured in one run.

    .venv/bin/python experiments/chunks.py [--models spectral-2stem-ensemble ...] [--seconds 30] [--repeats 7]

``SpectralMaskNet.forward`` runs the STFT, the band pooling, the layers around the GRU, the
masks and the inverse STFT on a few segments of a batch at a time (``CHUNK_VALUES`` mask
values), and the GRU on the whole batch. For each model this separates the same clip as
``benchmarks/speed.py`` does (30 s stereo at 44.1 kHz, 2 threads, Separator's defaults) in
three ways, each once per round, and prints the median real-time factor and the page faults
per call (``ru_minflt``: memory the C allocator handed out afresh, each page faulted in):

- ``chunks``: the default;
- ``one piece``: the whole batch through every step at once (``CHUNK_VALUES`` unlimited), as
  forward ran before chunks;
- ``batch 4``: one piece, on batches of 4 segments (small intermediates, but three times the
  GRU's sequential steps on a 30 s clip).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from speed import clip, clip_benchmark_arguments  # noqa: E402

from lightsep.errors import LightsepError  # noqa: E402
from lightsep.separator import Separator  # noqa: E402

UNLIMITED = 2**62


def way(model: str, chunk_values: int | None, batch_size: int | None) -> Separator:
    separator = Separator(model, batch_size=batch_size, threads=2)
    if not hasattr(separator.model, "CHUNK_VALUES"):
        raise LightsepError(f"{model} is not a spectrogram-mask model")
    if chunk_values is not None:  # an instance attribute; forward reads the model's own
        separator.model.CHUNK_VALUES = chunk_values
    return separator


def main() -> None:
    args = clip_benchmark_arguments(__doc__.split("\n\n")[0], ["spectral-2stem-ensemble", "spectral-2stem", "spectral-4stem"])
    audio, warmup = clip(args.seconds), clip(2.0)
    ways = {}
    try:
        for model in args.models:
            ways[(model, "chunks")] = way(model, None, None)
            ways[(model, "one piece")] = way(model, UNLIMITED, None)
            ways[(model, "batch 4")] = way(model, UNLIMITED, 4)
    except LightsepError as exc:
        args.error(str(exc))
    for separator in ways.values():
        separator.separate(warmup, 44100)
    factors = {key: [] for key in ways}
    faults = {key: 0 for key in ways}
    for _ in range(args.repeats):
        for key, separator in ways.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            separator.separate(audio, 44100)
            factors[key].append(args.seconds / (time.perf_counter() - start))
            faults[key] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(f"{args.seconds:.0f} s stereo 44.1 kHz clip, 2 threads, torch {torch.__version__}, median of {args.repeats} rounds")
    print(f"{'model':<24} {'way':<10} {'x real time':>12} {'vs chunks':>10} {'slowest':>8} {'faults per call':>16}")
    for (model, name), runs in factors.items():
        median = statistics.median(runs)
        ratio = median / statistics.median(factors[(model, "chunks")])
        print(f"{model:<24} {name:<10} {median:12.1f} {ratio:9.2f}x {min(runs):8.1f} {faults[(model, name)] // args.repeats:16d}")


if __name__ == "__main__":
    main()
