"""lightsep's demonstration: separate a real song that ships with the repository.

The song (``examples/everything-is-remixed-lithium/``) is an 18-second excerpt of "Lithium"
from Everything is Remixed (CC0), a song that no configuration trains or validates on,
stored as its four stems (``examples/make_real_example.py``); its mixture is their sum.
``--song procedural-song`` takes the synthesised example instead (``examples/procedural-song/``,
``examples/make_example_song.py``). The demo

1. writes the mixture to ``OUT/<song>.wav``;
2. separates it with the bundled model, as ``lightsep separate`` does, into
   ``OUT/<model>/<song>/<stem>.wav``;
3. prints each stem's SDR against the true stem (BSS Eval v4, median over 1 s windows),
   beside the SDR of the unprocessed mixture used as the estimate (the floor);
4. draws the mixture and every stem, waveform and spectrogram, into
   ``OUT/<model>/<song>.png``.

    python examples/demo.py [-m proposed-4stem] [-o demo-output] [--song procedural-song]

Everything runs offline on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from lightsep import Separator
from lightsep.audio import read_audio, write_audio
from lightsep.defaults import SEPARATE_MODEL
from lightsep.errors import LightsepError
from lightsep.evaluate import score_track, track_medians, with_accompaniment
from lightsep.fileio import atomic_path
from lightsep.files import separate_file_to_dir
from lightsep.plotting import plot_stems

EXAMPLES = Path(__file__).resolve().parent
SONGS = ("everything-is-remixed-lithium", "procedural-song")  # the first is the default
SONG = EXAMPLES / SONGS[0]
STEMS = ("vocals", "drums", "bass", "other")


def load_song(folder: Path = SONG) -> tuple[dict[str, np.ndarray], int]:
    """The true stems ``{name: (channels, samples)}``, with ``accompaniment`` (drums + bass +
    other) and ``mixture`` (all four) added, and the sample rate."""
    stems, rates = {}, set()
    for name in STEMS:
        stems[name], rate = read_audio(folder / f"{name}.ogg")
        rates.add(rate)
    if len(rates) != 1:
        raise LightsepError(f"{folder}: the stems have different sample rates {sorted(rates)}")
    stems = with_accompaniment(stems)
    stems["mixture"] = stems["accompaniment"] + stems["vocals"]
    return stems, rates.pop()


def run(model: str, out: Path, quiet: bool = False, song: str = SONGS[0]) -> dict:
    references, rate = load_song(EXAMPLES / song)
    mixture_path = write_audio(out / f"{song}.wav", references["mixture"], rate, bit_depth=32)
    separator = Separator(model)
    plan = separate_file_to_dir(separator, mixture_path, out, force=True, progress=not quiet)
    estimates = {name: read_audio(path)[0] for name, path in plan.stems.items()}

    scored = with_accompaniment(estimates)
    model_sdr = track_medians(score_track(plan.track, references, scored, rate).scores)
    silent = [name for name in scored if name not in model_sdr]  # silent in the song: score_track leaves them out
    floor = {name: references["mixture"] for name in scored}
    floor_sdr = track_medians(score_track(plan.track, references, floor, rate).scores)

    picture = plot_stems(references["mixture"].T, {n: a.T for n, a in estimates.items()}, rate,
                         plan.folder.with_suffix(".png"), references={n: references[n].T for n in estimates},
                         title=f"{separator.name} on {song} (grey: true stem)")  # fmt: skip
    result = {"model": separator.name, "stems": {n: str(p) for n, p in plan.stems.items()}, "picture": str(picture),
              "sdr": model_sdr, "mixture_sdr": floor_sdr, "silent": silent}  # fmt: skip
    with atomic_path(plan.folder.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result


def report(result: dict) -> str:
    lines = [f"separated {Path(result['stems'][next(iter(result['stems']))]).parent} with {result['model']}",
             "", f"{'stem':<14}{'SDR (dB)':>10}{'mixture (dB)':>14}{'gain (dB)':>11}"]  # fmt: skip
    for name, sdr in result["sdr"].items():
        floor = result["mixture_sdr"][name]
        lines.append(f"{name:<14}{sdr:>10.2f}{floor:>14.2f}{sdr - floor:>11.2f}")
    for name in result.get("silent", []):
        lines.append(f"{name:<14}{'silent in this song: not scored':>35}")
    lines += ["", "SDR: BSS Eval v4, median over 1 s windows, against the true stems; 'mixture' scores the",
              "unprocessed mixture as the estimate.", f"picture: {result['picture']}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default=SEPARATE_MODEL, help=f"model name or checkpoint (default: {SEPARATE_MODEL})")
    parser.add_argument("-o", "--out", default="demo-output", help="output folder (default: demo-output)")
    parser.add_argument("--song", choices=SONGS, default=SONGS[0], help=f"the example song (default: {SONGS[0]})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        result = run(args.model, Path(args.out), args.quiet, args.song)
    except LightsepError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
