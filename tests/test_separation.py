import numpy as np
import pytest
import torch

from lightsep.apply import OverlapAdd, crossfade_window, overlap_add
from lightsep.errors import LightsepError
from lightsep.models import build_model
from lightsep.separator import Separator
from lightsep.streaming import StreamingSeparator


def identity(context, output, offset, sources=2):
    def fn(segments):
        out = segments[:, None, :, offset : offset + output]
        return np.repeat(out, sources, axis=1)

    return fn


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.75])
@pytest.mark.parametrize("geometry", [(64, 64, 0), (100, 36, 32)])
@pytest.mark.parametrize("length", [1, 63, 64, 65, 1000])
def test_identity_overlap_add_is_exact(overlap, geometry, length):
    context, output, offset = geometry
    signal = np.random.default_rng(length).standard_normal((3, length)).astype(np.float32)
    out = overlap_add(identity(context, output, offset), signal, 2, context, output, offset, overlap, batch_size=3)
    assert out.shape == (2, 3, length)
    assert np.array_equal(out[0], signal) and np.array_equal(out[1], signal)


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.75])
@pytest.mark.parametrize("geometry", [(64, 64, 0), (100, 36, 32)])
def test_a_span_function_gets_the_stretch_its_segments_cover(overlap, geometry):
    """Given one stretch per group, the engine gives what the segment function gives."""
    context, output, offset = geometry
    signal = np.random.default_rng(3).standard_normal((2, 500)).astype(np.float32)
    segment_function = identity(context, output, offset)

    def span(stretch, hop, count):
        assert stretch.shape == (2, (count - 1) * hop + context)
        return segment_function(np.stack([stretch[:, k * hop : k * hop + context] for k in range(count)]))

    engine = OverlapAdd(None, 2, 2, context, output, offset, overlap, batch_size=3, span_function=span)
    out = np.concatenate([engine.push(signal[:, :123]), engine.push(signal[:, 123:]), engine.flush()], axis=2)
    assert np.array_equal(out, overlap_add(segment_function, signal, 2, context, output, offset, overlap, batch_size=3))
    assert np.array_equal(out[0], signal)


def test_crossfade_windows_sum_to_a_constant():
    # up to 50% overlap the trapezoids add up to a constant; beyond it the engine's division
    # by the summed weights still makes the result exact (test above)
    for length, hop in [(16, 8), (16, 12), (20, 15), (15, 15)]:
        w = crossfade_window(length, hop)
        total = np.zeros(length * 6)
        for k in range(0, total.size - length + 1, hop):
            total[k : k + length] += w
        interior = total[length : total.size - length]
        assert np.allclose(interior, interior[0]) and (w > 0).all()


def test_segments_see_real_neighbouring_audio():
    seen = []

    def record(segments):
        seen.extend(segments[:, 0])
        return np.repeat(segments[:, None, :, 20:40], 1, axis=1)

    signal = np.arange(1, 201, dtype=np.float32)[None]
    overlap_add(record, signal, 1, 60, 20, 20, overlap=0.5)
    # context 60 around outputs of 20 (offset 20), hop 10: segment k reads [10k - 20, 10k + 40)
    assert np.array_equal(seen[0], np.concatenate([np.zeros(20), signal[0, :40]]))  # zeros only before the start
    assert np.array_equal(seen[1], np.concatenate([np.zeros(10), signal[0, :50]]))
    assert np.array_equal(seen[2], signal[0, :60])  # real neighbouring audio on both sides
    assert np.array_equal(seen[-1][-30:], np.zeros(30))  # and zeros only past the end


def test_block_size_does_not_change_the_result():
    model = build_model("tiny").eval()
    sep = Separator(model, batch_size=2)
    signal = np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32) * 0.1
    whole = sep.separate(signal, 22050)
    stream = sep.stream(22050, 2)
    rng = np.random.default_rng(1)
    pieces, start = [], 0
    while start < signal.shape[1]:
        n = int(rng.integers(1, 700))
        pieces.append(stream.push(signal[:, start : start + n]))
        start += n
    pieces.append(stream.flush())
    blocks = np.concatenate(pieces, axis=-1)
    for i, name in enumerate(sep.sources):
        assert np.array_equal(blocks[i], whole[name])


