"""Does a 22.05 kHz spectral model carry over to 44.1 kHz and the whole band as it is?
(docs/research/full-band.md)

    .venv/bin/python experiments/full_band.py [--model spectral-2stem-ensemble] [--data data/musdb18-7] [--clips N]
                                              [--candidate CHECKPOINT ...] [--also MODEL ...] [--oracle]
                                              [--no-baselines] [--split {valid,test}] [--plain-features] [--downmix]

:func:`lightsep.models.spectral.full_band_of` puts a 22.05 kHz model's weights into a 44.1 kHz
model with 16 bands above 11 kHz whose corrections start at zero (their masks continue the top
band's), its low bands fed what the 22.05 kHz model saw behind its resampler
(``narrow_features``; ``--plain-features``: the low bands as the bins fall, the layout the first
fine-tuning runs started from). On the validation clips (the paper split of musdb18-7 train: clips no run trains
on), for each clip: vocals and accompaniment SNR over the whole band (10 log10 of the
reference's energy over the error's) and over the band above 11.025 kHz alone, for the
22.05 kHz model, the carried-over model, and the carried-over model with its high bands
closed to the vocals (every bin above 11 kHz to the accompaniment); then the medians. It
also prints how far the carried-over model's band features are from the 22.05 kHz model's,
band by band, on the first clip. ``--candidate``: trained full-band checkpoints scored beside
them, at the 22.05 kHz model's separating segments (in seconds); ``--also``: other models, as
they separate; ``--oracle``: the ideal ratio mask, the ceiling; ``--downmix``: each clip's mono
downmix (the channels' mean) in both channels, its references likewise, as a mono file reaches
a stereo model.
"""

from __future__ import annotations

import argparse

import numpy as np
import soxr
import torch

from lightsep.checkpoint import load_checkpoint
from lightsep.data.splits import split_tracks
from lightsep.data.tracks import list_tracks
from lightsep.errors import LightsepError
from lightsep.evaluate import oracle_irm, track_references
from lightsep.models.spectral import HIGH_BAND_HZ, SpectralMaskNet, full_band_of
from lightsep.separator import Separator, resolve_model


def snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum((reference - estimate) ** 2), 1e-20)))


def high_passed(audio: np.ndarray, rate: int) -> np.ndarray:
    spectrum = np.fft.rfft(audio, axis=-1)
    spectrum[..., np.fft.rfftfreq(audio.shape[-1], 1 / rate) < HIGH_BAND_HZ] = 0
    return np.fft.irfft(spectrum, n=audio.shape[-1], axis=-1)


