"""Low-delay frames (SpectralMaskNet's ``synthesis_samples``): the windows reconstruct, a
sample is out ``synthesis_samples - 1`` samples after it arrived and depends on nothing later,
streaming equals offline, and a Hann-framed model's weights start one. That the engine is the
model's forward however the input is cut, and that the ONNX frame step runs as torch's, is
tests/test_frames.py's, for both kinds of frames."""

import numpy as np
import pytest
import torch
from helpers import quiet_noise as signal

from lightsep.checkpoint import save_checkpoint
from lightsep.frames import FrameEngine
from lightsep.models.registry import build_model
from lightsep.models.spectral import SpectralMaskNet, low_delay_windows
from lightsep.separator import Separator
from lightsep.streaming import StreamingSeparator

SMALL = dict(sample_rate=44100, n_fft=512, hop=128, bands=64, full_resolution_bins=32, hidden=16, bidirectional=False)


def low_delay(length: int = 8192, synthesis_samples: int = 192, **overrides) -> SpectralMaskNet:
    model = SpectralMaskNet(context_samples=length, synthesis_samples=synthesis_samples, **{**SMALL, **overrides}).eval()
    model.name = "low-delay-small"
    return model


@pytest.mark.parametrize("n_fft, hop, synthesis", [(2048, 512, 768), (2048, 512, 1024), (512, 128, 192), (1024, 256, 257)])
def test_the_window_products_hop_apart_sum_to_one(n_fft, hop, synthesis):
    analysis, synthesis_window = low_delay_windows(n_fft, hop, synthesis)
    assert np.all(synthesis_window[: n_fft - synthesis] == 0) and np.all(synthesis_window[n_fft - synthesis :] > 0)
    assert np.all(analysis > 0) and analysis.max() <= 1.0
    frames = 12
    total = np.zeros((frames - 1) * hop + n_fft)
    for k in range(frames):
        total[k * hop : k * hop + n_fft] += analysis * synthesis_window
    assert np.allclose(total[n_fft : (frames - 1) * hop], 1.0, atol=1e-12)


@pytest.mark.parametrize("synthesis", [0, 128, 257, 448, -1, 1.5, True])
def test_impossible_synthesis_lengths_are_refused(synthesis):
    if synthesis == 0:
        assert low_delay(synthesis_samples=0).synthesis_samples == 512  # Hann frames: the whole frame
        return
    with pytest.raises(ValueError, match="synthesis_samples"):
        low_delay(synthesis_samples=synthesis)


def test_a_bidirectional_model_has_no_low_delay_frames():
    with pytest.raises(ValueError, match="causal"):
        low_delay(bidirectional=True)


