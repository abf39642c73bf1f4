"""Would averaging several 2-stem models' vocals beat the first of them? (docs/models.md)

    .venv/bin/python experiments/ensemble.py spectral-2stem OTHER [OTHER ...] [--data data/musdb18-7]
        [--out eval/ensemble]

Each argument is a model name or checkpoint with a vocals stem (a 4-stem model counts as
vocals and the rest). On the musdb18-7 validation clips (the paper split's 23 train/ clips,
which no configuration trains on), every model separates each clip (``lightsep.Separator``,
its default overlap) and, besides each model alone, the mean of the first k models' vocals
for every k from 2 to all of them is scored, the accompaniment being the mixture minus
those vocals (museval, 1 s windows, as ``lightsep evaluate``). Each setting is written as a
``lightsep evaluate`` folder under ``--out``; the script prints both aggregates and each
setting's clip-by-clip differences from the first model.

An ensemble costs the sum of its members' time, so it is not a way to ship a better model
within spectral-2stem's speed; it measures how much of the members' error is their own
(variance between trainings, which averaging removes) rather than shared (what all of them
miss, given the same music).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from lightsep.errors import LightsepError
from lightsep.report import compare_on_validation
from lightsep.separator import Separator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model names or checkpoints; the first is the baseline")
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--out", default="eval/ensemble")
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        print("ensemble: error: give at least two models", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    labels = [f"model-{i + 1}" for i in range(len(args.models))]  # folder names: a checkpoint's path is not one
    try:
        separators = [Separator(model) for model in args.models]
    except LightsepError as exc:
        print(f"ensemble: error: {exc}", file=sys.stderr)
        return 2
    for model, separator in zip(args.models, separators):
        if "vocals" not in separator.sources:
            print(f"ensemble: error: {model} has no vocals stem ({', '.join(separator.sources)})", file=sys.stderr)
            return 2

    def estimates(references: dict[str, np.ndarray], rate: int) -> dict[str, dict[str, np.ndarray]]:
        mixture = references["mixture"]
        vocals = [separator.separate(mixture, rate)["vocals"] for separator in separators]
        settings = {label: voc for label, voc in zip(labels, vocals)}
        settings.update({f"mean of 1-{k}": np.mean(vocals[:k], axis=0) for k in range(2, len(vocals) + 1)})
        return {name: {"vocals": voc, "accompaniment": mixture - voc} for name, voc in settings.items()}

    try:
        rows = compare_on_validation(args.data, estimates, args.out, "ensemble", labels[0])
    except LightsepError as exc:
        print(f"ensemble: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(f"{label}: {model}" for label, model in zip(labels, args.models)) + "\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
