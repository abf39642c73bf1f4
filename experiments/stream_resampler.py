"""What the streaming resampler costs: a live model streamed at 48 kHz through each soxr
quality, against the true stems.

    .venv/bin/python experiments/stream_resampler.py [--model spectral-2stem-live-20ms] [--qualities QQ LQ]

The demo song's mixture and true stems, resampled to 48 kHz with soxr's VHQ filter (what a
48 kHz source would hold), are streamed through ``StreamingSeparator`` as ``lightsep stream``
runs it (one frame at a time, ONNX Runtime when installed), with each resampler quality to the
model's 44.1 kHz and back; for each, the stated latency and the SNR of every stem against
the truth (10 log10 of the reference's energy over the error's, the whole song, both
channels), with the same model at the song's own 44.1 kHz (no resampler) for comparison.
docs/research/live-20ms.md quotes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum((reference - estimate) ** 2), 1e-20)))


def streamed(model: str, audio: np.ndarray, rate: int, quality: str | None) -> tuple[np.ndarray, float]:
    """``(sources, channels, n)`` separated as a stream of 5 ms blocks, the latency removed."""
    from lightsep.streaming import StreamingSeparator

    block = rate // 200
    options = {} if quality is None else {"resample_quality": quality}
    with StreamingSeparator.realtime(model, rate, audio.shape[0], **options) as stream:
        parts = [stream.push(audio[:, i : i + block]) for i in range(0, audio.shape[1], block)] + [stream.flush()]
    out = np.concatenate(parts, axis=-1)
    return out[..., stream.latency : stream.latency + audio.shape[1]], stream.latency_seconds


def main() -> None:
    from demo import load_song

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="spectral-2stem-live-20ms")
    parser.add_argument("--qualities", nargs="+", default=["QQ", "LQ"])
    args = parser.parse_args()
    stems, rate = load_song()
    names = ("vocals", "accompaniment")
    print(f"{args.model}, the demo song ({stems['mixture'].shape[1] / rate:.1f} s), SNR against the true stems (dB)")
    print(f"{'input':<10} {'resampler':>9} {'latency':>8} " + " ".join(f"{n:>13}" for n in names))
    out, latency = streamed(args.model, stems["mixture"], rate, None)
    print(f"{rate:<10} {'none':>9} {1000 * latency:>6.1f}ms " + " ".join(f"{snr_db(stems[n], out[k]):>13.2f}" for k, n in enumerate(names)))
    at_48k = {name: soxr.resample(stems[name].T, rate, 48000, quality="VHQ").T.astype(np.float32) for name in ("mixture", *names)}
    for quality in args.qualities:
        out, latency = streamed(args.model, at_48k["mixture"], 48000, quality)
        print(f"{48000:<10} {quality:>9} {1000 * latency:>6.1f}ms "
              + " ".join(f"{snr_db(at_48k[n], out[k]):>13.2f}" for k, n in enumerate(names)))  # fmt: skip


if __name__ == "__main__":
    main()
