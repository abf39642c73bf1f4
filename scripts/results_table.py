"""The README's results tables: ``lightsep evaluate`` summaries side by side, one row per model.

    python scripts/results_table.py "new proposed-2stem=eval/real-music-proposed-2stem-musdb7" \\
        "mixture=eval/mixture-musdb7" ...

Each argument is ``LABEL=EVAL_DIR`` (a folder ``lightsep evaluate --out`` wrote). Each cell is
the median SDR in dB by the SiSEC 2018 rule (the median over tracks of each track's median
over its 1 s frames), then, after the slash, the median over all frames of all tracks
(pooled); "–" where the model has no such stem. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", metavar="LABEL=EVAL_DIR")
    args = parser.parse_args()
    rows = []
    for item in args.results:
        label, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "summary.json").is_file():
            print(f"results_table: error: {item}: expected LABEL=EVAL_DIR with an evaluation's summary.json", file=sys.stderr)
            return 2
        rows.append(row(label, Path(folder)))
    stems = [s for s in STEMS if any(cells[s] != "–" for _, _, cells in rows)]
    print("| model | clips | " + " | ".join(stems) + " |")
    print("|---|---:|" + "---:|" * len(stems))
    for label, tracks, cells in rows:
        print(f"| {label} | {tracks} | " + " | ".join(cells[s] for s in stems) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
