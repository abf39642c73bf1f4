"""The README's results at a glance, in one command: quality, speed, size and latency of the
default model, the full-band model, the 4-stem model, the two live models, the paper's model and
Spleeter 2stems.

    .venv/bin/python scripts/results_at_a_glance.py --data data/musdb18-7 [--eval-root eval]

- quality: ``lightsep evaluate`` on the 50 musdb18-7 test clips, SiSEC 2018 median SDR in dB
  (each model's folder ``EVAL_ROOT/<model>-musdb7``; run now where it is missing, finished
  clips skipped on a rerun);
- speed: ``benchmarks/speed.py --json`` on a 30 s stereo clip, 2 threads, in this run;
- size and latency: what :func:`lightsep.list_models` gives (the latency is what ``lightsep
  stream`` states at 44.1 kHz).

Spleeter 2stems needs its weights first: ``lightsep get spleeter-2stem``. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = [  # (model, what it is in the table, evaluate options)
    ("spectral-2stem-ensemble", "default (`separate`)", []),
    ("spectral-2stem-fullband", "whole band (`-m spectral-2stem-fullband`)", []),
    ("spectral-4stem", "4 stems", []),
    ("spectral-2stem-live", "live (`stream`)", ["--resample-quality", "LQ"]),
    ("spectral-2stem-live-20ms", "live at 20 ms (`stream --latency 20`)", ["--resample-quality", "QQ"]),
    ("proposed-2stem", "the paper's model", []),
    ("spleeter-2stem", "Spleeter 2stems (its weights)", []),
]


def evaluation(model: str, options: list[str], data: Path, folder: Path, jobs: int) -> dict:
    if not (folder / "summary.json").is_file():
        command = [sys.executable, "-m", "lightsep", "evaluate", "-m", model, "--data", str(data), "--out", str(folder),
                   "-j", str(jobs), "--quiet", *options]  # fmt: skip
        subprocess.run(command, check=True, stdout=sys.stderr)  # stdout carries the table alone
    return json.loads((folder / "summary.json").read_text())


def speeds(models: list[str], seconds: float, repeats: int) -> dict[str, float]:
    """x real time of each model's default row in one speed.py run (the fastest row where a
    model has several, as speed.py's own ratios take it)."""
    command = [sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--json", "--seconds", str(seconds),
               "--repeats", str(repeats), "--only", *models]  # fmt: skip
    rows = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    best: dict[str, float] = {}
    for row in rows:
        if row["backend"] == "torch":
            best[row["name"]] = max(best.get(row["name"], 0.0), row["realtime_factor"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="musdb18-7 (its test/ folder is scored)")
    parser.add_argument("--eval-root", type=Path, default=Path("eval"))
    parser.add_argument("-j", "--jobs", type=int, default=2, help="clips evaluated in parallel")
    parser.add_argument("--seconds", type=float, default=30.0, help="speed.py's clip (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="speed.py's rounds (default 3)")
    args = parser.parse_args()

    from lightsep.catalog import entry_of
    from lightsep.models import build_model

    entries = {name: entry_of(name, build_model(name)) for name, *_ in MODELS}
    scores = {name: evaluation(name, options, args.data, args.eval_root / f"{name}-musdb7", args.jobs)
              for name, _, options in MODELS}  # fmt: skip
    speed = speeds([name for name, *_ in MODELS if not name.startswith("spectral-2stem-live")], args.seconds, args.repeats)
    print("| model | role | stems | vocals SDR | accompaniment SDR | x real time (2 cores) | parameters | stream latency |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, role, _ in MODELS:
        entry, targets = entries[name], scores[name]["targets"]
        sdr = {stem: f"{targets[stem]['SDR']['sisec18']['median']:.2f}" if stem in targets else "–"
               for stem in ("vocals", "accompaniment")}  # fmt: skip
        factor = f"{speed[name]:.0f}x" if name in speed else "streams"
        latency = entry.stream_latency_s
        latency_text = f"{1000 * latency:.0f} ms" if latency < 1 else f"{latency:.1f} s"
        print(f"| `{name}` | {role} | {len(entry.stems)} | {sdr['vocals']} | {sdr['accompaniment']} | {factor} | "
              f"{entry.parameters / 1e6:.2f}M | {latency_text} |")


if __name__ == "__main__":
    main()
