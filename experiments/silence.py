"""Peak level of every stem for quiet inputs, with and without the silence gate.

    .venv/bin/python experiments/silence.py [--models proposed-2stem proposed-4stem]

A 440 Hz sine (stereo, 44.1 kHz, 2 s) at each level, and digital silence, through each model;
prints each stem's peak in dBFS (-inf: exactly silent). docs/failures.md quotes it.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from lightsep.errors import LightsepError
from lightsep.separator import Separator

LEVELS_DB = (None, -95.0, -80.0, -60.0, -40.0)  # None: digital silence


def peak_db(audio: np.ndarray) -> str:
    peak = float(np.abs(audio).max())
    return "-inf" if peak == 0 else f"{20 * math.log10(peak):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["proposed-2stem", "proposed-4stem"])
    args = parser.parse_args()
    rate = 44100
    sine = np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate).astype(np.float32)[None].repeat(2, axis=0)
    for name in args.models:
        for floor in (-90.0, None):
            try:
                separator = Separator(name, silence_floor_db=floor)
            except LightsepError as exc:
                parser.error(str(exc))
            print(f"\n{name}, gate {'off' if floor is None else f'{floor:g} dBFS'}: stem peaks (dBFS)")
            print("  input      " + "".join(f"{s:>15}" for s in separator.sources))
            for level in LEVELS_DB:
                audio = np.zeros_like(sine) if level is None else (10 ** (level / 20) * sine).astype(np.float32)
                stems = separator.separate(audio, rate)
                label = "silence" if level is None else f"{level:g}"
                print(f"  {label:<11}" + "".join(f"{peak_db(stems[s]):>15}" for s in separator.sources))


if __name__ == "__main__":
    main()
