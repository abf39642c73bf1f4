"""The streaming model's geometry (an output region with look-ahead), the resampler choice,
warm-up, per-block reports and the refusal of untrained models."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import ROOT, make_musdb_hq
from lightsep import save_checkpoint
from lightsep.data.sampler import ValidationSegments
from lightsep.data.tracks import list_tracks
from lightsep.errors import LightsepError
from lightsep.models import build_model
from lightsep.models.fast import FastLightSepNet
from lightsep.models.registry import ModelArgumentError
from lightsep.separator import Separator, UntrainedModelError
from lightsep.stream_cli import StreamReport
from lightsep.streaming import StreamingSeparator

REGION = dict(output_start=320, output_samples=256)  # of tiny's 1024-sample context: 448 samples of look-ahead


def randomised(name, **overrides):
    torch.manual_seed(0)
    model = build_model(name, **overrides).eval()
    for module in model.modules():  # BatchNorm statistics away from the identity
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def test_an_output_region_is_the_same_network_cropped():
    whole = randomised("tiny")
    region = build_model("tiny", **REGION).eval()
    region.load_state_dict(whole.state_dict())  # the region changes no weight's shape
    assert (region.output_offset, region.output_samples, region.look_ahead) == (320, 256, 448)
    mixture = 0.3 * torch.randn(3, 1, 1024)
    with torch.no_grad():
        expected = whole(mixture)[..., 320:576]
        got = region(mixture)
        fast = FastLightSepNet(region)(mixture)
        overlapping = FastLightSepNet(region).forward_overlapping(torch.cat([mixture[0], mixture[1]], -1)[None], 1024, 2)
    assert got.shape == (3, 2, 1, 256) and torch.equal(got, expected)
    torch.testing.assert_close(fast, expected, rtol=1e-5, atol=2e-6)
    torch.testing.assert_close(overlapping[:, 0], expected[:2], rtol=1e-5, atol=2e-6)
    assert torch.allclose(got.sum(dim=1), mixture[..., 320:576], atol=1e-6)  # the difference stem, in the region


def test_the_region_is_in_the_config_only_when_it_is_not_the_whole_context():
    assert "output_start" not in build_model("tiny").config  # the paper's models' checkpoints stay as they were
    assert build_model("tiny", **REGION).config["output_start"] == 320
    for bad in (dict(output_start=900, output_samples=256), dict(output_start=-1), dict(output_samples=0)):
        with pytest.raises(ModelArgumentError, match="output region"):
            build_model("tiny", **bad)


def test_streaming_a_region_model_is_offline_separation_delayed():
    separator = Separator(randomised("tiny", **REGION), batch_size=1)
    audio = (0.2 * np.random.default_rng(1).standard_normal((2, 9000))).astype(np.float32)
    streaming = StreamingSeparator(separator, 22050, 2)
    assert streaming.latency == 448 + 256 + 128 - 1  # look-ahead + output + hop
    out = np.concatenate([streaming.push(audio[:, i : i + 300]) for i in range(0, 9000, 300)] + [streaming.flush()], axis=-1)
    offline = separator.separate(audio, 22050)
    assert not out[..., : streaming.latency].any()
    for i, name in enumerate(separator.sources):
        assert np.array_equal(out[i, :, streaming.latency :], offline[name])


def test_training_targets_are_aligned_with_the_models_output_region(tmp_path):
    root = make_musdb_hq(tmp_path, {"train": ["a"]}, seconds=1.0, rate=22050)
    tracks = list_tracks(root, "train")
    segments = ValidationSegments(tracks, ("vocals", "accompaniment"), 1024, 256, 22050, 1, output_offset=320)
    mixture, targets, weight = segments[3]
    assert targets.shape == (2, 1, 256)
    torch.testing.assert_close(targets.sum(dim=0), mixture[:, 320:576], rtol=0, atol=1e-6)


def test_a_streaming_model_can_start_from_the_full_context_models_weights(tmp_path):
    from lightsep.training import initial_weights

    source = randomised("tiny")
    save_checkpoint(source, tmp_path / "tiny.pt")
    target = build_model("tiny", context_samples=2048, **REGION)
    initial_weights(target, str(tmp_path / "tiny.pt"))
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), source.state_dict().values()))
    with pytest.raises(LightsepError, match="differs"):
        initial_weights(build_model("tiny", aspp_channels=16), str(tmp_path / "tiny.pt"))


def test_a_model_without_trained_weights_is_refused_unless_asked_for():
    with pytest.raises(UntrainedModelError, match="ablation-a has no trained weights.*--random-weights"):
        Separator("ablation-a")
    assert Separator("ablation-a", random_weights=True).sources == ("vocals", "accompaniment")
    Separator("tiny")  # a test fixture, random by definition
    Separator("mixture")


@pytest.mark.parametrize("command", [["separate", "IN", "-o", "OUT"], ["stream", "IN", "-o", "OUT", "--no-pace"],
                                     ["export", "OUT/x.onnx"]])  # fmt: skip
def test_the_commands_refuse_an_untrained_model_in_one_line(tmp_path, command):
    from lightsep.audio import write_audio

    src = write_audio(tmp_path / "in.wav", np.zeros((2, 4410), np.float32), 44100)
    args = [str(src) if a == "IN" else a.replace("OUT", str(tmp_path / "out")) for a in command]
    if command[0] == "export":
        args = ["export", "ablation-a", *args[1:]]
    else:
        args += ["-m", "ablation-a"]
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "ablation-a has no trained weights" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


def test_the_stream_command_runs_onnx_runtime_when_it_is_installed(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from lightsep.audio import write_audio
    from lightsep.cli import main

    src = write_audio(tmp_path / "in.wav", (0.1 * np.random.default_rng(4).standard_normal((2, 8000))).astype(np.float32), 44100)
    assert main(["stream", str(src), "-m", "tiny", "-o", str(tmp_path / "s"), "--no-pace"]) == 0
    out = capsys.readouterr().out
    assert "with tiny (onnx, 1 thread(s))" in out and "(stated: context + hop + resampling)" in out


def test_an_unknown_resampling_quality_is_refused():
    with pytest.raises(LightsepError, match="resampling quality"):
        Separator("tiny", resample_quality="best")


def count_model_calls(monkeypatch) -> list:
    calls = []
    original = Separator.span_function

    def counting(self):
        span = original(self)

        def counted(*args):
            calls.append(1)
            return span(*args)

        return counted

    monkeypatch.setattr(Separator, "span_function", counting)
    return calls


def test_with_the_lq_resampler_no_20ms_block_runs_the_streaming_model_twice(monkeypatch):
    """soxr's HQ filter hands its output on in bursts of about 830 samples, so a 20 ms block
    sometimes completed two 512-sample hops; LQ's bursts stay within one."""
    calls = count_model_calls(monkeypatch)
    model = build_model("proposed-2stem-lowlatency")  # the geometry matters, not the weights
    audio = (0.1 * np.random.default_rng(2).standard_normal((2, 3 * 44100))).astype(np.float32)
    per_block = {}
    for quality in ("LQ", "HQ"):
        streaming = StreamingSeparator(Separator(model, batch_size=1, resample_quality=quality), 44100, 2, warm_up=False)
        counts = []
        for i in range(0, audio.shape[1], 882):
            before = len(calls)
            streaming.push(audio[:, i : i + 882])
            counts.append(len(calls) - before)
        per_block[quality] = max(counts)
    assert per_block["LQ"] == 1 and per_block["HQ"] >= per_block["LQ"]  # HQ: 2 with soxr 1.1