def test_separate_keeps_shape_rate_and_length_and_the_callers_array():
    sep = Separator("tiny")
    cases = [((44100,), 44100), ((1, 30000), 48000), ((2, 12345), 16000), ((6, 3000), 22050), ((2, 10), 44100),
             ((2, 0), 44100), ((2, 400000), 44100)]  # empty; output both while pushing and at the end
    for shape, rate in cases:
        audio = (np.random.default_rng(0).standard_normal(shape) * 0.1).astype(np.float32)
        before = audio.copy()
        out = sep.separate(audio, rate)
        assert list(out) == ["vocals", "accompaniment"]
        assert all(v.shape == audio.shape and v.dtype == np.float32 for v in out.values())
        assert np.array_equal(audio, before)
        # difference output: the stems sum to the input at any rate, high band included
        assert audio.size == 0 or np.abs(out["vocals"] + out["accompaniment"] - audio).max() < 1e-6


def test_digital_silence_and_tensors():
    sep = Separator("tiny")
    out = sep.separate(torch.zeros(2, 4000), 44100)
    assert all(np.isfinite(v).all() for v in out.values())
    with pytest.raises(LightsepError, match="NaN"):
        sep.separate(np.full((1, 100), np.nan, np.float32), 22050)


def test_stereo_models_take_any_channel_count():
    model = build_model("waveunet-m4", num_layers=3, requested_output_samples=256)
    sep = Separator(model, batch_size=2)
    for channels in (1, 2, 3):
        out = sep.separate(np.random.default_rng(0).standard_normal((channels, 3000)).astype(np.float32) * 0.1, 22050)
        assert out["vocals"].shape == (channels, 3000)


def test_streaming_equals_offline_with_a_fixed_latency():
    sep = Separator("tiny", batch_size=1)
    rate = 44100
    signal = (np.random.default_rng(3).standard_normal((2, 20000)) * 0.1).astype(np.float32)
    offline = sep.separate(signal, rate)
    streaming = StreamingSeparator(sep, rate, channels=2)
    pieces, start, rng = [], 0, np.random.default_rng(4)
    while start < signal.shape[1]:
        block = signal[:, start : start + int(rng.integers(1, 900))]
        out = streaming.push(block)
        n = block.shape[1]
        assert out.shape == (2, 2, n)  # n samples in, n samples out
        pieces.append(out)
        start += n
    pieces.append(streaming.flush())
    stream = np.concatenate(pieces, axis=-1)
    latency = streaming.latency
    assert streaming.underruns == 0
    assert np.abs(stream[..., :latency]).max() == 0  # silence before the stated latency
    for i, name in enumerate(sep.sources):
        assert np.array_equal(stream[i, :, latency:], offline[name])
    # the stated latency: the context beyond the output plus a hop (at the model's 22.05 kHz,
    # here doubled to 44.1 kHz), plus at most 0.1 s of resampling filter delay
    engine = 1024 - 0 + 512 - 1
    assert engine * 2 <= latency < engine * 2 + 0.1 * rate


def test_bad_settings():
    with pytest.raises(LightsepError, match="backend"):
        Separator("tiny", backend="tensorflow")
    with pytest.raises(LightsepError, match="overlap"):
        Separator("tiny", overlap=1.0)
    with pytest.raises(LightsepError, match="unknown model"):
        Separator("no-such-model")
    with pytest.raises(ValueError):
        OverlapAdd(identity(4, 4, 0), 1, 1, 4, 4, overlap=1.5)


