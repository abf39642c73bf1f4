"""``lightsep stream - --stdout``: a live filter from raw PCM on stdin to raw PCM on stdout."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from lightsep.checkpoint import save_checkpoint
from lightsep.models.registry import build_model
from lightsep.separator import Separator
from lightsep.streaming import StreamingSeparator

RATE, CHANNELS = 22050, 2


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny model saved once, so that the command and the test use the same weights."""
    torch.manual_seed(0)
    return save_checkpoint(build_model("tiny"), tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def command(model):
    return [sys.executable, "-m", "lightsep.cli", "stream", "-", "-m", str(model), "--no-pace", "--rate", str(RATE), "--backend", "torch"]


@pytest.fixture
def pcm(tmp_path):
    audio = (0.2 * np.random.default_rng(0).standard_normal((CHANNELS, RATE))).astype(np.float32)
    path = tmp_path / "in.f32"
    path.write_bytes(audio.T.astype("<f4").tobytes())
    return audio, path


def latency() -> int:
    return StreamingSeparator(Separator("tiny", batch_size=1), RATE, CHANNELS).latency  # the geometry's, not the weights'


def test_the_stdout_stream_is_offline_separation_delayed_by_the_stated_latency(pcm, command, model):
    audio, path = pcm
    with open(path, "rb") as stdin:
        result = subprocess.run([*command, "--stdout", "accompaniment"], stdin=stdin, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "streamed 1.00 s of accompaniment to stdout (end of input)" in lines[0]
    out = np.frombuffer(result.stdout, "<f4").reshape(-1, CHANNELS).T
    delay = latency()
    assert out.shape[1] == RATE + delay and not np.any(out[:, :delay])
    expected = Separator(model, resample_quality="LQ").separate(audio, RATE)["accompaniment"]
    assert np.abs(out[:, delay:] - expected).max() < 1e-5


def test_all_stems_interleaved_and_16_bit(pcm, command):
    audio, path = pcm
    with open(path, "rb") as stdin:
        result = subprocess.run([*command, "--stdout", "all", "--dtype", "f32le"], stdin=stdin, capture_output=True, timeout=120)
    out = np.frombuffer(result.stdout, "<f4").reshape(-1, 2 * CHANNELS).T  # vocals L, R, accompaniment L, R
    delay = latency()
    np.testing.assert_allclose(out[:2, delay:] + out[2:, delay:], audio, atol=1e-5)  # the stems sum to the input
    with open(path, "rb") as stdin:
        result = subprocess.run([*command, "--stdout", "vocals", "--dtype", "s16le", "--channels", "2"], stdin=stdin,
                                capture_output=True, timeout=120)  # fmt: skip
    # the same bytes read as 16-bit: twice as many frames, and 16-bit out
    assert len(result.stdout) == 2 * CHANNELS * (2 * RATE + delay)


def test_a_closed_stdout_ends_the_stream_cleanly(pcm, command):
    _, path = pcm
    with open(path, "rb") as stdin:
        process = subprocess.Popen([*command, "--stdout", "vocals", "--block-ms", "5"], stdin=stdin,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        process.stdout.read(4096)
        process.stdout.close()  # the listener went away
        _, err = process.communicate(timeout=120)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 0 and len(lines) == 1 and "(stdout closed)" in lines[0], err.decode()


def test_a_stalled_input_ends_the_stream_with_what_arrived(tmp_path, command):
    quarter = (0.2 * np.random.default_rng(1).standard_normal((RATE // 4, CHANNELS))).astype("<f4").tobytes()
    with open(tmp_path / "out.f32", "wb") as stdout:
        process = subprocess.Popen([*command, "--stdout", "vocals", "--stall-seconds", "1"], stdin=subprocess.PIPE,
                                   stdout=stdout, stderr=subprocess.PIPE)  # fmt: skip
        process.stdin.write(quarter)  # fits in the pipe's buffer; the pipe stays open
        process.stdin.flush()
        try:
            process.wait(timeout=120)  # not communicate(): it would close stdin, an end of input
        finally:
            process.stdin.close()
        err = process.stderr.read()
    lines = err.decode().strip().splitlines()
    assert process.returncode == 0 and len(lines) == 1 and "(no input for 1 s)" in lines[0], err.decode()
    assert (tmp_path / "out.f32").stat().st_size == 4 * CHANNELS * (RATE // 4 + latency())


def test_an_unknown_stdout_stem_is_one_line(pcm, command):
    _, path = pcm
    with open(path, "rb") as stdin:
        result = subprocess.run([*command, "--stdout", "drums"], stdin=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "lightsep: error: --stdout drums: the model's stems are vocals, accompaniment (or all)"
    ]
