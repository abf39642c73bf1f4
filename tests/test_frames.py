"""Frame-by-frame separation with a causal spectrogram-mask model (lightsep.frames): the
model's own forward, however the input is cut; the stated latency; the command and the API."""

import numpy as np
import pytest
import torch
from helpers import pushed_in_blocks as run
from helpers import quiet_noise as signal

from lightsep.checkpoint import save_checkpoint
from lightsep.cli import main
from lightsep.frames import FrameEngine
from lightsep.models.registry import build_model
from lightsep.models.spectral import SpectralMaskNet
from lightsep.separator import Separator
from lightsep.streaming import StreamingSeparator, realtime_separator

SMALL = dict(sample_rate=44100, n_fft=512, hop=128, bands=64, full_resolution_bins=32, hidden=16, bidirectional=False)


def causal(length: int = 8192, **overrides) -> SpectralMaskNet:
    model = SpectralMaskNet(context_samples=length, **{**SMALL, **overrides}).eval()
    model.name = "causal-small"
    return model


@pytest.mark.parametrize("synthesis", [0, 192], ids=["hann", "low-delay"])
@pytest.mark.parametrize("sizes", [[], [1] * 700 + [3000], list(np.random.default_rng(1).integers(1, 900, 30))])
def test_the_engine_is_the_models_forward_however_the_input_is_cut(sizes, synthesis):
    model = causal(synthesis_samples=synthesis)  # Hann frames, or low-delay ones (tests/test_low_delay.py)
    audio = signal(8192)
    with torch.no_grad():
        expected = model(torch.from_numpy(audio)[None])[0].numpy()
    got = run(FrameEngine(model, 2), audio, sizes)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5
    assert np.allclose(got.sum(axis=0), audio, atol=1e-5)  # the stems sum to the input


def test_a_causal_model_with_band_convolutions_runs_frame_by_frame():
    model = causal(frequency_channels=[4, 8, 8])  # one frame at a time (time_kernel 1)
    audio = signal(8192, seed=3)
    with torch.no_grad():
        expected = model(torch.from_numpy(audio)[None])[0].numpy()
    got = run(FrameEngine(model, 2), audio, list(np.random.default_rng(2).integers(1, 900, 20)))
    assert np.abs(got - expected).max() < 1e-5


def test_a_sample_is_out_n_fft_minus_one_samples_after_it_arrived():
    engine = FrameEngine(causal(), 2)
    assert engine.latency == 511
    audio = signal(4000)
    emitted = 0
    for t in range(audio.shape[1]):
        emitted += engine.push(audio[:, t : t + 1]).shape[-1]
        assert emitted >= t + 1 - engine.latency  # every sample that old is out


def test_warm_up_leaves_the_state_alone():
    model = causal()
    audio = signal(5000, seed=3)
    cold = run(FrameEngine(model, 2), audio, [1000])
    engine = FrameEngine(model, 2)
    engine.warm_up(3)
    assert np.array_equal(run(engine, audio, [1000]), cold)


def test_streaming_equals_offline_and_states_its_latency():
    model = causal()
    audio = signal(20000, seed=4)
    offline = Separator(model).separate(audio, 44100)
    stream = StreamingSeparator(Separator(model, batch_size=1), 44100, 2)
    assert stream.latency == 511  # at the model's rate: no resampler
    blocks = [stream.push(audio[:, i : i + 441]) for i in range(0, audio.shape[1], 441)] + [stream.flush()]
    streamed = np.concatenate(blocks, axis=-1)[..., stream.latency : stream.latency + audio.shape[1]]
    for k, name in enumerate(model.sources):
        assert np.abs(streamed[k] - offline[name]).max() < 1e-5
    assert stream.underruns == 0
    assert StreamingSeparator(Separator(model, batch_size=1), 48000, 2).latency > 511 * 48000 / 44100  # a resampler's delay on top


@pytest.mark.parametrize("synthesis", [0, 192], ids=["hann", "low-delay"])
def test_the_onnx_backend_runs_the_exported_frame_step_as_torch_does(synthesis):
    from lightsep.separator import streaming_backend

    model = causal(synthesis_samples=synthesis)
    audio = signal(9000, seed=6)
    torch_out = Separator(model, backend="torch").separate(audio, 44100)
    onnx_out = Separator(model, backend="onnx").separate(audio, 44100)
    for name in torch_out:
        assert np.abs(torch_out[name] - onnx_out[name]).max() < 1e-4
    assert realtime_separator(model).backend == streaming_backend()  # auto: ONNX Runtime when installed, as for every model


def test_the_live_preset_states_under_60_ms_at_44100(tmp_path, capsys):
    model = build_model("spectral-2stem-live")
    assert model.causal and model.sample_rate == 44100
    stream = StreamingSeparator(Separator(model, batch_size=1), 44100, 2)
    assert stream.latency_seconds <= 0.060
    checkpoint = save_checkpoint(build_model("spectral-2stem-live"), tmp_path / "live.pt")
    from lightsep.audio import write_audio

    song = write_audio(tmp_path / "song.wav", signal(44100), 44100, bit_depth=32)
    assert main(["stream", str(song), "-m", str(checkpoint), "-o", str(tmp_path / "out"), "--no-pace"]) == 0
    out = capsys.readouterr().out
    from lightsep.separator import streaming_backend

    assert f"latency: {1000 * stream.latency_seconds:.0f} ms (stated: one STFT frame + resampling)" in out
    assert f"({streaming_backend()}," in out


def test_the_default_stream_is_the_bundled_live_model_and_equals_offline():
    from lightsep.defaults import STREAM_MODEL

    audio = signal(3 * 44100, seed=5)
    audio[:, 30000:40000] = 0.0  # silence: the gate closes
    with StreamingSeparator.realtime(sample_rate=44100, channels=2) as stream:  # lightsep stream's defaults, trained weights
        assert stream.separator.model.name == STREAM_MODEL == "spectral-2stem-live"
        assert stream.latency == 2047 and stream.latency_seconds <= 0.060  # at 44.1 kHz, everything included
        blocks = [stream.push(audio[:, i : i + 882]) for i in range(0, audio.shape[1], 882)] + [stream.flush()]
    streamed = np.concatenate(blocks, axis=-1)[..., stream.latency : stream.latency + audio.shape[1]]
    offline = Separator(STREAM_MODEL, backend=stream.separator.backend).separate(audio, 44100)
    for k, name in enumerate(stream.sources):
        assert np.abs(streamed[k] - offline[name]).max() < 1e-5, name
    assert stream.underruns == 0
    assert np.abs(offline["vocals"][:, 31000:39000]).max() == 0.0  # the gate
