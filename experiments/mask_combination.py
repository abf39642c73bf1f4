"""How should an ensemble's members' masks be combined? (docs/architecture.md, "Ensembles")

    .venv/bin/python experiments/mask_combination.py [--model spectral-2stem-ensemble] [--data data/musdb18-7]

On the musdb18-7 validation clips (the paper split's 23 train/ clips, which no configuration
trains on), each clip is separated as ``lightsep evaluate`` separates it (the Separator, its
segments and overlap), with the ensemble's vocals mask made from its members' in several
ways: their mean (what the model does), a weighted mean, the sigmoid of their mean logit,
and the mean sharpened or softened by an exponent ``p`` (``m^p / (m^p + (1 - m)^p)``, which
keeps the two masks summing to one). It prints, for each, the SiSEC18 median and the pooled
median SDR of both stems and on how many clips each stem beats the plain mean (museval,
1 s windows, as ``lightsep evaluate``). A 2-stem ensemble only: the masks of a 4-stem one
are a softmax, which these variants do not cover.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
import torch

from lightsep.data import list_tracks, split_tracks
from lightsep.errors import LightsepError
from lightsep.evaluate import estimate, score_track, target_frames, track_medians, track_references
from lightsep.separator import Separator

Combine = Callable[[list[torch.Tensor]], torch.Tensor]


def _logit(mask: torch.Tensor) -> torch.Tensor:
    mask = mask.clamp(1e-6, 1 - 1e-6)
    return torch.log(mask) - torch.log1p(-mask)


def weighted(weight: float) -> Combine:
    return lambda masks: weight * masks[0] + (1 - weight) * masks[1]


def exponent(power: float) -> Combine:
    def combine(masks: list[torch.Tensor]) -> torch.Tensor:
        return torch.sigmoid(power * _logit(torch.stack(masks).mean(dim=0)))

    return combine


def logit_mean(masks: list[torch.Tensor]) -> torch.Tensor:
    return torch.sigmoid(torch.stack([_logit(m) for m in masks]).mean(dim=0))


VARIANTS: dict[str, Combine] = {
    "mean": lambda masks: torch.stack(masks).mean(dim=0),
    "weights 0.6/0.4": weighted(0.6),
    "weights 0.4/0.6": weighted(0.4),
    "logit mean": logit_mean,
    "p 0.7": exponent(0.7),
    "p 0.85": exponent(0.85),
    "p 1.2": exponent(1.2),
    "p 1.5": exponent(1.5),
}


def combine_with(model, combine: Combine) -> None:
    """Make ``model`` (a 2-stem ensemble) combine its members' vocals masks with ``combine``:
    it combines them with ``combine_masks``, which an instance attribute replaces."""
    model.combine_masks = combine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="spectral-2stem-ensemble")
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    try:
        separator = Separator(args.model, threads=1)
    except LightsepError as exc:
        parser.error(str(exc))
    model = separator.model
    if model.members is None or len(model.sources) != 2:
        parser.error(f"{args.model} is not a 2-stem ensemble")
    tracks = split_tracks(list_tracks(args.data), "paper", 20200504)["valid"]
    medians: dict[str, dict[str, list[float]]] = {v: {} for v in args.variants}
    pooled: dict[str, dict[str, list[float]]] = {v: {} for v in args.variants}
    for track in tracks:
        references, rate = track_references(track)
        for variant in args.variants:
            combine_with(model, VARIANTS[variant])
            scores = score_track(track.name, references, estimate(separator, references, rate), rate).scores
            for name, median in track_medians(scores).items():
                medians[variant].setdefault(name, []).append(median)
                pooled[variant].setdefault(name, []).extend(target_frames(scores)[name]["SDR"])
        print(track.name, {v: {n: round(s[-1], 2) for n, s in medians[v].items()} for v in args.variants}, flush=True)
    print(f"{args.model}, {len(tracks)} validation clips; SiSEC18 median / pooled median SDR (dB); clips better than the mean")
    base = medians.get("mean")
    for variant in args.variants:
        cells = []
        for name, values in medians[variant].items():
            cell = f"{name} {np.median(values):.2f} / {np.nanmedian(pooled[variant][name]):.2f}"
            if base is not None:
                diff = np.array(values) - np.array(base[name])
                cell += f" ({int((diff > 0).sum())}/{len(diff)}, mean {diff.mean():+.2f})"
            cells.append(cell)
        print(f"{variant}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
