"""How the scores grow with the music a run trained on: one row per run, and a fit.

    python scripts/reproduce/learning_curve.py configs/experiments/spectral-2stem-data-quarter.toml=eval/spectral-2stem-data-quarter-valid \\
        configs/experiments/spectral-2stem-data-half.toml=eval/spectral-2stem-data-half-valid \\
        configs/spectral-2stem-eq.toml=eval/spectral-2stem-valid [--reach vocals=5.39]

Each argument is ``CONFIG=EVAL_DIR``: a training configuration and a ``lightsep evaluate``
folder of its run's weights. A row gives the run's training tracks per dataset (what
``lightsep train`` would draw from, ``max_train_tracks`` included), their minutes of audio,
and each stem's median SDR in dB (SiSEC 2018 rule / pooled), and, clip by clip against the run
with the most music, the mean difference of the clips' scores (``paired_differences``). Then,
per stem, two least-squares lines against log2 of the minutes, whose slopes are the dB gained
per doubling of the music: through the SiSEC18 medians (each one clip's score, so noisy),
and through the mean per-clip differences. ``--reach STEM=DB`` also prints the minutes at
which each line would take that stem's SiSEC18 median of the run with the most music to DB
(for the second line, assuming that the median moves as the mean does): an extrapolation of
a straight line through a few points, not a measurement. Prints Markdown; the training data
must be where the configurations say.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from lightsep.audio import audio_info
from lightsep.config import load_config
from lightsep.errors import LightsepError
from lightsep.report import load_result, paired_differences
from lightsep.training import dataset_splits


def training_minutes(config_path: str) -> tuple[dict[str, int], float]:
    """``({dataset: training tracks}, minutes of those tracks)`` of a configuration."""
    counts, seconds = {}, 0.0
    for name, _, tracks, _ in dataset_splits(load_config(config_path)):
        counts[name] = len(tracks)
        for track in tracks:
            reference = track.stems.get("mixture") or next(iter(track.stems.values()))
            seconds += audio_info(reference.path, reference.stream).duration
    return counts, seconds / 60


def fit_line(minutes: list[float], scores: list[float]) -> tuple[float, float]:
    """``(intercept, slope)`` of ``score = intercept + slope * log2(minutes)``, least squares."""
    slope, intercept = np.polyfit(np.log2(minutes), scores, 1)
    return float(intercept), float(slope)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="CONFIG=EVAL_DIR")
    parser.add_argument("--reach", action="append", default=[], metavar="STEM=DB",
                        help="print the minutes at which the fitted line reaches DB for STEM")  # fmt: skip
    args = parser.parse_args(argv)
    rows = []
    try:
        for item in args.runs:
            config, sep, folder = item.partition("=")
            if not sep:
                raise LightsepError(f"{item}: expected CONFIG=EVAL_DIR")
            counts, minutes = training_minutes(config)
            result = load_result(folder)  # checked; its track scores read once
            rows.append((Path(config).stem, counts, minutes, result["targets"], result))
        reach = {}
        for item in args.reach:
            stem, sep, value = item.partition("=")
            try:
                reach[stem] = float(value)
            except ValueError:
                sep = ""
            if not sep or stem not in rows[0][3]:
                raise LightsepError(f"--reach {item}: expected STEM=DB with one of {', '.join(rows[0][3])}")
        rows.sort(key=lambda row: row[2])
        paired = [paired_differences(row[4], rows[-1][4]) for row in rows]
    except LightsepError as exc:
        print(f"learning_curve: error: {exc}", file=sys.stderr)
        return 2
    stems = [s for s in rows[0][3] if all(s in row[3] for row in rows)]
    print("| run | training tracks | minutes | " + " | ".join(stems) + " |")
    print("|---|---|---:|" + "---:|" * len(stems))
    for (run, counts, minutes, targets, _), against in zip(rows, paired):
        tracks = ", ".join(f"{n} {name}" for name, n in counts.items())
        cells = [f"{targets[s]['SDR']['sisec18']['median']:.2f} / {targets[s]['SDR']['pooled']['median']:.2f}"
                 + (f"; {against[s].mean:+.2f}" if run != rows[-1][0] else "") for s in stems]  # fmt: skip
        print(f"| {run} | {tracks} | {minutes:.1f} | " + " | ".join(cells) + " |")
    print(f"\n(SiSEC18 / pooled median SDR in dB; after the semicolon, the mean per-clip difference from {rows[-1][0]})")
    if len(rows) < 2 or len({row[2] for row in rows}) < 2:
        return 0
    minutes = [row[2] for row in rows]
    print("\nLeast-squares lines against log2(minutes):\n")
    for stem in stems:
        top = rows[-1][3][stem]["SDR"]["sisec18"]["median"]
        for what, scores in (("SiSEC18 median", [row[3][stem]["SDR"]["sisec18"]["median"] for row in rows]),
                             ("mean per-clip difference", [p[stem].mean for p in paired])):  # fmt: skip
            intercept, slope = fit_line(minutes, scores)
            line = f"- {stem}, {what}: {slope:+.2f} dB per doubling of the music"
            if stem in reach:
                if slope > 0:
                    needed = max(minutes) * 2 ** ((reach[stem] - top) / slope)
                    line += f"; {reach[stem]:.2f} dB at {needed:.0f} minutes ({needed / max(minutes):.1f}x the most here)"
                else:
                    line += f"; never {reach[stem]:.2f} dB"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