def band_features(model, audio: np.ndarray) -> torch.Tensor:
    network = model.members[0] if model.members is not None else model
    spectrum = torch.stft(torch.from_numpy(np.ascontiguousarray(audio)), model.n_fft, model.hop, window=model.window,
                          center=True, pad_mode="constant", return_complex=True)  # fmt: skip
    features = network.band_features(spectrum.abs()[None])[0]
    return features.reshape(features.shape[0], model.audio_channels, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="spectral-2stem-ensemble")
    parser.add_argument("--data", default="data/musdb18-7")
    parser.add_argument("--clips", type=int, default=None, help="the first N clips only (default: all)")
    parser.add_argument("--candidate", nargs="+", default=[], metavar="CHECKPOINT", help="trained full-band checkpoints to score beside them")
    parser.add_argument("--plain-features", action="store_true",
                        help="carry over without narrow_features (the low bands as the bins fall: the first experiments' layout)")
    parser.add_argument("--no-baselines", action="store_true", help="leave out the 22.05 kHz and carried-over rows (and the feature check)")
    parser.add_argument("--split", choices=("valid", "test"), default="valid",
                        help="valid (the default): the paper split's validation clips; test: musdb18-7 test/, to report only")
    parser.add_argument("--also", nargs="+", default=[], metavar="MODEL",
                        help="models scored as they separate, beside them (e.g. spectral-2stem-live, spleeter-2stem)")
    parser.add_argument("--oracle", action="store_true", help="also the ideal ratio mask (lightsep evaluate's oracle-irm): the ceiling")
    parser.add_argument("--downmix", action="store_true", help="each clip's mono downmix in both channels (references likewise)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        compare(args)
    except LightsepError as exc:  # a missing or unreadable folder, checkpoint or model: one line
        parser.error(str(exc))


def compare(args: argparse.Namespace) -> None:
    """Scores every model ``args`` names (:func:`main`), printing a row each."""
    narrow = resolve_model(args.model)
    wide = full_band_of(narrow, narrow_features=not args.plain_features)
    closed = full_band_of(narrow, narrow_features=not args.plain_features)
    with torch.no_grad():
        for member in closed.members if closed.members is not None else [closed]:
            member.high_logits.bias.view(len(closed.sources), closed.audio_channels, -1)[0] = -10.0
            member.high_logits.bias.view(len(closed.sources), closed.audio_channels, -1)[1] = 10.0
    separators = {"22.05 kHz": Separator(narrow), "carried over": Separator(wide), "high bands closed": Separator(closed)}
    if args.no_baselines:
        separators = {}
    for path in args.candidate:
        trained = load_checkpoint(path)
        geometry = {key: wide.config[key] for key in ("context_samples", "output_start", "output_samples")}
        candidate = SpectralMaskNet(**{**trained.config, **geometry})
        candidate.load_state_dict(trained.state_dict())
        separators["trained" if len(args.candidate) == 1 else path] = Separator(candidate.eval())
    for name in args.also:
        separators[name] = Separator(name)
    if args.split == "test":
        valid = list_tracks(args.data, "test")
    else:
        valid = split_tracks(list_tracks(args.data, "train"), "paper")["valid"]
    rows = {name: [] for name in separators}
    if args.oracle:
        rows["ideal ratio mask"] = []
    for index, track in enumerate(valid[: args.clips]):
        references, rate = track_references(track)
        if args.downmix:  # as a mono file reaches a stereo model: one signal in both channels
            references = {name: np.repeat(audio.mean(axis=0, keepdims=True), 2, axis=0) for name, audio in references.items()}
        if index == 0 and not args.no_baselines:
            low = soxr.resample(references["mixture"].T, rate, narrow.sample_rate, "HQ").T.astype(np.float32)
            before, after = band_features(narrow, low), band_features(wide, references["mixture"])
            frames = min(before.shape[0], after.shape[0])
            gap = (before[:frames] - after[:frames, :, : before.shape[-1]]).abs().mean(dim=(0, 1))
            print("band features, mean |difference| of log magnitudes, bands 0 / 128 / 250 / 254 / 255:",
                  " / ".join(f"{float(gap[b]):.4f}" for b in (0, 128, 250, 254, 255)))  # fmt: skip
        outputs = ((name, separator.separate(references["mixture"], rate)) for name, separator in separators.items())
        if args.oracle:
            outputs = [*outputs, ("ideal ratio mask", oracle_irm(references, ("vocals", "accompaniment")))]
        for name, stems in outputs:
            rows[name].append([snr(references[s], stems[s]) for s in ("vocals", "accompaniment")]
                              + [snr(high_passed(references[s], rate), high_passed(stems[s], rate)) for s in ("vocals", "accompaniment")])  # fmt: skip
    print(f"{len(valid[: args.clips])} {'validation' if args.split == 'valid' else 'test'} clips, median SNR in dB")
    width = max(20, *(len(name) for name in rows))
    print(f"{'model':<{width}} {'vocals':>8} {'accomp.':>8} {'vocals >11k':>12} {'accomp. >11k':>13}")
    for name, values in rows.items():
        medians = np.median(np.array(values), axis=0)
        print(f"{name:<{width}} {medians[0]:8.2f} {medians[1]:8.2f} {medians[2]:12.2f} {medians[3]:13.2f}")


if __name__ == "__main__":
    main()