def test_stream_command_writes_what_offline_separation_gives(tmp_path, capsys):
    import subprocess
    import sys

    from lightsep.audio import read_audio, write_audio
    from lightsep.cli import main

    audio = (0.1 * np.random.default_rng(5).standard_normal((2, 30000))).astype(np.float32)
    src = write_audio(tmp_path / "in.wav", audio, 44100, bit_depth=32)
    checkpoint = tmp_path / "tiny.pt"
    from lightsep import save_checkpoint

    model = build_model("tiny")
    save_checkpoint(model, checkpoint)
    offline = Separator(model, batch_size=1, resample_quality="LQ").separate(audio, 44100)
    assert main(["stream", str(src), "-m", str(checkpoint), "-o", str(tmp_path / "s"), "--no-pace", "--backend", "torch"]) == 0
    report = capsys.readouterr().out
    assert "latency:" in report and "real-time margin" in report
    for name, expected in offline.items():
        got, rate = read_audio(tmp_path / "s" / "tiny" / "in" / f"{name}.wav")  # OUT/<model>/<track>/
        assert rate == 44100 and np.array_equal(got, expected)
    # raw 16-bit PCM on stdin
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").T.tobytes()
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "stream", "-", "--dtype", "s16le", "-m", str(checkpoint),
                             "-o", str(tmp_path / "raw"), "--no-pace"], input=pcm, capture_output=True)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    got, _ = read_audio(tmp_path / "raw" / "tiny" / "stdin" / "vocals.wav")
    assert got.shape == audio.shape


def test_the_low_latency_model():
    model = build_model("proposed-2stem-lowlatency")
    assert model.context_samples == 2560 and 800_000 <= sum(p.numel() for p in model.parameters()) <= 900_000
    assert (model.output_offset, model.output_samples, model.look_ahead) == (768, 1024, 768)
    sep = Separator(model, batch_size=1)
    streaming = StreamingSeparator(sep, 22050, 1)
    assert streaming.latency == 768 + 1024 + 512 - 1  # look-ahead + output + hop, no resampling at the model's rate
    # what lightsep stream states at 44.1 kHz, everything included: the bound is 200 ms
    assert StreamingSeparator(Separator(model, batch_size=1, resample_quality="LQ"), 44100, 2).latency_seconds <= 0.200


def test_the_batch_size_is_the_models_unless_given():
    # the Spleeter port runs one 11.9 s segment per pass (its feature maps are large); the
    # rest 16, and a given batch size wins
    spleeter = build_model("spleeter-2stem")
    assert Separator(spleeter).batch_size == 1
    assert Separator("tiny").batch_size == 16
    assert Separator(spleeter, batch_size=3).batch_size == 3
    with pytest.raises(LightsepError, match="batch_size"):
        Separator("tiny", batch_size=0)


@pytest.mark.parametrize("model", ["tiny", "causal"])
def test_an_engine_for_the_stream_gives_the_estimated_sources_alone(model):
    """SeparationStream makes the difference source from the input, so its engine leaves it
    out: the same outputs, less the difference source's."""
    if model == "causal":
        from lightsep.models.spectral import SpectralMaskNet

        model = SpectralMaskNet(sample_rate=22050, n_fft=512, hop=128, bands=64, full_resolution_bins=32, hidden=16,
                                context_samples=8192, bidirectional=False).eval()  # fmt: skip
    separator = Separator(model, random_weights=True)
    audio = np.random.default_rng(4).standard_normal((2, 20000)).astype(np.float32)
    whole, estimated = separator.engine(2), separator.engine(2, estimated_only=True)
    outputs = [np.concatenate([engine.push(audio), engine.flush()], axis=-1) for engine in (whole, estimated)]
    difference = separator.model.sources.index(separator.model.difference_source)
    assert separator.estimated_sources() == [i for i in range(len(separator.sources)) if i != difference]
    np.testing.assert_array_equal(outputs[1], np.delete(outputs[0], difference, axis=0))


def test_the_pipeline_benchmark_times_the_model_inside_the_call_it_times():
    from helpers import load_script

    benchmark = load_script("experiments/pipeline.py")
    timed = benchmark.TimedSeparator("tiny")
    audio = np.random.default_rng(5).standard_normal((2, 44100)).astype(np.float32)
    whole, inside = timed.separate(audio)
    assert 0 < inside < whole
    # the timing wrapper leaves the stems as they were
    separated = timed.separator.separate(audio, 44100)
    plain = Separator(timed.separator.model, threads=2).separate(audio, 44100)  # the same weights
    for name in plain:
        np.testing.assert_array_equal(separated[name], plain[name])
