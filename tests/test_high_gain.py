"""The vocals' gain above 11.025 kHz (lightsep.models.high_gain) and the full-band models that use it."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from lightsep.checkpoint import load_checkpoint, save_checkpoint
from lightsep.export import export_onnx
from lightsep.models.high_gain import CONTEXT, FRAME_FEATURES, HighBandGain
from lightsep.models.registry import build_model
from lightsep.models.spectral import SpectralMaskNet, full_band_of

RATE, N_FFT = 44100, 4096


def at(hz: float) -> int:
    return round(hz * N_FFT / RATE)


def test_the_gain_reads_region_energies_the_centre_and_onsets():
    frames, bins = 6, N_FFT // 2 + 1
    real, imag = torch.zeros(1, 2, bins, frames), torch.zeros(1, 2, bins, frames)
    real[0, 0, at(9000)] = torch.arange(1.0, frames + 1)  # left: a tone at 9 kHz, rising
    real[0, 1, at(14000)] = 2.0  # right: a steady one at 14 kHz
    real[0, :, at(17000)] = torch.tensor([[1.0], [1.0]])  # both: the same at 17 kHz (the centre)
    real[0, :, at(12000)] = torch.tensor([[1.0], [-1.0]])  # both, in opposite phase, at 12 kHz
    mask = torch.full_like(real, 0.5)
    features = HighBandGain(RATE, N_FFT).frame_features(real, imag, mask)[0]
    assert features.shape == (frames, 2, FRAME_FEATURES)
    left, right = features[:, 0], features[:, 1]
    rising = 2 * torch.log10(torch.arange(1.0, frames + 1))
    # the fourth low region (8-10.5 kHz): mixture then vocal estimate; the others empty
    torch.testing.assert_close(left[:, 6], rising, atol=1e-5, rtol=0)
    torch.testing.assert_close(left[:, 7], rising + 2 * float(np.log10(0.5)), atol=1e-5, rtol=0)
    assert torch.all(left[:, [0, 1, 2, 3, 4, 5]] == -8)
    # the high regions: 11-13 kHz (the opposite-phase tone), 13-16 kHz (the right's), 16 kHz up (the centre one)
    torch.testing.assert_close(right[:, 8:11], torch.tensor([0.0, float(np.log10(4.0)), 0.0]).expand(frames, 3), atol=1e-5, rtol=0)
    # less the mean over the frames
    torch.testing.assert_close(features[..., 11:22], features[..., :11] - features[..., :11].mean(0), atol=1e-5, rtol=0)
    # stereo, the same for both channels: 8-10.5 kHz holds one channel (mid = side); 11-13 kHz
    # opposite phases (no mid, nothing in the centre); above 16 kHz all centre, no side
    stereo = features[..., 22:30]
    torch.testing.assert_close(stereo[:, 0], stereo[:, 1])
    torch.testing.assert_close(stereo[:, 0, 0], torch.zeros(frames), atol=1e-5, rtol=0)
    assert torch.all(stereo[:, 0, 2] < -8) and torch.all(stereo[:, 0, 3] < -8)
    assert torch.all(stereo[:, 0, 6] > 8)
    torch.testing.assert_close(stereo[:, 0, 7], torch.zeros(frames), atol=1e-5, rtol=0)
    # the change from the frame before (none before the first)
    change = features[..., 30:]
    assert torch.all(change[0] == 0)
    torch.testing.assert_close(change[1:, 0, 6], rising[1:] - rising[:-1], atol=1e-5, rtol=0)
    assert torch.all(change[1:, 1, 9].abs() < 1e-5)


def test_each_gain_sees_its_neighbouring_frames():
    features = torch.randn(7, 2, 3)
    context = HighBandGain.with_context(features)
    assert context.shape == (7, 2, 3 * len(CONTEXT))
    centre = CONTEXT.index(0)
    torch.testing.assert_close(context[..., 3 * centre : 3 * centre + 3], features)
    torch.testing.assert_close(context[0, :, :3], features[0])  # before the first frame: the first
    torch.testing.assert_close(context[3, :, :3], features[3 + CONTEXT[0]])


def full_band_pair(gain_bias: float | None = None) -> tuple[SpectralMaskNet, SpectralMaskNet]:
    """A small full-band ensemble without and with a high-band gain, the same weights."""
    torch.manual_seed(0)
    small = {"bands": 32, "full_resolution_bins": 8}
    narrow = SpectralMaskNet(n_fft=256, hop=64, context_samples=2048,
                             members=[{**small, "hidden": 16}, {**small, "hidden": 8, "frequency_channels": [4, 4]}])  # fmt: skip
    plain = full_band_of(narrow, high_bands=4)
    gained = full_band_of(narrow, high_bands=4, high_gain=4)
    if gain_bias is not None:
        with torch.no_grad():
            gained.high_gain_net.body[-1].weight.zero_()
            gained.high_gain_net.body[-1].bias.fill_(gain_bias)
    return plain, gained


def band_passed(audio: torch.Tensor, low: float, high: float) -> torch.Tensor:
    spectrum = torch.fft.rfft(audio, dim=-1)
    frequencies = torch.fft.rfftfreq(audio.shape[-1], 1 / RATE)
    return torch.fft.irfft(spectrum * ((frequencies >= low) & (frequencies < high)), n=audio.shape[-1], dim=-1)


@pytest.mark.parametrize("bias,kept", [(-30.0, 0.0), (30.0, 1.0)])
def test_the_gain_decides_the_vocals_above_11k_and_nothing_below(bias, kept):
    plain, gained = full_band_pair(bias)
    assert gained.config["high_gain"] == 4 and all("high_gain" not in m for m in gained.config["members"])
    noise = 0.1 * torch.randn(1, 2, gained.context_samples)
    inner = slice(gained.n_fft, gained.output_samples - gained.n_fft)  # away from the segment's edges, which hold every frequency
    region = slice(gained.output_start + inner.start, gained.output_start + inner.stop)
    with torch.no_grad():
        low = band_passed(noise, 0, 9000)  # below 11 kHz: the stems as they were
        torch.testing.assert_close(gained(low)[..., inner], plain(low)[..., inner], atol=1e-5, rtol=0)
        high = band_passed(noise, 12500, RATE)  # above: the vocals all or nothing of the mixture
        vocals, accompaniment = gained(high)[0, ..., inner]
    torch.testing.assert_close(vocals, kept * high[0, :, region], atol=1e-4, rtol=0)
    torch.testing.assert_close(vocals + accompaniment, high[0, :, region], atol=1e-5, rtol=0)


def test_a_model_with_a_gain_exports_to_onnx_and_travels_in_its_checkpoint(tmp_path):
    _, model = full_band_pair()
    with torch.no_grad():
        model.high_gain_net.body[-1].bias.fill_(0.3)  # not the same for every input
        model.high_gain_net.scale.fill_(2.0)
    model.name = "spectral-2stem-fullband"
    x = 0.1 * torch.randn(2, 2, model.context_samples)
    with torch.no_grad():
        expected = model(x)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "m.pt"))
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "m.onnx")), providers=["CPUExecutionProvider"])
    got = session.run(None, {"mixture": x.numpy()})[0]
    assert got.shape == expected.shape and np.abs(got - expected.numpy()).max() < 1e-4


@pytest.mark.parametrize("arguments", [dict(high_gain=4), dict(high_bands=4, high_gain=4, audio_channels=1),
                                       dict(high_bands=4, high_gain=4, sources=["vocals", "drums", "rest"]),
                                       dict(high_bands=4, high_gain=-1), dict(high_bands=4, high_gain=True)])  # fmt: skip
def test_a_gain_needs_a_stereo_two_stem_full_band_model(arguments):
    with pytest.raises(ValueError, match="high_gain"):
        SpectralMaskNet(sample_rate=44100, n_fft=512, hop=128, context_samples=4096, bands=32, full_resolution_bins=8, **arguments)


def test_silence_around_the_signal_does_not_move_the_centred_energies():
    # a separator pads a signal's first and last segments with zeros
    rng = torch.Generator().manual_seed(0)
    real, imag = torch.randn(1, 2, N_FFT // 2 + 1, 10, generator=rng), torch.randn(1, 2, N_FFT // 2 + 1, 10, generator=rng)
    gain = HighBandGain(RATE, N_FFT)
    mask = torch.full_like(real, 0.5)
    alone = gain.frame_features(real, imag, mask)[0]
    padded = [torch.nn.functional.pad(part, (3, 4)) for part in (real, imag, mask)]
    torch.testing.assert_close(gain.frame_features(*padded)[0, 3:-4, :, :30], alone[..., :30], atol=1e-5, rtol=0)


def test_the_full_band_preset_is_the_default_carried_over_with_a_gain():
    from lightsep.separator import resolve_model

    carried = full_band_of(resolve_model("spectral-2stem-ensemble"), high_gain=32)
    assert build_model("spectral-2stem-fullband").config == carried.config


def test_a_mono_signal_gives_the_vocals_none_of_the_high_band():
    # the head reads the stereo image; a mono signal given to both channels has none
    _, model = full_band_pair(30.0)  # a gain of 1 wherever it is asked
    noise = 0.1 * torch.randn(1, 1, model.context_samples)
    high = band_passed(noise, 12500, RATE)
    inner = slice(model.n_fft, model.output_samples - model.n_fft)
    with torch.no_grad():
        mono = model(high.expand(1, 2, -1))[0, 0, ..., inner]
        stereo = model(torch.cat([high, 0.5 * high], dim=1))[0, 0, ..., inner]
    assert mono.abs().max() < 1e-6 and stereo.abs().max() > 0.01
