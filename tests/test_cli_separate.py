import subprocess
import sys

import numpy as np
import pytest

from lightsep.audio import read_audio, write_audio
from lightsep.cli import main


def noise(channels, seconds, rate, seed=0):
    return (0.2 * np.random.default_rng(seed).standard_normal((channels, int(seconds * rate)))).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    files = {}
    files["stereo44.wav"] = write_audio(root / "stereo44.wav", noise(2, 1.3, 44100), 44100, bit_depth=32)
    files["mono48.flac"] = write_audio(root / "mono48.flac", noise(1, 1.0, 48000, 1), 48000, bit_depth=24)
    files["six22.wav"] = write_audio(root / "six22.wav", noise(6, 0.5, 22050, 2), 22050, bit_depth=32)
    files["stereo-mp3.mp3"] = write_audio(root / "stereo-mp3.mp3", noise(2, 1.0, 44100, 3), 44100)
    files["stereo-m4a.m4a"] = root / "stereo-m4a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(files["stereo44.wav"]), "-c:a", "aac", str(files["stereo-m4a.m4a"])], check=True)
    return files


def test_every_format_rate_and_channel_count(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(["separate", *map(str, inputs.values()), "-m", "tiny", "-o", str(out), "--bit-depth", "32", "--quiet"]) == 0
    for name, path in inputs.items():
        original, rate = read_audio(path)
        folder = out / "tiny" / path.stem
        vocals, r1 = read_audio(folder / "vocals.wav")
        accompaniment, r2 = read_audio(folder / "accompaniment.wav")
        assert r1 == r2 == rate
        assert vocals.shape == accompaniment.shape == original.shape, name
        # difference output: the stems sum to the input (32-bit float outputs: no quantisation)
        assert np.abs(vocals + accompaniment - original).max() < 1e-4, name


def test_formats_and_two_stems(tmp_path):
    # quiet enough that no stem of the random tiny model clips in 24-bit PCM
    src = str(write_audio(tmp_path / "stereo44.wav", 0.1 * noise(2, 1.3, 44100), 44100, bit_depth=32))
    assert main(["separate", src, "-m", "tiny", "-o", str(tmp_path), "--format", "flac", "--bit-depth", "24",
                 "--two-stems", "vocals", "--quiet"]) == 0  # fmt: skip
    folder = tmp_path / "tiny" / "stereo44"
    assert sorted(p.name for p in folder.iterdir()) == ["no_vocals.flac", "vocals.flac"]
    v, _ = read_audio(folder / "vocals.flac")
    rest, _ = read_audio(folder / "no_vocals.flac")
    original, _ = read_audio(src)
    assert np.abs(v + rest - original).max() < 1e-4  # 24-bit quantisation only
    assert main(["separate", src, "-m", "tiny", "-o", str(tmp_path), "--format", "mp3", "--quiet"]) == 0
    mp3, rate = read_audio(tmp_path / "tiny" / "stereo44" / "vocals.mp3")
    assert rate == 44100 and mp3.shape[0] == 2


def test_existing_outputs_need_force(inputs, tmp_path, capsys):
    src = str(inputs["mono48.flac"])
    assert main(["separate", src, "-m", "tiny", "-o", str(tmp_path), "--quiet"]) == 0
    target = tmp_path / "tiny" / "mono48" / "vocals.wav"
    before = target.read_bytes()
    assert main(["separate", src, "-m", "tiny", "-o", str(tmp_path), "--quiet"]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert main(["separate", src, "-m", "tiny", "-o", str(tmp_path), "--quiet", "--force"]) == 0


def test_bad_inputs_are_reported_and_the_others_still_separated(inputs, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "corrupt.flac").write_bytes(b"fLaC but not really")
    args = [str(tmp_path / "missing.wav"), str(tmp_path / "empty.wav"), str(tmp_path / "corrupt.flac"), str(inputs["six22.wav"])]
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "separate", *args, "-m", "tiny", "-o", str(tmp_path / "o"), "--quiet"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and "Traceback" not in result.stderr
    assert "missing.wav: no such file" in lines[0] and "empty.wav: empty file" in lines[1]
    assert "corrupt.flac" in lines[2] and "3 of 4 input(s) failed" in lines[3]
    assert (tmp_path / "o" / "tiny" / "six22" / "vocals.wav").exists()
    assert not list((tmp_path / "o").rglob(".*partial*"))


def test_bad_options(inputs, tmp_path, capsys):
    src = str(inputs["stereo44.wav"])
    assert main(["separate", src, "-m", "nope", "-o", str(tmp_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["separate", src, "-m", "tiny", "--two-stems", "drums", "-o", str(tmp_path), "--quiet"]) == 2
    assert "--two-stems drums" in capsys.readouterr().err
    assert main(["separate", src, "-m", "tiny", "--format", "flac", "--bit-depth", "32", "-o", str(tmp_path)]) == 2
    assert "only for --format wav" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["separate", src, "--format", "ogg"])
    assert exit.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_parallel_jobs(inputs, tmp_path):
    files = [str(inputs["stereo44.wav"]), str(inputs["mono48.flac"])]
    assert main(["separate", *files, "-m", "tiny", "-o", str(tmp_path), "-j", "2", "--quiet"]) == 0
    assert (tmp_path / "tiny" / "stereo44" / "vocals.wav").exists() and (tmp_path / "tiny" / "mono48" / "vocals.wav").exists()


def test_musdb_hq_style_inputs_are_named_after_their_folder(tmp_path):
    from lightsep.files import track_name

    assert track_name(tmp_path / "Some Artist - Song" / "mixture.wav") == "Some Artist - Song"
    assert track_name(tmp_path / "A - B.stem.mp4") == "A - B"


def test_memory_is_bounded_by_the_context_not_the_length(tmp_path):
    """Peak (NumPy-side) memory while separating a file 8x longer stays about the same. The
    model is ``mixture`` (no network): the file's path through reading, resampling,
    segmenting, overlap-add and writing is what holds memory, and a network would only make
    the test slow (the tiny network took 50 s here on a 2-core CPU; this takes seconds)."""
    import tracemalloc

    from lightsep.audio import AudioWriter
    from lightsep.files import separate_file_to_dir
    from lightsep.models import build_model
    from lightsep.separator import Separator

    separator = Separator(build_model("mixture"), batch_size=4)

    def peak_for(seconds):
        path = tmp_path / f"long{seconds}.wav"
        writer = AudioWriter(path, 44100, 2, "wav", 16)
        for k in range(seconds):
            writer.write(noise(2, 1.0, 44100, seed=k) * 0.5)
        writer.commit()
        tracemalloc.start()
        separate_file_to_dir(separator, path, tmp_path / "out", force=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    short, long = peak_for(20), peak_for(160)
    whole_file = 160 * 44100 * 2 * 4  # the 160 s file as float32
    assert long < 1.3 * short and long < whole_file / 4
