"""How good could spectral-2stem's masks be? The best masks its STFT and band layout can express.

    .venv/bin/python experiments/mask_ceiling.py [--model spectral-2stem] [--data data/musdb18-7]
        [--layouts 256/128 512/256] [--out eval/mask-ceiling]

On the musdb18-7 validation clips (the paper split's 23 train/ clips, which no configuration
trains on), the vocals are estimated four ways, each at the model's rate (22.05 kHz; the
stereo references resampled with soxr HQ) and STFT, and scored as ``lightsep evaluate`` scores
a model (museval, 1 s windows, at the clips' own 44.1 kHz, the accompaniment the mixture
minus the vocals, so the band above 11 kHz goes to it as the model's does):

- ``model``: the model itself (``lightsep.Separator``);
- ``ideal-ratio-bins``: the ideal ratio mask ``|V|^2 / (|V|^2 + |A|^2)`` in every bin;
- ``ideal-bins``: the best real mask in [0, 1] per bin (the phase-sensitive mask
  ``Re(V conj(X)) / |X|^2``, clipped), which minimises the spectrogram's squared error;
- ``ideal-bands-B-F`` for each layout ``B/F`` (``B`` bands, the lowest ``F`` bins alone: the
  model's is its own): the mask that the band layout can express (each bin linearly
  interpolated between its two neighbouring bands, ``SpectralMaskNet.expand_bands``) closest
  to ``ideal-bins`` in the same weighted squared error, per frame and channel (weighted least
  squares over the band values, then clipped to [0, 1]).

The gap between ``ideal-bands`` and ``ideal-bins`` is what the band layout costs; between
``model`` and ``ideal-bands``, what the network has not learnt. Each setting is written as a
``lightsep evaluate`` folder under ``--out``, and the script prints both aggregates and each
setting's clip-by-clip differences from ``model`` (docs/architecture.md, "The band layout").
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import soxr
import torch

from lightsep.errors import LightsepError
from lightsep.models.spectral import interpolation_matrix
from lightsep.report import compare_on_validation
from lightsep.separator import Separator

STEMS = ("vocals", "accompaniment")


def band_least_squares(ideal: torch.Tensor, weight: torch.Tensor, expand: torch.Tensor) -> torch.Tensor:
    """The band-layout mask nearest ``ideal`` in ``weight``-weighted squared error.

    ``ideal``, ``weight``: ``(channels, bins, frames)``; ``expand``: ``(bands, bins)``, the
    layout's interpolation matrix (two non-zero entries per column at most). Returns the
    ``(channels, bins, frames)`` mask, clipped to [0, 1]. The normal equations of each frame
    are tridiagonal in the bands (a bin touches two neighbouring bands), assembled by
    scatter-adds rather than a dense product over the bins."""
    bands, bins = expand.shape
    lower = (expand > 0).to(torch.int64).argmax(dim=0)
    upper = torch.clamp(lower + 1, max=bands - 1)
    columns = torch.arange(bins)
    lower_weight = expand[lower, columns]
    upper_weight = torch.where(upper != lower, expand[upper, columns], torch.zeros_like(lower_weight))
    w = weight.permute(0, 2, 1)  # (C, N, bins)
    gram = w.new_zeros(w.shape[:2] + (bands * bands,))
    for row, column, coefficient in ((lower, lower, lower_weight ** 2), (upper, upper, upper_weight ** 2),
                                     (lower, upper, lower_weight * upper_weight), (upper, lower, lower_weight * upper_weight)):  # fmt: skip
        gram.index_add_(-1, row * bands + column, w * coefficient)
    gram = gram.reshape(w.shape[:2] + (bands, bands)) + 1e-9 * torch.eye(bands, dtype=w.dtype)
    right = torch.einsum("kf,cnf->cnk", expand, w * ideal.permute(0, 2, 1))
    values = torch.linalg.solve(gram, right)  # (C, N, bands)
    return torch.einsum("cnk,kf->cfn", values, expand).clamp(0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="spectral-2stem", help="a spectral 2-stem model name or checkpoint")
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--layouts", nargs="*", default=[], metavar="B/F",
                        help="band layouts to try besides the model's: B bands, the lowest F bins alone")  # fmt: skip
    parser.add_argument("--out", default="eval/mask-ceiling")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        separator = Separator(args.model)
    except LightsepError as exc:
        print(f"mask_ceiling: error: {exc}", file=sys.stderr)
        return 2
    model = separator.model
    if not hasattr(model, "expand_bands") or list(model.sources) != list(STEMS):
        print(f"mask_ceiling: error: {args.model} is not a vocals/accompaniment spectral model", file=sys.stderr)
        return 2
    layouts = [(model.bands, model.config["full_resolution_bins"])]
    for text in args.layouts:
        try:
            bands, full = (int(v) for v in text.split("/"))
            interpolation_matrix(model.bins, bands, full)
        except ValueError as exc:
            print(f"mask_ceiling: error: --layouts {text}: expected B/F with 2 <= F < B <= {model.bins} ({exc})", file=sys.stderr)
            return 2
        layouts.append((bands, full))
    rate, window = model.sample_rate, torch.hann_window(model.n_fft, dtype=torch.float64)
    expands = {f"ideal-bands-{b}-{f}": torch.from_numpy(interpolation_matrix(model.bins, b, f)).double() for b, f in layouts}

    def stft(audio: np.ndarray) -> torch.Tensor:
        return torch.stft(torch.from_numpy(audio).double(), model.n_fft, model.hop, window=window, return_complex=True)

    def estimates(references: dict[str, np.ndarray], track_rate: int) -> dict[str, dict[str, np.ndarray]]:
        mixture = references["mixture"]
        low = {n: soxr.resample(references[n].T, track_rate, rate, "HQ").T for n in ("vocals", "accompaniment")}
        vocals, accompaniment = stft(low["vocals"]), stft(low["accompaniment"])
        spectrum = vocals + accompaniment
        power = spectrum.abs() ** 2 + 1e-12
        ideal = ((vocals * spectrum.conj()).real / power).clamp(0.0, 1.0)
        masks = {"ideal-ratio-bins": vocals.abs() ** 2 / (vocals.abs() ** 2 + accompaniment.abs() ** 2 + 1e-12), "ideal-bins": ideal}
        masks.update({name: band_least_squares(ideal, power, expand) for name, expand in expands.items()})
        out = {"model": separator.separate(mixture, track_rate)}
        length = low["vocals"].shape[-1]
        for name, mask in masks.items():
            low_vocals = torch.istft(spectrum * mask, model.n_fft, model.hop, window=window, length=length).numpy()
            voc = soxr.resample(low_vocals.T, rate, track_rate, "HQ").T[:, : mixture.shape[-1]].astype(np.float32)
            out[name] = {"vocals": voc, "accompaniment": mixture - voc}
        return out

    try:
        rows = compare_on_validation(args.data, estimates, args.out, "mask_ceiling", "model")
    except LightsepError as exc:
        print(f"mask_ceiling: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
