"""What more ensemble members would cost in separation speed (docs/architecture.md, "Ensembles").

    .venv/bin/python experiments/member_cost.py [--seconds 30] [--threads 2] [--repeats 3]

Separates one random stereo 44.1 kHz clip through ``lightsep.Separator`` (as
``benchmarks/speed.py`` does: resampling, segments, overlap) with spectral-2stem's network
alone, the bundled spectral-2stem-ensemble (its dense network and the band-convolution
member), and candidate member sets, all with random weights (the speed does not depend on
them), in rounds of one run each; a row is the median of its rounds. It prints each row's
real-time factor, its parameters, and its speed relative to the bundled ensemble measured in
the same run. The README's speed table puts the ensemble at about 5.3 times Spleeter's speed,
so a set slower than it by more than that margin would break the 5x bound the default keeps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from lightsep.models.registry import SPECTRAL_CONVOLUTION_MEMBER, build_model
from lightsep.separator import Separator

DENSE_128 = dict(hidden=128)
CONVOLUTION_128 = dict(SPECTRAL_CONVOLUTION_MEMBER, hidden=128)
CANDIDATES: dict[str, list[dict] | None] = {
    "spectral-2stem (one network)": None,
    "spectral-2stem-ensemble (bundled pair)": [{}, SPECTRAL_CONVOLUTION_MEMBER],
    "dense GRU 128 + convolution member + convolution GRU 128": [DENSE_128, SPECTRAL_CONVOLUTION_MEMBER, CONVOLUTION_128],
    "bundled pair + dense GRU 128": [{}, SPECTRAL_CONVOLUTION_MEMBER, DENSE_128],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    audio = (np.random.default_rng(0).standard_normal((2, int(44100 * args.seconds))) * 0.1).astype(np.float32)
    separators = {}
    for label, members in CANDIDATES.items():
        model = build_model("spectral-2stem-ensemble", members=members) if members else build_model("spectral-2stem")
        separators[label] = Separator(model, threads=args.threads)
        separators[label].separate(audio[:, :44100 * 3], 44100)  # warm-up
    times: dict[str, list[float]] = {label: [] for label in CANDIDATES}
    for _ in range(args.repeats):
        for label, separator in separators.items():
            start = time.perf_counter()
            separator.separate(audio, 44100)
            times[label].append(time.perf_counter() - start)
    reference = statistics.median(times["spectral-2stem-ensemble (bundled pair)"])
    print(f"{args.seconds:g} s stereo clip, {args.threads} threads, median of {args.repeats}")
    for label, separator in separators.items():
        seconds = statistics.median(times[label])
        parameters = sum(p.numel() for p in separator.model.parameters()) / 1e6
        print(f"{label}: {parameters:.3f}M parameters, {args.seconds / seconds:.1f}x real time, "
              f"{reference / seconds:.2f} of the bundled pair's speed")  # fmt: skip


if __name__ == "__main__":
    main()
