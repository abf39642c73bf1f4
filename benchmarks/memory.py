"""Peak memory of ``lightsep separate`` on a long file.

    .venv/bin/python benchmarks/memory.py --minutes 60 [--model proposed-2stem] [--threads 2]

Writes a stereo 44.1 kHz 16-bit file of the given length (noise and tones, written block by
block), then separates it in a fresh process with the same code path as the CLI and prints
that process's peak resident memory (ru_maxrss). For comparison it does the same for a
1-minute file: bounded memory means the two peaks are about equal.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import resource, sys, warnings
warnings.simplefilter("ignore")
import torch
torch.set_num_threads(int(sys.argv[4]))
from lightsep.separator import Separator
from lightsep.files import separate_file_to_dir
separate_file_to_dir(Separator(sys.argv[1], random_weights=True), sys.argv[2], sys.argv[3], force=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_long(path: Path, minutes: float) -> None:
    from lightsep.audio import AudioWriter

    writer = AudioWriter(path, 44100, 2, "wav", 16)
    rng = np.random.default_rng(0)
    t = np.arange(44100) / 44100
    for second in range(int(minutes * 60)):
        tone = 0.2 * np.sin(2 * np.pi * (110 + second % 50) * t)
        writer.write((tone + 0.05 * rng.standard_normal((2, t.size))).astype(np.float32))
    writer.commit()


def peak_rss_mb(model: str, path: Path, out: Path, threads: int) -> float:
    command = [sys.executable, "-c", CHILD, model, str(path), str(out), str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--model", default="proposed-2stem")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for minutes in (1.0, args.minutes):
            path = tmp / f"{minutes:g}min.wav"
            write_long(path, minutes)
            size = path.stat().st_size / 2**20
            peak = peak_rss_mb(args.model, path, tmp / "out", args.threads)
            print(f"{args.model}: {minutes:g} min stereo 44.1 kHz ({size:.0f} MB of 16-bit wav): peak RSS {peak:.0f} MB")
            path.unlink()


if __name__ == "__main__":
    main()
