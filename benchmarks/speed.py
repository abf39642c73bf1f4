"""Separation speed against the peers, measured in one run on the same clip.

    .venv/bin/python benchmarks/peers_setup.py     # once: the peers' packages, with --no-deps
    .venv/bin/python benchmarks/speed.py [--seconds 30] [--threads 2] [--batch-size N] [--json]

Every contender separates the same 30 s stereo 44.1 kHz clip on 2 threads, after a warm-up
on a 2 s clip and one untimed separation of the clip itself (the first call at a new size
was often several times slower than the next ones: memory allocated afresh), once in each of
``--repeats`` rounds (3); a row is the median of its rounds. The real-time factor is the
clip's duration divided by the wall time: 20 means 20x faster than real time.

- lightsep models go through ``lightsep.Separator`` as a user would: resampling to
  22.05 kHz and back, both channels separated (mono models run per channel), default 50%
  overlap for the proposed models, plus proposed-2stem at 25% and 0% overlap (fewer
  segments: a speed-for-quality choice, measured in docs/separation.md). ``torch`` runs LightSepNet in its channels-last
  inference form (``lightsep.models.fast``, the default); ``torch-plain`` runs the model's
  own ``forward``, for comparison. Wave-U-Net tiles its outputs without overlap, as its
  original code did.
- The spectrogram-mask models (spectral-2stem, spectral-2stem-ensemble, spectral-4stem): stereo models, so both
  channels go through one forward pass, at their default overlap (a 0.28 s crossfade: 0.107 of
  spectral-2stem's 2.60 s output, 0.25 of spectral-4stem's 1.11 s; docs/architecture.md),
  and spectral-2stem at 25% too.
- Spleeter 2stems (the quality peer): lightsep's port of its model (``SpleeterNet``, Spleeter's
  two U-Nets on 512 frames of a 4096-point STFT at 44.1 kHz) through ``lightsep.Separator``
  with no overlap, as Spleeter itself computes each frame once; its real weights when
  ``benchmarks/peers_setup.py`` has converted them, else random ones (the speed is the same).
  Two rows: one 11.9 s segment per forward pass (``batch`` 1, the port's default), and its
  segments all in one pass (``batch`` 16: a 30 s clip's three), as Spleeter batches them.
  One per pass has been the faster here, by 2.3 to 5 times: the feature maps of a batch are
  hundreds of MB, given memory afresh on every pass. The ``vs spleeter-2stem`` column divides
  by the faster of the two in the run, so that the peer is measured at its best.
- Open-Unmix: the ``openunmix`` package's UMX-HQ architecture (n_fft 4096, hop 1024, hidden
  512, 16 kHz bandwidth), four targets, random weights, no Wiener iterations (niter=0).
- HT-Demucs: the ``demucs`` package's ``HTDemucs`` (default configuration, four sources),
  random weights, through ``demucs.apply.apply_model`` (its own chunking, overlap 0.25).

For the proposed models the table also gives the work (GFLOP of the convolutions and matrix
products that separating the clip runs: counted with ``torch.utils.flop_counter`` for the torch
rows, where the fast form shares work between overlapping segments; for the ONNX rows, which
run the exported model segment by segment, the model's FLOPs per segment times the segments)
and a ceiling: the real-time factor if all of that work ran at the best rate this machine's
BLAS reaches in the same run on the models' most frequent GEMM, with every other cost
ignored. No implementation doing that work can beat it here.

``--json`` prints the rows as a list of ``{"name", "backend", "overlap", "batch_size", "runs", "realtime_factor"}``
(``batch_size`` null: the Separator's default or ``--batch-size``),
with ``"gflop"`` and ``"ceiling_realtime_factor"`` for the proposed models.

The peers declare torchaudio, which has no build for this torch; their model classes do not
use it, so this script puts an empty stand-in module in its place (here only).
"""

from __future__ import annotations

import argparse
import json
import statistics
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


BATCH_SIZE: int | None = None
"""``--batch-size``: segments per forward pass for the lightsep rows (None: Separator's default)."""


def lightsep_runner(name: str, backend: str, overlap: float, threads: int, batch_size: int | None = None):
    from lightsep.separator import Separator

    optimized = backend != "torch-plain"
    backend = "torch" if backend == "torch-plain" else backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch_size = BATCH_SIZE if batch_size is None else batch_size
        options = {} if batch_size is None else {"batch_size": batch_size}
        separator = Separator(name, backend=backend, overlap=overlap, threads=threads, optimized=optimized, random_weights=True,
                              **options)  # speed does not depend on the weights
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


