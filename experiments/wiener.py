"""Does a multichannel Wiener post-filter help the spectral model? (docs/architecture.md)

    .venv/bin/pip install norbert          # sigsep's Wiener filter (MIT), as Open-Unmix uses it
    .venv/bin/python experiments/wiener.py [--model spectral-2stem] [--data data/musdb18-7] [--iterations 0 1]

On the musdb18-7 validation clips (the paper split's 23 train/ clips, which no configuration
trains on), each clip is separated whole: resampled to the model's rate (soxr HQ), its STFT
masked by the model's masks over the whole clip (iterations 0: the masks as they are), or
the masked magnitudes given to ``norbert.wiener`` with that many EM iterations, then
inverse-transformed and resampled back. It prints the SiSEC18 median SDR of each stem for
each setting (museval, 1 s windows, as lightsep evaluate).
"""

from __future__ import annotations

import argparse

import numpy as np
import soxr
import torch

from lightsep.data import list_tracks, split_tracks
from lightsep.errors import LightsepError
from lightsep.evaluate import score_track, track_medians, track_references
from lightsep.separator import resolve_model


def separate(model, mixture: np.ndarray, rate: int, iterations: int) -> dict[str, np.ndarray]:
    audio = soxr.resample(mixture.T, rate, model.sample_rate, "HQ").T.astype(np.float32)
    with torch.no_grad():
        stft = torch.stft(torch.from_numpy(audio), model.n_fft, model.hop, window=model.window, center=True,
                          pad_mode="constant", return_complex=True)  # (channels, bins, frames), as the model's  # fmt: skip
        magnitude = stft.abs()
        masks = model.masks(magnitude[None])[0].numpy()  # (sources, channels, bins, frames)
    spectrum = stft.numpy()
    if iterations == 0:
        estimates = masks * spectrum[None]
    else:  # norbert's layout: (frames, bins, channels, sources)
        import norbert  # only for the filter: the masks alone need nothing more

        power = (masks * magnitude.numpy()[None]).transpose(3, 2, 1, 0).astype(np.float64)
        estimates = norbert.wiener(power, spectrum.transpose(2, 1, 0).astype(np.complex128), iterations=iterations).transpose(3, 2, 1, 0)
    estimates = torch.from_numpy(np.ascontiguousarray(estimates)).to(torch.complex64)
    out = {}
    for j, name in enumerate(model.sources):
        signal = torch.istft(estimates[j], model.n_fft, model.hop, window=model.window, center=True, length=audio.shape[1]).numpy()
        out[name] = soxr.resample(signal.T, model.sample_rate, rate, "HQ").T[:, : mixture.shape[1]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="spectral-2stem")
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--iterations", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        model = resolve_model(args.model).eval()
    except LightsepError as exc:
        parser.error(str(exc))
    tracks = split_tracks(list_tracks(args.data), "paper", 20200504)["valid"]
    medians = {i: {} for i in args.iterations}
    for track in tracks:
        references, rate = track_references(track)
        for i in args.iterations:
            store = score_track(track.name, references, separate(model, references["mixture"], rate, i), rate)
            for name, median in track_medians(store.scores).items():
                medians[i].setdefault(name, []).append(median)
    print(f"{args.model}, {len(tracks)} validation clips, whole clips, SiSEC18 median SDR (dB)")
    for i in args.iterations:
        row = ", ".join(f"{name} {np.median(values):.2f}" for name, values in medians[i].items())
        print(f"Wiener EM iterations {i}: {row}")


if __name__ == "__main__":
    main()
