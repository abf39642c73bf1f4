"""Reliability, round three: a hostile user's cases, by class (docs/failures.md). Each gives one
clear line and status 2 (or succeeds correctly), and nothing the user had is changed."""

import os
import socket
import threading
import time

from pathlib import Path

import numpy as np
import pytest

import lightsep
from lightsep.audio import write_audio
from lightsep.cli import main
from lightsep.errors import LightsepError

from helpers import make_musdb_hq
from test_bad_inputs import noise, one_error_line, snapshot, song  # noqa: F401  (song is a fixture)

# --------------------------------------------------------------------------------------
# 1. Data loss: no output replaces any input of the command, whatever --force says
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("order", ["victim second", "victim first"])
def test_separate_never_replaces_another_of_its_inputs(tmp_path, capsys, song, jobs, order):  # noqa: F811
    out = tmp_path / "out"
    assert main(["separate", "-m", "tiny", "--random-weights", "-o", str(out), str(song)]) == 0
    victim = out / "tiny" / "song" / "vocals.wav"
    before = victim.read_bytes()
    inputs = [str(song), str(victim)] if order == "victim second" else [str(victim), str(song)]
    capsys.readouterr()
    code = main(["separate", "-m", "tiny", "--random-weights", "-o", str(out), "--force", "-j", jobs, *inputs])
    err = capsys.readouterr().err
    assert code == 2 and "is this command's input" in err and "Traceback" not in err
    assert victim.read_bytes() == before  # the user's file, as it was
    assert (out / "tiny" / "vocals" / "vocals.wav").is_file()  # the other input was separated


def test_import_stems_refuses_a_source_that_is_the_track_it_would_write(tmp_path, capsys):
    root = make_musdb_hq(tmp_path / "lib", {"train": ["song"]})
    track = root / "train" / "song"
    before = snapshot(track)
    code = main(["import-stems", str(track), str(root), "--force"])
    one_error_line(capsys, code, contains=("is the track it would be imported as",))
    assert snapshot(track) == before


def test_train_refuses_a_folder_that_holds_anything_without_resume(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('name = "x"\ndescription = "d"\n[model]\nname = "tiny"\n')
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("step,loss\n1,0.5\n")
    (run / "best.pt").write_bytes(b"old weights")
    before = snapshot(run)
    code = main(["train", "--config", str(config), "--run-dir", str(run), "--data", str(tmp_path / "nowhere"), "--quiet"])
    one_error_line(capsys, code, contains=("is not empty", "--resume"))
    assert snapshot(run) == before


# --------------------------------------------------------------------------------------
# 2. Numbers beyond what the machine can honour: refused before any work
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [
    ["separate", "--batch-size", "100000"],
    ["separate", "-j", "1000000"],
    ["stream", "--threads", "1000000"],
    ["stream", "--block-ms", "1e300"],
    ["stream", "--stall-seconds", "1e300"],
])  # fmt: skip
def test_numeric_options_have_bounds(tmp_path, capsys, song, extra):  # noqa: F811
    command, *options = extra
    try:
        code = main([command, str(song), "-m", "tiny", "--random-weights", "-o", str(tmp_path / "o"), *options])
    except SystemExit as exc:  # argparse's own refusal, as the command exits with it
        code = exc.code
    one_error_line(capsys, code, contains=("at most",))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kwargs, words", [
    (dict(threads=10**6), "threads must be an integer from 1 to"),
    (dict(batch_size=10**6), "batch_size must be an integer from 1 to"),
    (dict(overlap="0.5"), "overlap must be a number"),
])  # fmt: skip
def test_separator_arguments_are_bounded_and_typed(kwargs, words):
    with pytest.raises(LightsepError, match=words):
        lightsep.Separator("tiny", **kwargs)


def test_a_numpy_level_is_a_valid_silence_floor():
    separator = lightsep.Separator("tiny", silence_floor_db=np.float32(-90))
    assert separator.silence_floor_db == -90.0


@pytest.mark.parametrize("model", [123, None, ""])
def test_a_model_that_is_no_name_is_lightseps_error(model):
    with pytest.raises(LightsepError):
        lightsep.Separator(model)


