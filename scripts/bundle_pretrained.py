"""Bundle a finished training run's best model as lightsep's pretrained weights.

    python scripts/bundle_pretrained.py --run runs/pretrain-proposed-2stem --eval runs/eval/proposed-2stem

Copies ``RUN/best.pt`` to ``src/lightsep/pretrained/<model>.pt`` and writes its manifest
(``<model>.json``): the corpus and its seeds, the recipe, the steps and training time, the
hardware, the test scores of ``lightsep evaluate`` (EVAL/summary.json), and the sha256 that
loading verifies. Everything in it is read from the files the run and the evaluation wrote.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch

from lightsep.checkpoint import read_checkpoint
from lightsep.errors import LightsepError
from lightsep.pretrained import bundle


def cpu_name() -> str:
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def manifest_info(run: Path, evaluation: Path) -> dict:
    best = read_checkpoint(run / "best.pt")["metadata"]
    state = torch.load(run / "state.pt", map_location="cpu", weights_only=True)
    progress, config = state["progress"], state["config"]
    summary = json.loads((evaluation / "summary.json").read_text())
    subset = summary.get("subset", "test")
    tracks = sorted(p.stem for p in (evaluation / subset).glob("*.json"))
    corpus_root = Path(best["data_root"])
    description = corpus_root / "lightsep-corpus.json"  # a lightsep corpus describes itself
    corpus = json.loads(description.read_text())["parameters"] if description.exists() else None
    made_with = None
    if corpus:
        made_with = (f"lightsep synth {corpus_root} --songs {corpus['songs']} --seconds {corpus['seconds']:g} "
                     f"--seed {corpus['seed']} --test-fraction {corpus['test_fraction']}")  # fmt: skip
    training = config["training"]
    return {
        "data": {
            "corpus": str(corpus_root),
            "made_with": made_with,
            "corpus_parameters": corpus,
            "split": config["data"]["split"],
            "split_seed": config["data"]["split_seed"],
            "train_tracks": best["train_tracks"],
            "valid_tracks": best["valid_tracks"],
            "test_tracks": summary["tracks"],
            "note": ("synthesised music (FluidSynth, FluidR3 General MIDI soundfont; the vocals are a GM voice patch "
                     "singing no words), not real recordings") if corpus else "",
        },
        "training": {
            "config": f"configs/{config['name']}.toml",
            "command": f"lightsep train --config configs/{config['name']}.toml --data {corpus_root}",
            "recipe": {"seed": training["seed"], "iterations_per_epoch": training["iterations_per_epoch"],
                       "main": training["main"], "finetune": training["finetune"],
                       "gains": [config["data"]["gain_min"], config["data"]["gain_max"]], "loss": "MSE"},  # fmt: skip
            "steps": progress["step"],
            "best_step": best["step"],
            "best_phase": best["phase"],
            "best_valid_loss": best["valid_loss"],
            "training_seconds": round(progress["seconds"], 1),
            "finished": progress["finished"],
        },
        "hardware": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "threads": config["run"]["threads"] or torch.get_num_threads(),
            "device": best["device"],
            "torch": torch.__version__,
            "shared_with": "the other pretrain-* runs (scripts/pretrain.sh runs them at the same time)",
        },
        "test": {
            "command": f"lightsep evaluate -m <checkpoint> --data {corpus_root} --subset {subset} --tracks {' '.join(tracks)}",
            "tracks": summary["tracks"],
            "track_names": tracks,
            "metric": "SDR (dB), BSS Eval v4, 1 s windows; sisec18: median of track medians; pooled: median of all frames",
            "sdr": {target: {"sisec18": scores["SDR"]["sisec18"]["median"], "pooled": scores["SDR"]["pooled"]["median"]}
                    for target, scores in summary["targets"].items()},  # fmt: skip
        },
        "created": datetime.date.today().isoformat(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished training run folder")
    parser.add_argument("--eval", type=Path, required=True, help="its 'lightsep evaluate' output folder")
    args = parser.parse_args()
    try:
        path = bundle(args.run / "best.pt", manifest_info(args.run, args.eval))
    except (LightsepError, OSError, KeyError) as exc:
        detail = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"bundle_pretrained: error: {detail}", file=sys.stderr)
        return 1
    print(f"wrote {path} and {path.with_suffix('.pt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
