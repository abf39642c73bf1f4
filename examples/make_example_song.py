"""Re-create ``examples/procedural-song/``: the song the demo separates.

It is song 1 of a one-song-per-index procedural corpus with seed 2027 (not a seed of any
training corpus), rendered by ``lightsep synth`` at 44.1 kHz stereo, cut to its first 10
seconds and stored as its four stems in Ogg Vorbis, to stay well under a megabyte. The
mixture is not stored: it is the sum of the decoded stems, so the stems the demo scores
against add up to the mixture it separates exactly.

    python examples/make_example_song.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile as sf

SEED, INDEX, SECONDS = 2027, 1, 10
STEMS = ("vocals", "drums", "bass", "other")
OUT = Path(__file__).resolve().parent / "procedural-song"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "lightsep.cli", "synth", tmp, "--songs", str(INDEX + 1), "--seconds", "12",
                        "--seed", str(SEED), "--test-fraction", "0", "--jobs", "1", "--quiet"], check=True)  # fmt: skip
        song = Path(tmp) / "train" / f"song-{INDEX:04d}"
        OUT.mkdir(exist_ok=True)
        for stem in STEMS:
            audio, rate = sf.read(song / f"{stem}.wav")
            sf.write(OUT / f"{stem}.ogg", audio[: SECONDS * rate], rate, format="OGG", subtype="VORBIS")
    print(f"wrote {', '.join(s + '.ogg' for s in STEMS)} to {OUT}")


if __name__ == "__main__":
    main()