def test_a_config_batch_beyond_the_bound_is_refused(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('name = "x"\ndescription = "d"\n[model]\nname = "tiny"\n[training.main]\nbatch_size = 65536\n')
    code = main(["train", "--config", str(config), "--print-config"])
    one_error_line(capsys, code, contains=("batch_size must be in [1, 1024]",))


# --------------------------------------------------------------------------------------
# 3. Silent wrong results
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("array, words", [
    (np.full((2, 4410), 9830, np.int16), "int16"),
    (np.ones((2, 4410), np.complex64), "complex64"),
    (np.array([["a", "b"]]), "<U1"),
])  # fmt: skip
def test_the_api_refuses_audio_that_is_not_floating_point(array, words):
    with pytest.raises(LightsepError, match="floating-point"):
        lightsep.Separator("tiny").separate(array, 44100)


@pytest.mark.parametrize("bit_depth", ["16", "32"])
def test_samples_far_beyond_full_scale_are_refused_not_written_as_nan(tmp_path, capsys, bit_depth):
    path = tmp_path / "loud.wav"
    audio = np.full((2, 4410), 3.0e38, np.float32)
    write_audio(path, audio, 44100, bit_depth=32)
    code = main(["separate", "-m", "tiny", "--random-weights", "-o", str(tmp_path / "o"), "--bit-depth", bit_depth, "--quiet", str(path)])
    one_error_line(capsys, code, contains=("far beyond full scale",))
    assert not any((tmp_path / "o").rglob("*.wav"))


def test_import_stems_leaves_a_mixture_file_out_and_says_so(tmp_path, capsys):
    root = make_musdb_hq(tmp_path / "lib", {"train": ["song"]})
    code = main(["import-stems", str(root / "train" / "song"), str(tmp_path / "dest")])
    captured = capsys.readouterr()
    assert code == 0 and "mixture.wav: left out" in captured.err
    import soundfile as sf

    imported, _ = sf.read(tmp_path / "dest" / "train" / "song" / "mixture.wav")
    source, _ = sf.read(root / "train" / "song" / "mixture.wav")
    ratio = np.sqrt(np.mean(imported**2) / np.mean(source**2))
    assert 0.9 < ratio < 1.1  # not the mixture added to itself as "other"


def test_the_audio_cache_sees_a_file_replaced_with_its_size_and_mtime_kept(tmp_path):
    from lightsep.data.cache import AudioCache

    path = tmp_path / "a.wav"
    write_audio(path, noise(2, 0.5, seed=1), 44100, bit_depth=16)
    cache = AudioCache(tmp_path / "cache")
    first = np.array(cache.load(path, 44100, 2))
    stat = path.stat()
    time.sleep(0.01)
    write_audio(path, noise(2, 0.5, seed=2), 44100, bit_depth=16)  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    second = np.array(cache.load(path, 44100, 2))
    assert not np.allclose(first, second)


def test_a_truncated_cache_entry_is_made_again(tmp_path):
    from lightsep.data.cache import AudioCache

    path = tmp_path / "a.wav"
    write_audio(path, noise(2, 0.5), 44100, bit_depth=16)
    cache = AudioCache(tmp_path / "cache")
    good = np.array(cache.load(path, 44100, 2))
    entry = cache.entry(path, 44100, 2)
    entry.write_bytes(entry.read_bytes()[:40])  # cut inside the header
    np.testing.assert_array_equal(np.array(cache.load(path, 44100, 2)), good)


# --------------------------------------------------------------------------------------
# 5. Paths
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..wav", "...wav"])
def test_a_file_named_dots_keeps_its_stems_in_its_own_folder(tmp_path, capsys, name):
    path = tmp_path / name
    write_audio(path, noise(2, 0.5), 44100, bit_depth=16)
    out = tmp_path / "out"
    assert main(["separate", "-m", "tiny", "--random-weights", "-o", str(out), str(path)]) == 0
    assert (out / "tiny" / name / "vocals.wav").is_file()
    assert not (out / "tiny" / "vocals.wav").exists() and not (out / "vocals.wav").exists()


def test_a_config_name_that_climbs_out_is_refused(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('name = "../../../outside/run"\ndescription = "d"\n[model]\nname = "tiny"\n')
    code = main(["train", "--config", str(config), "--print-config"])
    one_error_line(capsys, code, contains=("is not a plain name",))


def test_an_output_folder_through_a_missing_folder_makes_no_extra_folder(tmp_path, capsys, song, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    assert main(["separate", "-m", "tiny", "--random-weights", "-o", "sub/../out2", str(song)]) == 0
    assert (tmp_path / "out2" / "tiny" / "song" / "vocals.wav").is_file()
    assert not (tmp_path / "sub").exists()


# --------------------------------------------------------------------------------------
# 7. Bounded work: lightsep web's listen backlog holds a burst
# --------------------------------------------------------------------------------------


def test_the_web_server_answers_a_burst_of_200_requests(tmp_path):
    import concurrent.futures
    import urllib.request

    from lightsep.web import make_server, serve_in_thread

    server = make_server(0, ["tiny"])
    host, port = server.server_address[:2]
    # 200 connections opened before the server accepts any: the listen backlog holds them all
    waiting = [socket.create_connection((host, port), timeout=30) for _ in range(200)]
    serve_in_thread(server)
    try:
        for s in waiting:
            s.sendall(b"GET /models/index.json HTTP/1.0\r\n\r\n")
        answers = [s.recv(16) for s in waiting]
        assert all(a.startswith(b"HTTP/1.") for a in answers)
        # and 200 requests at once through a client, each answered within the 30 s
        start = time.monotonic()

        def fetch(_):
            with urllib.request.urlopen(f"http://{host}:{port}/models/index.json", timeout=30) as response:
                return response.status

        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            statuses = list(pool.map(fetch, range(200)))
        assert statuses == [200] * 200 and time.monotonic() - start < 30
    finally:
        for s in waiting:
            s.close()
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------
# 2. Damaged files lightsep wrote: one line, not a crash
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("summary", [
    '{"model": "x", "targets": {}}',
    '{"model": "x", "tracks": 1, "targets": {"vocals": {}}}',
    '{"model": "x", "tracks": 1, "targets": {"vocals": {"SDR": {"sisec18": {"median": 1.0}, "nan_frames": 0}}}}',
    '{"model": "x", "tracks": 1, "targets": {"vocals": {"SDR": {"sisec18": {"median": "high"}, '
    '"pooled": {"median": 1.0, "mad": 0.1}, "nan_frames": 0}}}}',
])  # fmt: skip
def test_report_on_a_damaged_summary_is_one_line(tmp_path, capsys, summary):
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "summary.json").write_text(summary)
    code = main(["report", str(folder), "-o", str(tmp_path / "r.md")])
    one_error_line(capsys, code, contains=("not a lightsep evaluate summary",))
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("step", ["1" + "0" * 400, "-5"])
def test_plot_on_a_log_with_an_impossible_step_is_one_line(tmp_path, capsys, step):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text(f"kind,phase,step,loss\ntrain,main,{step},0.5\n")
    code = main(["plot", str(run)])
    one_error_line(capsys, code, contains=("is damaged",))


# --------------------------------------------------------------------------------------
# 6. Files outside the named outputs
# --------------------------------------------------------------------------------------


def test_onnx_runtime_writes_nothing_in_the_home_folder(tmp_path, song):  # noqa: F811
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), LIGHTSEP_CACHE=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "lightsep", "separate", str(song), "-m", "tiny", "--random-weights", "--backend", "onnx",
               "-o", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "tiny" / "song" / "vocals.wav").is_file()
    assert not [str(p) for p in home.rglob("*")], "written under HOME"