def lightsep_contender(name: str, backend: str, overlap: float | None = None, batch_size: int | None = None):
    """A row for lightsep's ``name``; ``overlap`` ``None``: the model's default; ``batch_size``
    ``None``: ``--batch-size``, else Separator's default."""
    if overlap is None:
        from lightsep.models import build_model

        overlap = build_model(name).default_overlap
    return (name, backend, overlap, lambda threads: lightsep_runner(name, backend, overlap, threads, batch_size), batch_size)


CONTENDERS = [
    lightsep_contender("proposed-2stem", "torch", 0.5),
    lightsep_contender("proposed-2stem", "torch-plain", 0.5),
    lightsep_contender("proposed-2stem", "onnx", 0.5),
    lightsep_contender("proposed-2stem", "onnx-int8", 0.5),
    lightsep_contender("proposed-2stem", "torch", 0.25),
    lightsep_contender("proposed-2stem", "torch", 0.0),
    lightsep_contender("proposed-4stem", "torch", 0.5),
    lightsep_contender("proposed-4stem", "onnx", 0.5),
    lightsep_contender("proposed-4stem", "onnx-int8", 0.5),
    lightsep_contender("spectral-2stem", "torch"),
    lightsep_contender("spectral-2stem", "torch", 0.25),
    lightsep_contender("spectral-2stem", "onnx"),
    lightsep_contender("spectral-2stem-ensemble", "torch"),
    lightsep_contender("spectral-2stem-ensemble", "onnx"),
    lightsep_contender("spectral-2stem-fullband", "torch"),
    lightsep_contender("spectral-4stem", "torch"),
    lightsep_contender("spleeter-2stem", "torch", 0.0, batch_size=1),
    lightsep_contender("spleeter-2stem", "torch", 0.0, batch_size=16),
    lightsep_contender("waveunet-m4", "torch", 0.0),
    lightsep_contender("waveunet-m6", "torch", 0.0),
    ("open-unmix-umxhq", "torch", None, openunmix_runner, None),
    ("htdemucs", "torch", 0.25, htdemucs_runner, None),
]


def gemm_rate(threads: int, repeats: int = 30) -> float:
    """GFLOP/s of this machine's BLAS on the proposed models' most frequent GEMM, ``(2048 x
    512) @ (512 x 128)`` (an ASPP branch at a batch of 8 segments), best of ``repeats``: an
    upper bound on the rate at which their convolutions and GEMMs can run here."""
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 512), torch.randn(512, 128)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048 * 512 * 128 / best / 1e9


