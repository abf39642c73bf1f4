"""Re-create ``examples/everything-is-remixed-lithium/``: the real song the demo separates.

An 18-second excerpt (4:10 to 4:28) of "Lithium" from Everything is Remixed (stems of the
album "Everything is Free" by Software-Entwicklungskit, CC0 1.0: public domain) in which
vocals, drums and the other instruments play throughout, and the bass is silent (the song has
bass only in two short passages; museval does not score a silent stem). It is
cut from the song as docs/data.md imports it (``lightsep import-stems ... --gain -6``, held
out in ``data/everythingisremixed/test/``: no configuration trains or validates on it) and
stored as its four stems in Ogg Vorbis. The mixture is not stored: it is the sum of the
decoded stems, so the stems the demo scores against add up to the mixture it separates.

    python examples/make_real_example.py [--song data/everythingisremixed/test/2.Lithium]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import soundfile as sf

START, SECONDS = 250, 18
STEMS = ("vocals", "drums", "bass", "other")
OUT = Path(__file__).resolve().parent / "everything-is-remixed-lithium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--song", default="data/everythingisremixed/test/2.Lithium", help="the imported song's folder")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for stem in STEMS:
        info = sf.info(Path(args.song) / f"{stem}.wav")
        audio, rate = sf.read(Path(args.song) / f"{stem}.wav", start=START * info.samplerate, frames=SECONDS * info.samplerate)
        sf.write(OUT / f"{stem}.ogg", audio, rate, format="OGG", subtype="VORBIS")
    print(f"wrote {', '.join(s + '.ogg' for s in STEMS)} to {OUT}")


if __name__ == "__main__":
    main()