def test_evaluate_on_a_dataset_without_vocals_is_one_line(tmp_path, capsys):
    from helpers import make_instrumental

    root = make_instrumental(tmp_path / "inst", ["a", "b"])
    code = main(["evaluate", "-m", "tiny", "--random-weights", "--data", str(root), "--subset", "train",
                 "--out", str(tmp_path / "ev"), "--quiet"])  # fmt: skip
    one_error_line(capsys, code, contains=("has no vocals stem to score against",))


def test_the_oracle_on_a_track_shorter_than_its_window(tmp_path, capsys):
    from lightsep.evaluate import IRM_FFT, oracle_irm

    rng = np.random.default_rng(0)
    refs = {n: (0.1 * rng.standard_normal((2, 5))).astype(np.float32) for n in ("vocals", "accompaniment")}
    refs["mixture"] = refs["vocals"] + refs["accompaniment"]
    out = oracle_irm(refs, ("vocals", "accompaniment"))
    assert all(v.shape == (2, 5) and np.isfinite(v).all() for v in out.values()) and IRM_FFT > 5
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], refs["mixture"], atol=1e-4)
    root = make_musdb_hq(tmp_path / "db", {"test": ["one"]}, seconds=1 / 44100)
    code = main(["evaluate", "-m", "oracle-irm", "--data", str(root), "--out", str(tmp_path / "ev"), "--quiet"])
    captured = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in captured.err and "internal error" not in captured.err


