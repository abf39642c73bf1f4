import subprocess

import numpy as np
import pytest

from lightsep import audio
from lightsep.audio import AudioError, audio_info, convert_channels, read_audio, read_stems, resample, write_audio


def tone(seconds=1.0, rate=44100, channels=2):
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * (220 * (c + 1)) * t) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize(
    "fmt,bit_depth,tolerance",
    [("wav", 16, 1 / 32768), ("wav", 24, 1 / 2**23), ("wav", 32, 0.0), ("flac", 16, 1 / 32768), ("flac", 24, 1 / 2**23)],
)
def test_lossless_round_trip(tmp_path, fmt, bit_depth, tolerance):
    x = tone()
    path = write_audio(tmp_path / f"a.{fmt}", x, 44100, bit_depth=bit_depth)
    y, rate = read_audio(path)
    assert rate == 44100 and y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - x).max() <= tolerance


def test_mp3_and_m4a_round_trip(tmp_path):
    x = tone(2.0)
    mp3 = write_audio(tmp_path / "a.mp3", x, 44100)
    y, rate = read_audio(mp3)
    assert rate == 44100 and y.shape[0] == 2 and abs(y.shape[1] - x.shape[1]) < 4096
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "a.mp3"), "-c:a", "aac", str(m4a)], check=True)
    y, rate = read_audio(m4a, sample_rate=22050, channels=1)
    assert rate == 22050 and y.shape[0] == 1
    assert abs(y.shape[1] - audio_info(m4a).frames // 2) <= 1
    # the decoded tone still correlates with the original (mono downmix, resampled)
    ref = resample(convert_channels(x, 1), 44100, 22050)[0]
    n = min(len(ref), y.shape[1])
    lag = max(range(0, 3000), key=lambda k: float(np.dot(ref[: n - 3000], y[0, k : k + n - 3000])))
    corr = np.corrcoef(ref[: n - 3000], y[0, lag : lag + n - 3000])[0, 1]
    assert corr > 0.95


def test_int16_is_written_exactly(tmp_path):
    ints = (np.arange(-1000, 1000, dtype=np.int16) * 16).reshape(2, -1)
    write_audio(tmp_path / "x.wav", ints, 8000)
    y, _ = read_audio(tmp_path / "x.wav")
    assert np.array_equal(np.round(y * 32768).astype(np.int16), ints)


def test_resampling_round_trip_of_a_band_limited_signal():
    """44.1 kHz -> 22.05 kHz -> 44.1 kHz keeps a signal band-limited below 9 kHz within 1e-5
    (maximum absolute error, away from the first and last 2000 samples, where the
    resampler's filter has no signal to settle on)."""
    rng = np.random.default_rng(0)
    t = np.arange(88200) / 44100
    x = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in zip(rng.uniform(0.05, 0.2, 8), rng.uniform(50, 9000, 8), rng.uniform(0, 6, 8)))
    x = x.astype(np.float32)[None]
    half = resample(x, 44100, 22050)
    assert half.shape == (1, 44100)
    back = resample(half, 22050, 44100)
    assert back.shape == x.shape
    assert np.abs(back - x)[:, 2000:-2000].max() < 1e-5


def test_channel_conversion():
    stereo = np.stack([np.ones(10), -np.ones(10)]).astype(np.float32)
    assert np.allclose(convert_channels(stereo, 1), 0.0)
    mono = np.ones((1, 10), dtype=np.float32)
    assert convert_channels(mono, 2).shape == (2, 10)
    six = np.arange(60, dtype=np.float32).reshape(6, 10)
    assert np.array_equal(convert_channels(six, 2), six[:2])
    assert convert_channels(stereo, 3).shape == (3, 10)


def test_a_stem_mp4_has_five_streams(tmp_path):
    inputs = []
    for k in range(5):
        path = tmp_path / f"s{k}.wav"
        write_audio(path, tone(1.0) * (0.2 + 0.1 * k), 44100)
        inputs += ["-i", str(path)]
    maps = [arg for k in range(5) for arg in ("-map", str(k))]
    stem = tmp_path / "song.stem.mp4"
    subprocess.run(["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", str(stem)], check=True)
    assert audio_info(stem).streams == 5
    stems = read_stems(stem)
    assert len(stems) == 5 and all(s.shape == stems[0].shape for s in stems)
    levels = [float(np.sqrt(np.mean(s**2))) for s in stems]
    assert levels == sorted(levels)  # each stream is its own file, in order


def test_a_replaced_file_is_probed_again(tmp_path, monkeypatch):
    """ffprobe's answer is remembered per file version: asked twice, one process; once the
    file at that path is replaced, the new file's streams."""
    m4a = tmp_path / "a.m4a"
    wav = write_audio(tmp_path / "a.wav", tone(1.0, channels=2), 44100)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    calls = []
    run = subprocess.run
    monkeypatch.setattr(audio.subprocess, "run", lambda command, **kw: calls.append(command[0]) or run(command, **kw))
    assert audio_info(m4a).channels == 2 and audio_info(m4a).channels == 2
    assert sum("ffprobe" in c for c in calls) == 1
    wav = write_audio(tmp_path / "b.wav", tone(2.0, channels=1), 44100)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", str(tmp_path / "b.m4a")], check=True)
    (tmp_path / "b.m4a").replace(m4a)  # a new file (size, inode) under the same name
    info = audio_info(m4a)
    assert info.channels == 1 and info.frames > 1.5 * 44100


def test_errors_name_the_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_bytes(b"junk" * 100)
    (tmp_path / "junk.m4a").write_bytes(b"junk" * 100)
    (tmp_path / "notes.txt").write_text("hello")
    cases = {
        tmp_path / "missing.wav": "no such file",
        tmp_path: "is a directory",
        tmp_path / "empty.wav": "empty file",
        tmp_path / "junk.wav": "cannot read audio",
        tmp_path / "junk.m4a": "cannot read audio",
        tmp_path / "notes.txt": "unsupported audio format",
    }
    for path, message in cases.items():
        with pytest.raises(AudioError, match=message) as info:
            read_audio(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_ffmpeg_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "a.m4a"
    path.write_bytes(b"not empty")
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="ffprobe is not installed"):
        read_audio(path)


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = write_audio(tmp_path / "keep.wav", tone(0.1), 44100)
    before = target.read_bytes()

    def failing_write(*args, **kwargs):
        raise RuntimeError("Error: disk went away")

    monkeypatch.setattr(audio.sf, "write", failing_write)
    with pytest.raises(AudioError, match="cannot write audio"):
        write_audio(target, tone(0.2), 44100)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]


def test_write_rejects_bad_options(tmp_path):
    with pytest.raises(AudioError, match="cannot write format"):
        write_audio(tmp_path / "a.xyz", tone(0.1), 44100)
    with pytest.raises(AudioError, match="bit depth"):
        write_audio(tmp_path / "a.wav", tone(0.1), 44100, bit_depth=8)
    with pytest.raises(AudioError, match="FLAC"):
        write_audio(tmp_path / "a.flac", tone(0.1), 44100, bit_depth=32)
