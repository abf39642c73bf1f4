"""The README's results tables: ``lightsep evaluate`` summaries side by side, one row per model.

    python scripts/results_table.py "new proposed-2stem=eval/real-music-proposed-2stem-musdb7" \\
        "mixture=eval/mixture-musdb7" ...

Each argument is ``LABEL=EVAL_DIR`` (a folder ``lightsep evaluate --out`` wrote). Each cell is
the median SDR in dB by the SiSEC 2018 rule (the median over tracks of each track's median
over its 1 s frames), then, after the slash, the median over all frames of all tracks
(pooled); "–" where the model has no such stem. Prints Markdown.

    python scripts/results_table.py --against bundled "bundled=eval/a" "new=eval/b" ...

also prints, for every other row, each stem's per-clip scores against the row labelled
``bundled`` (:func:`lightsep.report.paired_differences`): on how many clips it is higher and
lower, and the mean and median of the differences in dB. That is how the spectral models'
runs are compared on the validation clips (docs/models.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lightsep.errors import LightsepError
from lightsep.report import load_result, paired_differences

STEMS = ("vocals", "accompaniment", "drums", "bass", "other")


def row(label: str, folder: Path) -> tuple[str, int, dict[str, str]]:
    summary = json.loads((folder / "summary.json").read_text())
    cells = {}
    for stem in STEMS:
        target = summary["targets"].get(stem)
        if target is None:
            cells[stem] = "–"
        else:
            sdr = target["SDR"]
            cells[stem] = f"{sdr['sisec18']['median']:.2f} / {sdr['pooled']['median']:.2f}"
    return label, summary["tracks"], cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", metavar="LABEL=EVAL_DIR")
    parser.add_argument("--against", metavar="LABEL", help="also compare every other row with this one, clip by clip")
    args = parser.parse_args(argv)
    rows, folders = [], {}
    for item in args.results:
        label, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "summary.json").is_file():
            print(f"results_table: error: {item}: expected LABEL=EVAL_DIR with an evaluation's summary.json", file=sys.stderr)
            return 2
        rows.append(row(label, Path(folder)))
        folders[label] = folder
    if args.against is not None and args.against not in folders:
        print(f"results_table: error: --against {args.against!r} is not one of the labels", file=sys.stderr)
        return 2
    stems = [s for s in STEMS if any(cells[s] != "–" for _, _, cells in rows)]
    print("| model | clips | " + " | ".join(stems) + " |")
    print("|---|---:|" + "---:|" * len(stems))
    for label, tracks, cells in rows:
        print(f"| {label} | {tracks} | " + " | ".join(cells[s] for s in stems) + " |")
    if args.against is not None:
        try:
            print_paired(folders, args.against, stems)
        except LightsepError as exc:
            print(f"results_table: error: {exc}", file=sys.stderr)
            return 2
    return 0


def print_paired(folders: dict[str, str], against: str, stems: list[str]) -> None:
    """Per stem: clips higher / lower than ``against``'s, mean and median difference (dB)."""
    reference = load_result(folders[against])
    print(f"\nAgainst {against}, clip by clip (clips higher / lower; mean, median difference in dB):\n")
    print("| model | " + " | ".join(stems) + " |")
    print("|---|" + "---:|" * len(stems))
    for label, folder in folders.items():
        if label == against:
            continue
        paired = paired_differences(load_result(folder), reference)
        cells = [f"{d.higher} / {d.lower}; {d.mean:+.2f}, {d.median:+.2f}" if (d := paired.get(s)) else "–" for s in stems]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
