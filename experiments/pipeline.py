"""Where separation's time goes: in the model, and around it, measured in one run.

    .venv/bin/python experiments/pipeline.py [--models spectral-2stem-ensemble spectral-2stem spleeter-2stem] [--seconds 30] [--repeats 7]

Each model separates the clip ``benchmarks/speed.py`` uses (30 s stereo at 44.1 kHz, 2
threads) through ``lightsep.Separator`` with its defaults, as ``lightsep separate`` does
(the Spleeter port with no overlap, as speed.py runs it), after a warm-up and one untimed
separation of the clip, once in each of ``--repeats`` rounds. A row gives the medians of the
rounds: the whole call, the time inside the model's forward passes (``Separator._forward``,
or the span function of the paper's models' fast form: the network on batches of segments,
its STFTs included), and the rest, which is the pipeline
around it: resampling to the model's rate and back, cutting the segments and the overlap-add,
the silence gate, the difference stem and the copies between them.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from speed import clip, clip_benchmark_arguments  # noqa: E402

from lightsep.errors import LightsepError  # noqa: E402
from lightsep.separator import Separator  # noqa: E402

PEER_SETTINGS = {"spleeter-2stem": {"overlap": 0.0}}
"""The settings speed.py times a model with, where they are not the Separator's defaults."""


class TimedSeparator:
    """A Separator whose model calls are timed: ``inside``, the seconds spent in them during the last ``separate``."""

    def __init__(self, name: str):
        self.separator = Separator(name, threads=2, random_weights=True, **PEER_SETTINGS.get(name, {}))
        self.inside = 0.0
        self.separator._forward = self._timed(self.separator._forward)
        span_function = self.separator.span_function  # the paper's models' fast form: segments sharing work
        self.separator.span_function = lambda: None if span_function() is None else self._timed(span_function())

    def _timed(self, function):
        def timed(*args):
            start = time.perf_counter()
            out = function(*args)
            self.inside += time.perf_counter() - start
            return out

        return timed

    def separate(self, audio) -> tuple[float, float]:
        """Seconds for the whole call and inside the model."""
        self.inside = 0.0
        start = time.perf_counter()
        self.separator.separate(audio, 44100)
        return time.perf_counter() - start, self.inside


def main() -> None:
    args = clip_benchmark_arguments(__doc__.split("\n\n")[0], ["spectral-2stem-ensemble", "spectral-2stem", "spleeter-2stem"])
    try:
        separators = {name: TimedSeparator(name) for name in args.models}
    except LightsepError as exc:
        args.error(str(exc))
    audio, warmup = clip(args.seconds), clip(2.0)
    for separator in separators.values():
        separator.separate(warmup)
        separator.separate(audio)
    times = {name: [] for name in separators}
    for _ in range(args.repeats):
        for name, separator in separators.items():
            times[name].append(separator.separate(audio))
    print(f"{args.seconds:.0f} s stereo 44.1 kHz clip, 2 threads, median of {args.repeats} rounds (ms)")
    print(f"{'model':<24} {'whole call':>10} {'model':>8} {'around it':>10} {'share around':>13}")
    for name, runs in times.items():
        whole = statistics.median(total for total, _ in runs)
        inside = statistics.median(model for _, model in runs)
        around = statistics.median(total - model for total, model in runs)
        print(f"{name:<24} {1000 * whole:10.1f} {1000 * inside:8.1f} {1000 * around:10.1f} {around / whole:12.0%}")


if __name__ == "__main__":
    main()
