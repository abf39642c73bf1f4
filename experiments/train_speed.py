"""Training throughput on this machine: iterations per second at batch 32 (the paper's batch)
of proposed-2stem and waveunet-m4, measured in one run, and their ratio.

    .venv/bin/python experiments/train_speed.py [--batch 32] [--iterations 3] [--threads 2]

Each iteration is the trainer's own step (lightsep.training.optimisation_step: forward, MSE,
backward, Adam) on random audio of the model's context, after one warm-up iteration.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from lightsep.models import build_model
from lightsep.training import optimisation_step


def iterations_per_second(name: str, batch: int, iterations: int) -> float:
    torch.manual_seed(0)
    model = build_model(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    mixture = 0.1 * torch.randn(batch, model.audio_channels, model.context_samples)
    targets = 0.1 * torch.randn(batch, len(model.sources), model.audio_channels, model.output_samples)
    optimisation_step(model, optimizer, mixture, targets)  # warm-up
    start = time.perf_counter()
    for _ in range(iterations):
        optimisation_step(model, optimizer, mixture, targets)
    return iterations / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=["proposed-2stem", "waveunet-m4"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [(name, iterations_per_second(name, args.batch, args.iterations)) for name in args.models]
    reference = rows[0][1]
    if args.json:
        print(json.dumps([{"name": n, "iterations_per_second": r, "ratio": r / reference} for n, r in rows]))
        return
    print(f"training throughput, batch {args.batch}, {args.threads} threads, {torch.__version__}")
    print(f"{'model':<16} {'it/s':>8} {'s/it':>8} {'vs ' + rows[0][0]:>22}")
    for name, rate in rows:
        print(f"{name:<16} {rate:8.3f} {1 / rate:8.2f} {rate / reference:21.3f}x")


if __name__ == "__main__":
    main()