def test_the_stft_is_inverted_exactly():
    model = low_delay()
    audio = torch.from_numpy(signal(8192))
    spectrum = model.stft(audio)
    assert spectrum.shape == (2, 257, 8192 // 128 + 1)
    assert torch.abs(model.istft(spectrum, 8192) - audio).max() < 1e-5


def test_a_sample_is_out_synthesis_minus_one_samples_after_it_arrived_and_hears_nothing_later():
    model = low_delay()
    engine = FrameEngine(model, 2)
    assert engine.latency == 191
    audio = signal(3000)
    out, emitted = [], 0
    for t in range(audio.shape[1]):
        out.append(engine.push(audio[:, t : t + 1]))
        emitted += out[-1].shape[-1]
        assert emitted >= t + 1 - engine.latency  # every sample that old is out
    first = np.concatenate(out, axis=-1)
    changed = audio.copy()
    changed[:, 2000:] += 0.5  # a change from sample 2000 on
    again = FrameEngine(model, 2)
    second = np.concatenate([again.push(changed[:, t : t + 1]) for t in range(3000)], axis=-1)
    unchanged = 2000 - engine.latency  # what was out before sample 2000 arrived stays as it was
    assert np.array_equal(first[..., :unchanged], second[..., :unchanged])
    assert not np.allclose(first[..., 2000 - 1], second[..., 2000 - 1])  # a sample that late hears the change


def test_streaming_equals_offline_and_states_its_latency():
    model = low_delay()
    audio = signal(20000, seed=4)
    offline = Separator(model).separate(audio, 44100)
    stream = StreamingSeparator(Separator(model, batch_size=1), 44100, 2)
    assert stream.latency == 191
    blocks = [stream.push(audio[:, i : i + 220]) for i in range(0, audio.shape[1], 220)] + [stream.flush()]
    streamed = np.concatenate(blocks, axis=-1)[..., stream.latency : stream.latency + audio.shape[1]]
    for k, name in enumerate(model.sources):
        assert np.abs(streamed[k] - offline[name]).max() < 1e-5


def test_a_hann_framed_models_weights_start_a_low_delay_one(tmp_path):
    from lightsep.training import initial_weights

    hann = SpectralMaskNet(context_samples=8192, **SMALL)
    checkpoint = save_checkpoint(hann, tmp_path / "hann.pt")
    model = low_delay()
    initial_weights(model, str(checkpoint))
    for key, value in hann.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


def test_the_20_ms_preset_states_at_most_20_ms_at_44100_and_48000():
    model = build_model("spectral-2stem-live-20ms")
    assert model.causal and model.sample_rate == 44100
    for rate in (44100, 48000):
        stream = StreamingSeparator(Separator(model, batch_size=1, resample_quality="QQ"), rate, 2, warm_up=False)
        assert stream.latency_seconds <= 0.020, rate


def test_stream_latency_20_picks_the_20_ms_model_and_states_at_most_20_ms(tmp_path, capsys):
    from lightsep.audio import write_audio
    from lightsep.cli import main

    for rate in (44100, 48000):
        song = write_audio(tmp_path / f"song-{rate}.wav", signal(rate // 2), rate, bit_depth=32)
        code = main(["stream", str(song), "--latency", "20", "--random-weights", "--block-ms", "5", "-o", str(tmp_path / "out"), "--no-pace"])
        assert code == 0
        out = capsys.readouterr().out
        stated = float(out.split("latency: ")[1].split(" ms")[0])
        assert stated <= 20, out
        assert "stated: the synthesis window + resampling" in out
        assert (tmp_path / "out" / "spectral-2stem-live-20ms" / f"song-{rate}" / "vocals.wav").is_file()


def test_stream_takes_a_model_or_a_latency_not_both(tmp_path, capsys):
    from lightsep.audio import write_audio
    from lightsep.cli import main

    song = write_audio(tmp_path / "song.wav", signal(4410), 44100, bit_depth=32)
    assert main(["stream", str(song), "--latency", "20", "-m", "spectral-2stem-live", "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "not both" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_model_streamed_by_frames_goes_through_the_quick_resampler_unless_told():
    from lightsep.streaming import StreamingSeparator, realtime_separator

    assert realtime_separator("spectral-2stem-live-20ms", backend="torch", random_weights=True).resample_quality == "QQ"
    assert realtime_separator("spectral-2stem-live", backend="torch").resample_quality == "QQ"
    assert realtime_separator("proposed-2stem-lowlatency", backend="torch").resample_quality == "LQ"  # by segments
    # QQ's few samples of delay: at 48 kHz the 46 ms model states under 47 ms (LQ: 57.1)
    assert StreamingSeparator.realtime("spectral-2stem-live", sample_rate=48000, channels=2).latency_seconds < 0.047
    told = realtime_separator("spectral-2stem-live-20ms", backend="torch", random_weights=True, resample_quality="HQ")
    assert told.resample_quality == "HQ"


def test_the_derived_input_span_is_what_gradients_measure():
    """At the samples where a frame's synthesis window starts and ends, and where its output
    reaches farthest ahead."""
    from lightsep.analysis import measure_input_span

    model = low_delay(length=2048, output_start=512, output_samples=1024)
    aligned = [i for i in range(model.output_samples) if (model.output_start + i + model.synthesis_samples) % model.hop in (0, 1, model.hop - 1)]
    for index in aligned[:6] + [0, model.output_samples // 2, model.output_samples - 1]:
        assert measure_input_span(model, index) == model.input_span(index), index


def test_the_bundled_20_ms_model_streams_as_it_separates_offline():
    audio = signal(3 * 44100, seed=5)
    with StreamingSeparator.realtime("spectral-2stem-live-20ms", 44100, 2) as stream:  # trained weights, lightsep stream's settings
        assert stream.latency == 767
        blocks = [stream.push(audio[:, i : i + 220]) for i in range(0, audio.shape[1], 220)] + [stream.flush()]
    streamed = np.concatenate(blocks, axis=-1)[..., stream.latency : stream.latency + audio.shape[1]]
    offline = Separator("spectral-2stem-live-20ms", backend=stream.separator.backend).separate(audio, 44100)
    for k, name in enumerate(stream.sources):
        assert np.abs(streamed[k] - offline[name]).max() < 1e-5, name
    assert stream.underruns == 0


def test_list_models_names_the_20_ms_model_for_stream_latency_20():
    from lightsep.catalog import list_models

    entry = next(e for e in list_models() if e.name == "spectral-2stem-live-20ms")
    assert entry.trained and entry.default_for == ("stream --latency 20",)
    assert 0.017 < entry.stream_latency_s <= 0.020