def test_a_silent_reference_is_named_as_such_once(tmp_path, capsys):
    import soundfile as sf

    root = make_musdb_hq(tmp_path / "db", {"test": ["quiet"]})
    track = root / "test" / "quiet"
    data, rate = sf.read(track / "vocals.wav")
    sf.write(track / "vocals.wav", np.zeros_like(data), rate)
    code = main(["evaluate", "-m", "tiny", "--random-weights", "--data", str(root), "--out", str(tmp_path / "ev"),
                 "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "is silent throughout" in err and err.count("quiet:") == 1, err


def test_a_configuration_that_is_a_device_is_named_so(capsys):
    code = main(["train", "--config", "/dev/null", "--print-config"])
    one_error_line(capsys, code, contains=("/dev/null: a device, not a configuration file",))


def test_a_dangling_stem_link_is_named_as_a_broken_link(tmp_path, capsys):
    root = make_musdb_hq(tmp_path / "db", {"test": ["song"]})
    vocals = root / "test" / "song" / "vocals.wav"
    vocals.unlink()
    vocals.symlink_to(tmp_path / "gone.wav")
    code = main(["evaluate", "-m", "tiny", "--random-weights", "--data", str(root), "--out", str(tmp_path / "ev"),
                 "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "a symbolic link to a file that does not exist" in err and "missing stem" not in err, err


def test_import_stems_names_a_fifo_stem_instead_of_skipping_it(tmp_path, capsys):
    source = tmp_path / "song"
    source.mkdir()
    write_audio(source / "drums.wav", noise(2, 0.5), 44100, bit_depth=16)
    os.mkfifo(source / "vocals.wav")
    code = main(["import-stems", str(source), str(tmp_path / "dest")])
    one_error_line(capsys, code, contains=("vocals.wav: a FIFO",))
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").rglob("*.wav"))


def test_a_truncated_mp3_shows_no_decoder_chatter(tmp_path):
    import shutil
    import subprocess
    import sys

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is needed to make the MP3")
    mp3 = tmp_path / "t.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ac", "2", "-ar", "44100",
                    str(mp3)], check=True)  # fmt: skip
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[:20000])
    result = subprocess.run([sys.executable, "-m", "lightsep", "separate", "-m", "tiny", "--random-weights", str(cut),
                             "-o", str(tmp_path / "o"), "--quiet"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_random_weights_make_one_onnx_cache_entry_however_often_they_run(tmp_path, song):  # noqa: F811
    import subprocess
    import sys

    env = {**os.environ, "LIGHTSEP_CACHE": str(tmp_path / "cache")}
    for run in range(2):
        command = [sys.executable, "-m", "lightsep", "separate", str(song), "-m", "tiny", "--random-weights", "--backend",
                   "onnx", "-o", str(tmp_path / f"out{run}"), "--quiet"]  # fmt: skip
        assert subprocess.run(command, env=env, capture_output=True, timeout=300).returncode == 0
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1


def test_training_and_the_corpus_leave_no_temporaries_behind(tmp_path):
    import shutil
    import subprocess
    import sys

    root = make_musdb_hq(tmp_path / "db", {"train": ["a", "b", "c", "d"], "test": ["e"]})
    config = tmp_path / "c.toml"
    config.write_text('name = "t"\ndescription = "d"\n[model]\nname = "tiny"\n[training]\niterations_per_epoch = 2\n'
                      'max_iterations = 2\n')  # fmt: skip
    home, temp = tmp_path / "home", tmp_path / "temp"
    home.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "TORCHINDUCTOR_CACHE_DIR")}
    env.update(HOME=str(home), TMPDIR=str(temp), LIGHTSEP_CACHE=str(tmp_path / "cache"))
    commands = [["train", "--config", str(config), "--data", str(root), "--run-dir", str(tmp_path / "run"), "--quiet"]]
    if shutil.which("fluidsynth") and Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file():
        commands.append(["synth", str(tmp_path / "corpus"), "--songs", "1", "--seconds", "2", "--quiet", "--jobs", "1"])
    for command in commands:
        result = subprocess.run([sys.executable, "-m", "lightsep", *command], env=env, capture_output=True, text=True,
                                timeout=600)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert not list(home.rglob("*")) and not list(temp.rglob("*")), (list(home.rglob("*")), list(temp.rglob("*")))