def test_warming_up_runs_the_model_and_leaves_the_stream_as_it_was(monkeypatch):
    calls = count_model_calls(monkeypatch)
    separator = Separator(randomised("tiny", **REGION), batch_size=1)
    audio = (0.2 * np.random.default_rng(3).standard_normal((2, 5000))).astype(np.float32)
    outputs = []
    for warm in (True, False):
        before = len(calls)
        streaming = StreamingSeparator(separator, 44100, 2, warm_up=warm)
        assert len(calls) - before == (3 if warm else 0)
        outputs.append(np.concatenate([streaming.push(audio), streaming.flush()], axis=-1))
    assert np.array_equal(outputs[0], outputs[1])


def test_a_stream_report_counts_late_blocks_and_percentiles():
    report = StreamReport(block_times=np.array([0.001] * 98 + [0.015, 0.030]), audio_seconds=2.0, latency_seconds=0.18,
                          block_seconds=0.020)  # fmt: skip
    assert report.blocks == 100 and report.late_blocks == 1
    assert report.block_percentile(50) == pytest.approx(0.001) and report.max_block_seconds == 0.030
    assert report.worst_latency_seconds == pytest.approx(0.21)


def test_the_streaming_benchmark_runs(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "streaming.py"), "--models", "tiny", "--seconds", "1",
                             "--blocks-ms", "20", "--no-pace", "--backends", "torch", "onnx"], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("tiny")]
    assert [row[1:4] for row in rows] == [["cli", "torch", "20ms"], ["api", "torch", "20ms"], ["cli", "onnx", "20ms"],
                                          ["api", "onnx", "20ms"]] and rows[0][-1] == "1.00x"  # fmt: skip
    assert len({row[4] for row in rows}) == 1  # every path states the same latency


def test_the_api_streams_as_lightsep_stream_does(tmp_path, capsys):
    import gc

    from lightsep.cli import main
    from lightsep.defaults import STREAM_MODEL
    from lightsep.separator import streaming_backend
    from lightsep.streaming import StreamingSeparator

    stream = StreamingSeparator.realtime(sample_rate=44100, channels=2)  # lightsep stream's default model
    separator = stream.separator
    assert separator.model.name == STREAM_MODEL
    assert (separator.batch_size, separator.backend, separator.resample_quality) == (1, streaming_backend(), "QQ")
    before = gc.get_freeze_count()
    with stream:
        assert gc.get_freeze_count() > before  # the heap is out of the collector's sight while streaming
        audio = np.zeros((2, 4410), np.float32)
        out = stream.push(audio)
        assert out.shape == (2, 2, 4410)
        stream.flush()
    assert gc.get_freeze_count() == before
    # the command states the same latency for the same model and rate
    from lightsep.audio import write_audio

    song = write_audio(tmp_path / "s.wav", np.zeros((2, 44100), np.float32), 44100)
    assert main(["stream", str(song), "-o", str(tmp_path / "o"), "--no-pace"]) == 0
    stated = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("latency:"))
    assert stated.startswith(f"latency: {1000 * stream.latency_seconds:.0f} ms")
