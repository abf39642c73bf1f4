"""Separation speed against the peers, measured in one run on the same clip.

    .venv/bin/python benchmarks/peers_setup.py     # once: the peers' packages, with --no-deps
    .venv/bin/python benchmarks/speed.py [--seconds 30] [--threads 2] [--json]

Every contender separates the same 30 s stereo 44.1 kHz clip on 2 threads, after a warm-up
on a short clip. The real-time factor is the clip's duration divided by the wall time: 20
means 20x faster than real time.

- lightsep models go through ``lightsep.Separator`` as a user would: resampling to
  22.05 kHz and back, both channels separated (mono models run per channel), default 50%
  overlap for the proposed models. ``torch`` runs LightSepNet in its channels-last
  inference form (``lightsep.models.fast``, the default); ``torch-plain`` runs the model's
  own ``forward``, for comparison. Wave-U-Net tiles its outputs without overlap, as its
  original code did.
- Open-Unmix: the ``openunmix`` package's UMX-HQ architecture (n_fft 4096, hop 1024, hidden
  512, 16 kHz bandwidth), four targets, random weights, no Wiener iterations (niter=0).
- HT-Demucs: the ``demucs`` package's ``HTDemucs`` (default configuration, four sources),
  random weights, through ``demucs.apply.apply_model`` (its own chunking, overlap 0.25).

The peers declare torchaudio, which has no build for this torch; their model classes do not
use it, so this script puts an empty stand-in module in its place (here only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
import warnings

import numpy as np
import torch


def stub_torchaudio() -> None:
    if "torchaudio" in sys.modules:
        return
    stub = types.ModuleType("torchaudio")
    stub.__version__ = "0.0+benchmark-stub"
    for name in ("transforms", "functional"):
        sub = types.ModuleType(f"torchaudio.{name}")
        sys.modules[sub.__name__] = sub
        setattr(stub, name, sub)
    sys.modules["torchaudio"] = stub


def clip(seconds: float, rate: int = 44100) -> np.ndarray:
    """A music-like stereo test signal: a few harmonic tones and some noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    tones = sum(0.05 * np.sin(2 * np.pi * f * t + p) for f, p in zip(rng.uniform(80, 2000, 12), rng.uniform(0, 6, 12)))
    return np.stack([tones + 0.02 * rng.standard_normal(t.size) for _ in range(2)]).astype(np.float32)


def lightsep_runner(name: str, backend: str, overlap: float, threads: int):
    from lightsep.separator import Separator

    optimized = backend != "torch-plain"
    backend = "torch" if backend == "torch-plain" else backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        separator = Separator(name, backend=backend, overlap=overlap, batch_size=4, threads=threads, optimized=optimized)
    return lambda audio: separator.separate(audio, 44100)


def openunmix_runner(threads: int):
    stub_torchaudio()
    from openunmix.model import OpenUnmix, Separator
    from openunmix.utils import bandwidth_to_max_bin

    targets = ("vocals", "drums", "bass", "other")
    models = {
        t: OpenUnmix(nb_bins=4096 // 2 + 1, nb_channels=2, hidden_size=512, max_bin=bandwidth_to_max_bin(44100, 4096, 16000))
        for t in targets
    }
    separator = Separator(models, niter=0, n_fft=4096, n_hop=1024, sample_rate=44100.0).eval()

    def run(audio):
        with torch.inference_mode():
            return separator(torch.from_numpy(audio)[None])

    return run


def htdemucs_runner(threads: int):
    stub_torchaudio()
    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs

    model = HTDemucs(sources=["drums", "bass", "other", "vocals"]).eval()

    def run(audio):
        with torch.inference_mode():
            return apply_model(model, torch.from_numpy(audio)[None], overlap=0.25, progress=False)

    return run


CONTENDERS = [
    ("proposed-2stem", "torch", lambda th: lightsep_runner("proposed-2stem", "torch", 0.5, th)),
    ("proposed-2stem", "torch-plain", lambda th: lightsep_runner("proposed-2stem", "torch-plain", 0.5, th)),
    ("proposed-2stem", "onnx", lambda th: lightsep_runner("proposed-2stem", "onnx", 0.5, th)),
    ("proposed-2stem", "onnx-int8", lambda th: lightsep_runner("proposed-2stem", "onnx-int8", 0.5, th)),
    ("proposed-4stem", "torch", lambda th: lightsep_runner("proposed-4stem", "torch", 0.5, th)),
    ("proposed-4stem", "onnx", lambda th: lightsep_runner("proposed-4stem", "onnx", 0.5, th)),
    ("proposed-4stem", "onnx-int8", lambda th: lightsep_runner("proposed-4stem", "onnx-int8", 0.5, th)),
    ("waveunet-m4", "torch", lambda th: lightsep_runner("waveunet-m4", "torch", 0.0, th)),
    ("waveunet-m6", "torch", lambda th: lightsep_runner("waveunet-m6", "torch", 0.0, th)),
    ("open-unmix-umxhq", "torch", openunmix_runner),
    ("htdemucs", "torch", htdemucs_runner),
]


def main() -> None:
    parser = argparse.ArgumentParser(description="separation speed of lightsep and its peers, in one run")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="names of contenders to run (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    audio, warmup = clip(args.seconds), clip(2.0)
    rows = []
    for name, backend, make in CONTENDERS:
        if args.only and name not in args.only:
            continue
        try:
            run = make(args.threads)
        except ImportError as exc:
            print(f"skipping {name}: {exc} (run benchmarks/peers_setup.py)", file=sys.stderr)
            continue
        run(warmup)
        start = time.perf_counter()
        run(audio)
        rows.append({"name": name, "backend": backend, "realtime_factor": args.seconds / (time.perf_counter() - start)})
    if args.json:
        print(json.dumps(rows))
        return
    reference = next((r["realtime_factor"] for r in rows if r["name"] == "proposed-2stem" and r["backend"] == "torch"), None)
    print(f"{args.seconds:.0f} s stereo 44.1 kHz clip, {args.threads} threads, torch {torch.__version__}")
    print(f"{'model':<18} {'backend':<12} {'x real time':>12} {'vs proposed-2stem (torch)':>27}")
    for r in rows:
        ratio = f"{r['realtime_factor'] / reference:.2f}x" if reference else "-"
        print(f"{r['name']:<18} {r['backend']:<12} {r['realtime_factor']:12.1f} {ratio:>27}")


if __name__ == "__main__":
    main()