def work_gflop(name: str, overlap: float, seconds: float, channels: int = 2) -> float:
    """GFLOP of the forward passes that separating ``seconds`` of ``channels``-channel audio
    takes: the segments :class:`lightsep.apply.OverlapAdd` computes at ``overlap``, times the
    model's FLOPs per segment (``lightsep info`` counts them; mono models run per channel)."""
    from lightsep.analysis import gflops_per_audio_second
    from lightsep.apply import OverlapAdd
    from lightsep.models import build_model

    model = build_model(name)
    segment_seconds = model.output_samples / model.sample_rate
    hop = OverlapAdd(None, 1, 1, model.context_samples, model.output_samples, model.output_offset, overlap).hop
    segments = -(-round(seconds * model.sample_rate) // hop)
    runs = channels if model.audio_channels == 1 else 1
    return gflops_per_audio_second(model) * segment_seconds * segments * runs


def counted_gflop(run, audio: np.ndarray) -> float:
    """GFLOP of the convolutions and matrix products that one ``run(audio)`` executes, counted
    by ``torch.utils.flop_counter``, with in-place ``addmm_`` counted like ``addmm`` and
    oneDNN's convolution with a fused activation like a convolution: the work the torch paths
    really do, sharing between overlapping segments included."""
    from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

    def addmm_in_place(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]

    def fused_convolution(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        return conv_flop_count(x_shape, w_shape, out_shape)

    mapping = {torch.ops.aten.addmm_: addmm_in_place}
    fused = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
    if fused is not None:
        mapping[fused] = fused_convolution
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        run(audio)
    return counter.get_total_flops() / 1e9


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def clip_benchmark_arguments(description: str, models: list[str]) -> argparse.Namespace:
    """The command line of the benchmarks that time lightsep models on this script's clip
    (``--models``, ``--seconds``, ``--repeats``, 7 by default), parsed and checked."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", default=models)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=positive_int, default=7)
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    args.error = parser.error
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description="separation speed of lightsep and its peers, in one run")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--only", nargs="*", help="names of contenders to run (default: all)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed rounds; each row is the median (default 3)")
    parser.add_argument("--batch-size", type=positive_int, help="segments per forward pass for lightsep's models (default: each model's; "
                        "the Spleeter rows keep theirs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    global BATCH_SIZE
    BATCH_SIZE = args.batch_size
    unknown = sorted(set(args.only or []) - {name for name, *_ in CONTENDERS})
    if unknown:
        parser.error(f"unknown contender {unknown[0]!r}; choose from {', '.join(sorted({n for n, *_ in CONTENDERS}))}")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    torch.set_num_threads(args.threads)
    audio, warmup = clip(args.seconds), clip(2.0)
    rows, runners = [], []
    for name, backend, overlap, make, batch_size in CONTENDERS:
        if args.only and name not in args.only:
            continue
        try:
            run = make(args.threads)
        except ImportError as exc:
            print(f"skipping {name}: {exc} (run benchmarks/peers_setup.py)", file=sys.stderr)
            continue
        run(warmup)
        run(audio)  # untimed: the first call at the clip's size sets up its memory
        rows.append({"name": name, "backend": backend, "overlap": overlap, "batch_size": batch_size, "runs": []})
        runners.append(run)
    # Rounds: every contender once per round, so a slow spell of the machine hits them all.
    for _ in range(args.repeats):
        for row, run in zip(rows, runners):
            start = time.perf_counter()
            run(audio)
            row["runs"].append(args.seconds / (time.perf_counter() - start))
    for row in rows:
        row["realtime_factor"] = statistics.median(row["runs"])
    rate = gemm_rate(args.threads)
    for row, run in zip(rows, runners):
        if row["name"].startswith("proposed-"):
            if row["backend"].startswith("torch"):
                row["gflop"] = counted_gflop(run, audio)
            else:  # ONNX Runtime runs the exported model segment by segment
                row["gflop"] = work_gflop(row["name"], row["overlap"], args.seconds)
            row["ceiling_realtime_factor"] = args.seconds / (row["gflop"] / rate)
    if args.json:
        print(json.dumps(rows))
        return
    def factor_of(name: str, backend: str, overlap: float) -> float | None:
        return next((r["realtime_factor"] for r in rows if (r["name"], r["backend"], r["overlap"]) == (name, backend, overlap)), None)

    reference = factor_of("proposed-2stem", "torch", 0.5)
    # the peer run the fastest way this run found: its segments all in one pass, or one at a time
    spleeter = max((r["realtime_factor"] for r in rows if r["name"] == "spleeter-2stem"), default=None)
    batch = "" if args.batch_size is None else f", lightsep batch size {args.batch_size}"
    print(f"{args.seconds:.0f} s stereo 44.1 kHz clip, {args.threads} threads, torch {torch.__version__}, "
          f"median of {args.repeats} rounds{batch}")
    width = max([len("model")] + [len(r["name"]) for r in rows])
    print(f"{'model':<{width}} {'backend':<12} {'overlap':>7} {'batch':>5} {'x real time':>12} {'vs proposed-2stem (torch)':>26} "
          f"{'vs spleeter-2stem':>18} {'GFLOP':>6} {'ceiling':>8}")
    for r in rows:
        ratio = f"{r['realtime_factor'] / reference:.2f}x" if reference else "-"
        versus_spleeter = f"{r['realtime_factor'] / spleeter:.2f}x" if spleeter else "-"
        overlap = "-" if r["overlap"] is None else f"{r['overlap']:.2f}"
        batch_size = "-" if r["batch_size"] is None else str(r["batch_size"])
        work = f"{r['gflop']:6.1f} {r['ceiling_realtime_factor']:7.1f}x" if "gflop" in r else ""
        print(f"{r['name']:<{width}} {r['backend']:<12} {overlap:>7} {batch_size:>5} {r['realtime_factor']:12.1f} {ratio:>26} {versus_spleeter:>18} {work}")
    print(f"ceiling: the clip's GFLOP at {rate:.1f} GFLOP/s, the best rate this machine's BLAS reached in this run on "
          "the proposed models' most frequent GEMM; every other cost ignored")


if __name__ == "__main__":
    main()
