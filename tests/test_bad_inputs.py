"""Bad input and faults through every command: one line on stderr, the documented exit status
(2 for usage and input errors, 3 for internal errors, 128 + N for signal N), no traceback, and
nothing the user had replaced or left half-written (docs/failures.md)."""

import errno
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import make_musdb_hq
from lightsep.audio import read_audio, write_audio
from lightsep.checkpoint import load_checkpoint, save_checkpoint
from lightsep.cli import main
from lightsep.errors import CheckpointError, EXIT_INPUT, EXIT_INTERNAL
from lightsep.models.registry import build_model
from lightsep.separator import InvalidAudioError, Separator

PYTHON = [sys.executable, "-m", "lightsep.cli"]


def noise(channels, seconds, rate=44100, seed=0, level=0.2):
    return (level * np.random.default_rng(seed).standard_normal((channels, int(seconds * rate)))).astype(np.float32)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones included) and a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def one_error_line(capsys_or_text, code, status=EXIT_INPUT, contains=()) -> str:
    """Check the exit status and that stderr is exactly one ``lightsep...error`` line."""
    err = capsys_or_text if isinstance(capsys_or_text, str) else capsys_or_text.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == status, err
    assert "Traceback" not in err
    assert len(lines) == 1 and "error:" in lines[0], err
    for text in contains:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "in" / "song.wav"
    write_audio(path, noise(2, 1.0), 44100, bit_depth=32)
    return path


@pytest.fixture
def checkpoint(tmp_path):
    return save_checkpoint(build_model("tiny"), tmp_path / "m.pt")


# --------------------------------------------------------------------------------------
# 1. NaN and infinite samples
# --------------------------------------------------------------------------------------


@pytest.fixture
def nan_song(tmp_path):
    audio = noise(2, 1.0)
    audio[1, 11025:11035] = np.nan  # ten NaN samples from 0.25 s on, in the second channel
    audio[0, 30000] = np.inf
    path = tmp_path / "in" / "nan.wav"
    write_audio(path, audio, 44100, bit_depth=32)
    return path


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_nan_samples_are_refused_with_the_first_ones_time(nan_song, tmp_path, capsys, fmt):
    out = tmp_path / "out"
    code = main(["separate", str(nan_song), "-m", "tiny", "-o", str(out), "--format", fmt, "--quiet"])
    one_error_line(capsys, code, contains=(str(nan_song), "at 0.250 s", "channel 2", "--nan-to-zero"))
    assert not out.exists()  # nothing written, no empty folders


def test_nan_to_zero_replaces_them_with_silence(nan_song, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["separate", str(nan_song), "-m", "tiny", "-o", str(out), "--nan-to-zero", "--bit-depth", "32"]) == 0
    assert "11 NaN or infinite sample(s) replaced with silence" in capsys.readouterr().err
    stems = [read_audio(p)[0] for p in sorted((out / "tiny" / "nan").iterdir())]
    assert all(np.isfinite(s).all() for s in stems)
    clean = np.nan_to_num(read_audio(nan_song)[0], nan=0.0, posinf=0.0)
    assert np.abs(sum(stems) - clean).max() < 1e-4


def test_nan_samples_in_the_api_and_the_stream_command(nan_song, tmp_path, capsys):
    audio, rate = read_audio(nan_song)
    with pytest.raises(InvalidAudioError, match="at 0.250 s"):
        Separator("tiny").separate(audio, rate)
    stream = Separator("tiny").stream(rate, 2)
    stream.push(audio[:, :10000])  # the block boundary does not change the time reported
    with pytest.raises(InvalidAudioError, match=r"at 0\.250 s \(sample 11025"):
        stream.push(audio[:, 10000:])
    out = tmp_path / "streamed"
    code = main(["stream", str(nan_song), "-m", "tiny", "-o", str(out), "--no-pace"])
    one_error_line(capsys, code, contains=(str(nan_song), "at 0.250 s"))
    assert not out.exists()


# --------------------------------------------------------------------------------------
# 2. Nothing is overwritten without --force
# --------------------------------------------------------------------------------------


def test_export_never_overwrites_its_input_and_needs_force(checkpoint, tmp_path, capsys):
    before = checkpoint.read_bytes()
    one_error_line(capsys, main(["export", str(checkpoint), str(checkpoint)]), contains=("is this command's input",))
    one_error_line(capsys, main(["export", str(checkpoint), str(checkpoint), "--force"]), contains=("is this command's input",))
    assert checkpoint.read_bytes() == before and load_checkpoint(checkpoint).name == "tiny"
    target = tmp_path / "m.onnx"
    target.write_bytes(b"the user's file")
    one_error_line(capsys, main(["export", str(checkpoint), str(target)]), contains=("exists; use --force",))
    assert target.read_bytes() == b"the user's file"
    one_error_line(capsys, main(["export", str(checkpoint), str(tmp_path)]), contains=("is a folder",))


def test_stream_needs_force_to_replace_stems(song, tmp_path, capsys):
    out = tmp_path / "streamed"
    assert main(["stream", str(song), "-m", "tiny", "-o", str(out), "--no-pace"]) == 0
    capsys.readouterr()
    before = snapshot(out)
    one_error_line(capsys, main(["stream", str(song), "-m", "tiny", "-o", str(out), "--no-pace"]), contains=("--force",))
    assert snapshot(out) == before
    assert main(["stream", str(song), "-m", "tiny", "-o", str(out), "--no-pace", "--force"]) == 0


# --------------------------------------------------------------------------------------
# 3. Two inputs, one output folder
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_inputs_that_share_a_track_name_do_not_replace_each_others_stems(tmp_path, capsys, jobs):
    first, second = tmp_path / "a" / "song.wav", tmp_path / "b" / "song.wav"
    write_audio(first, noise(2, 0.5, seed=1), 44100, bit_depth=32)
    write_audio(second, noise(2, 0.5, seed=2), 44100, bit_depth=32)
    out = tmp_path / "out"
    code = main(["separate", str(first), str(second), str(first), "-m", "tiny", "-o", str(out), "-j", jobs, "--force",
                 "--bit-depth", "32", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "Traceback" not in err
    assert err.count("same folder as those of") == 2 and "2 of 3 input(s) failed" in err
    stems = sum(read_audio(p)[0] for p in (out / "tiny" / "song").iterdir())
    assert np.abs(stems - read_audio(first)[0]).max() < 1e-4  # the first input's stems, not the second's


# --------------------------------------------------------------------------------------
# 6. One line instead of a traceback
# --------------------------------------------------------------------------------------


def test_an_output_folder_that_is_a_file(song, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("the user's")
    data = make_musdb_hq(tmp_path / "data", {"train": ["a", "b"], "test": ["c"]}, seconds=1.0)
    config = tmp_path / "c.toml"
    config.write_text('name = "x"\n[model]\nname = "tiny"\n[data]\nworkers = 0\n')
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("kind,phase,epoch,step,loss,lr,seconds\ntrain,main,0,1,0.5,1e-05,1.0\n")
    commands = [
        ["separate", str(song), "-m", "tiny", "-o", str(blocker)],
        ["separate", str(song), "-m", "tiny", "-o", str(blocker / "deeper")],
        ["stream", str(song), "-m", "tiny", "-o", str(blocker), "--no-pace"],
        ["evaluate", "-m", "mixture", "--data", str(data), "--out", str(blocker), "--quiet"],
        ["synth", str(blocker), "--songs", "1", "--seconds", "1"],
        ["train", "--config", str(config), "--data", str(data), "--run-dir", str(blocker), "--quiet"],
        ["plot", str(run), "-o", str(blocker / "loss.png")],
    ]
    for command in commands:
        one_error_line(capsys, main(command), contains=("is a file",))
    assert blocker.read_text() == "the user's"


def unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    for folder in (Path("/sys/kernel"), Path("/proc/self")):  # refused even to root
        try:
            os.close(os.open(folder / ".lightsep-probe", os.O_CREAT | os.O_WRONLY))
        except OSError:
            return folder
    pytest.skip("no folder this user cannot write to")


def test_a_read_only_folder_and_a_full_disk(song, checkpoint, tmp_path, capsys, monkeypatch):
    folder = unwritable_folder(tmp_path)
    one_error_line(capsys, main(["separate", str(song), "-m", "tiny", "-o", str(folder / "out")]))
    one_error_line(capsys, main(["export", str(checkpoint), str(folder / "m.onnx")]))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "out"
    one_error_line(capsys, main(["separate", str(song), "-m", "tiny", "-o", str(out), "--quiet"]), contains=("No space left",))
    one_error_line(capsys, main(["export", str(checkpoint), str(tmp_path / "m.onnx")]), contains=("No space left",))
    assert not out.exists() and not (tmp_path / "m.onnx").exists()
    assert not [p for p in tmp_path.rglob(".*partial*")]


def forged_checkpoint(path: Path, **changes) -> Path:
    data = torch.load(save_checkpoint(build_model("tiny"), path), weights_only=True)
    args = changes.pop("args", {})
    data["model_args"].update(args)
    data.update(changes)
    torch.save(data, path)
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(version="1"), "version '1' is not a positive integer"),
        (dict(version=True), "is not a positive integer"),
        (dict(model_args=[1, 2]), "model_args is a list"),
        (dict(args=dict(sample_rate=0)), "sample rate 0"),
        (dict(args=dict(context_samples=0)), "invalid arguments"),
        (dict(args=dict(context_samples=1 << 30)), "context of"),
        (dict(args=dict(encoder_channels=[4, 4, 8, 100_000], aspp_channels=100_000)), "weights, more than"),
        (dict(args=dict(sources=[])), "invalid arguments"),
    ],
)
def test_forged_checkpoints_are_refused_before_anything_is_allocated(tmp_path, capsys, changes, message):
    path = forged_checkpoint(tmp_path / "forged.pt", **changes)
    assert path.stat().st_size < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing large was built
    one_error_line(capsys, main(["export", str(path), str(tmp_path / "x.onnx")]), contains=(message.split("'")[0],))


def test_nan_weights_are_refused(tmp_path):
    model = build_model("tiny")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_checkpoint(save_checkpoint(model, tmp_path / "nan.pt"))


def test_bad_devices_channels_and_numbers(song, tmp_path, capsys):
    out = str(tmp_path / "o")
    one_error_line(capsys, main(["separate", str(song), "-m", "tiny", "-o", out, "--device", "tpu"]), contains=("tpu",))
    one_error_line(capsys, main(["separate", str(song), "-m", "tiny", "-o", out, "--device", "nonsense"]), contains=("nonsense",))
    for command in (["stream", "-", "--channels", "0"], ["stream", "-", "--rate", "-1"], ["stream", str(song), "--block-ms", "0"],
                    ["stream", str(song), "--threads", "-2"], ["train", "--config", "x.toml", "--max-iterations", "-3"],
                    ["synth", out, "--seed", "-1"], ["separate", str(song), "--batch-size", "0"]):  # fmt: skip
        with pytest.raises(SystemExit) as exit:
            main(command)
        one_error_line(capsys, exit.value.code, contains=("must be",))
    assert not Path(out).exists()


@pytest.mark.parametrize(
    "setting, message",
    [
        ("training.main.lr=nan", "training.main.lr must be in (0, 1]"),
        ("training.betas=[0.9, 2.5]", "training.betas must be two numbers in [0, 1)"),
        ("training.seed=-5", "training.seed must be in"),
        ("data.workers=-1", "data.workers must be in"),
        ("training.log_every=0", "training.log_every must be at least 1"),
        ("run.threads=-4", "run.threads must be in"),
        ("training.max_iterations=-3", "training.max_iterations must be 0 or more"),
        ("data.gain_max=inf", "gain_max"),
        ("model.args={aspp_channels=100000, encoder_channels=[4, 4, 8, 100000]}", "weights, more than"),
    ],
)
def test_configuration_values_are_bounded(tmp_path, capsys, setting, message):
    config = tmp_path / "c.toml"
    config.write_text('name = "x"\n[model]\nname = "tiny"\n')
    code = main(["train", "--config", str(config), "--set", setting, "--run-dir", str(tmp_path / "r"), "--quiet"])
    one_error_line(capsys, code, contains=(message,))
    assert not (tmp_path / "r").exists()


def test_a_configuration_that_is_not_utf8(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    one_error_line(capsys, main(["train", "--config", str(config)]), contains=("not UTF-8",))


def test_an_internal_error_is_one_line_with_its_own_status(song, tmp_path, capsys, monkeypatch):
    import lightsep.separator

    def broken(self, block):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(lightsep.separator.SeparationStream, "push", broken)
    other = tmp_path / "other.wav"
    write_audio(other, noise(1, 0.5), 22050)
    code = main(["separate", str(song), str(tmp_path / "missing.wav"), "-m", "tiny", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL and "Traceback" not in err
    assert "internal error: ZeroDivisionError: a bug" in err and "missing.wav: no such file" in err
    monkeypatch.setattr(lightsep.separator.Separator, "__init__", lambda self, *a, **k: 1 / 0)
    line = one_error_line(capsys, main(["stream", str(song), "-o", str(tmp_path / "s")]), status=EXIT_INTERNAL)
    assert "LIGHTSEP_DEBUG=1" in line


# --------------------------------------------------------------------------------------
# 7. Silence in, silence out
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["proposed-2stem", "proposed-4stem"])
def test_silence_in_gives_silence_out_for_every_bundled_model(name):
    separator = Separator(name)
    silence = np.zeros((2, 44100), np.float32)
    assert all(not np.any(stem) for stem in separator.separate(silence, 44100).values())
    # below the -90 dBFS floor the directly estimated stems are silent and the difference
    # stem is the input itself, so the stems still sum to the input
    quiet = 10 ** (-95 / 20) * np.sin(np.linspace(0, 880 * np.pi, 44100, dtype=np.float32))[None].repeat(2, 0)
    stems = separator.separate(quiet, 44100)
    difference = separator.model.difference_source
    assert all(not np.any(stems[s]) for s in stems if s != difference)
    np.testing.assert_array_equal(stems[difference], quiet)


def test_the_silence_gate_is_the_same_however_the_input_is_cut():
    rng = np.random.default_rng(0)
    audio = noise(2, 2.0, 22050)
    audio[:, 5000:20000] = 0.0  # digital silence
    audio[:, 25000:30000] *= 1e-4  # -90 to -80 dBFS
    separator = Separator("tiny")
    offline = separator.separate(audio, 22050)
    stream, parts, start = separator.stream(22050, 2), [], 0
    while start < audio.shape[1]:
        size = int(rng.integers(1, 3000))
        parts.append(stream.push(audio[:, start : start + size]))
        start += size
    streamed = np.concatenate(parts + [stream.flush()], axis=-1)
    for i, name in enumerate(separator.sources):
        np.testing.assert_array_equal(streamed[i], offline[name])
    assert not np.any(offline["vocals"][:, 6000:20000])
    gated = Separator("tiny", silence_floor_db=None).separate(audio, 22050)
    assert np.any(gated["vocals"][:, 6000:20000])  # without the gate the model's biases sound


def gate_formula(gate, audio: np.ndarray) -> np.ndarray:
    """The gains gate.py's docstring describes, on the whole ``(channels, n)`` signal at once
    and with no shortcut: the peak over each sample's window, its level in dB placed between
    the floor and the open level, in steps, summed over the window."""
    from lightsep.gate import STEPS, running_max

    peaks = np.concatenate([np.zeros(gate.window - 1, np.float32), np.abs(audio).max(axis=0)])
    with np.errstate(divide="ignore"):
        level_db = 20.0 * np.log10(running_max(peaks, gate.window).astype(np.float64))
    fraction = np.clip((level_db - gate.floor_db) / (gate.open_db - gate.floor_db), 0.0, 1.0)
    steps = np.concatenate([np.zeros(gate.window - 1, np.int64), np.rint(fraction * STEPS).astype(np.int64)])
    sums = np.concatenate([[0], np.cumsum(steps)])
    return ((sums[gate.window :] - sums[: -gate.window]) / (STEPS * gate.window)).astype(np.float32)


def test_the_silence_gates_shortcuts_give_the_gains_of_its_formula():
    from lightsep.gate import SilenceGate

    rate = 8000
    gate = SilenceGate(rate)
    # levels across the whole ramp, at the open level to the last float32, and loud stretches
    open_level = np.float32(10 ** (gate.open_db / 20))
    levels = np.concatenate([np.geomspace(1e-6, 1.0, 3000), np.full(500, 0.5), np.nextafter(open_level, [0, 1], dtype=np.float32),
                             np.full(400, open_level), np.full(700, 0.8), np.zeros(300)]).astype(np.float32)  # fmt: skip
    signs = np.where(np.arange(levels.size) % 2, 1, -1).astype(np.float32)
    audio = np.stack([levels * signs, 0.5 * levels])
    cuts = [0, 1234, 3100, 3450, levels.size]  # [3100, 3450) and its window before: loud throughout
    got = np.concatenate([gate(audio[:, a:b]) for a, b in zip(cuts, cuts[1:])])
    np.testing.assert_array_equal(got, gate_formula(gate, audio))
    assert got.min() == 0.0 and 0.0 < got[1500] < 1.0 and np.all(got[3300:3500] == 1.0)


@pytest.mark.parametrize("quiet_stretches", [3, 40, 400])  # the last: more than MAX_RUNS stretches to measure
@pytest.mark.parametrize("rate", [1000, 8000, 44100])  # windows of 5, 40 and 221 samples
def test_the_gate_measures_only_where_it_may_close_and_gives_the_formulas_gains(quiet_stretches, rate):
    """Music with quiet stretches of every length, from one sample to several windows, at
    every phase against the gate's blocks of half a window, cut into blocks at random."""
    from lightsep.gate import SilenceGate

    rng = np.random.default_rng(quiet_stretches + rate)
    gate = SilenceGate(rate)
    audio = rng.uniform(-0.5, 0.5, (2, 60 * gate.window + quiet_stretches * 3 * gate.window)).astype(np.float32)
    for _ in range(quiet_stretches):
        start, length = int(rng.integers(0, audio.shape[1])), int(rng.integers(1, 3 * gate.window))
        audio[:, start : start + length] *= np.float32(10 ** rng.uniform(-6, -2.5))  # -120 to -50 dBFS
    audio[:, -gate.window // 3 :] = 0.0  # and at the very end, shorter than a block
    cuts = np.sort(rng.integers(0, audio.shape[1], 7))
    got = np.concatenate([gate(piece) for piece in np.split(audio, cuts, axis=1)])
    expected = gate_formula(gate, audio)
    np.testing.assert_array_equal(got, expected)
    assert expected.min() < 1.0  # the quiet stretches closed it somewhere


# --------------------------------------------------------------------------------------
# 8. Killed runs
# --------------------------------------------------------------------------------------


@pytest.fixture
def long_song(tmp_path):
    path = tmp_path / "in" / "long.wav"
    write_audio(path, noise(1, 120.0, 22050), 22050)
    return path


def start_separating(songs: list[Path], out: Path, *options: str) -> subprocess.Popen:
    """``lightsep separate`` in a child process, returned once it writes stems for every song.

    With 90% overlap (ten times the segments) each song keeps it busy for several seconds,
    so that the test's signal finds it at work even on a slow machine, not done already."""
    # as from a terminal: SIGINT not ignored, even when the tests run as a background job
    process = subprocess.Popen([*PYTHON, "separate", *map(str, songs), "-o", str(out), "--batch-size", "1", "--overlap", "0.9",
                                "--quiet", *options],
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while len({p.parent for p in out.rglob(".*partial*")}) < len(songs):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no output started within 120 s"
        time.sleep(0.01)
    return process


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_removes_the_outputs_in_progress(long_song, tmp_path, sig):
    out = tmp_path / "out"
    process = start_separating([long_song], out)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err  # its stderr, should it ever die by the signal itself
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("lightsep: interrupted")
    assert snapshot(out) == {}  # no temporaries, no stems
    assert not any(out.rglob("*"))  # the folders it made are gone too


def test_ctrl_c_caught_inside_exec_still_exits_130_under_python_m(tmp_path):
    """A KeyboardInterrupt raised inside exec() of a string (what a lazy import building a
    dataclass runs, and where a Ctrl-C to ``python -m lightsep`` once landed) and caught by
    the command must not make the interpreter kill itself with SIGINT at exit (-2)."""
    (tmp_path / "interrupted_in_exec.py").write_text(
        "from lightsep import cli\n"
        "def interrupted(argv=None):\n"
        "    try:\n"
        "        exec('raise KeyboardInterrupt')\n"
        "    except KeyboardInterrupt:\n"
        "        return 130\n"
        "cli.main = interrupted\n"
        "cli.run()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "interrupted_in_exec"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr


def test_a_signal_stops_parallel_jobs_and_their_outputs(long_song, tmp_path):
    other = tmp_path / "in" / "other.wav"
    write_audio(other, noise(1, 120.0, 22050, seed=1), 22050)
    out = tmp_path / "out"
    process = start_separating([long_song, other], out, "-j", "2")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and err.strip().splitlines() == ["lightsep: interrupted by SIGTERM"]
    assert not any(out.rglob("*"))


def test_a_bad_model_with_parallel_jobs_is_one_line(song, tmp_path):
    other = write_audio(tmp_path / "other.wav", noise(1, 0.5), 22050)
    result = subprocess.run([*PYTHON, "separate", str(song), str(other), "-m", "nope", "-j", "2", "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    one_error_line(result.stderr, result.returncode, contains=("unknown model 'nope'",))


def test_a_killed_runs_temporaries_are_removed_by_the_next_run(long_song, tmp_path):
    out = tmp_path / "out"
    process = start_separating([long_song], out)
    process.kill()
    process.wait()
    debris = list(out.rglob(".*partial*"))
    assert debris and all(f".partial-{process.pid}-" in p.name for p in debris)
    short = tmp_path / "in2" / "long.wav"  # same track name, so the same output folder
    write_audio(short, noise(1, 0.5, 22050), 22050)
    assert subprocess.run([*PYTHON, "separate", str(short), "-o", str(out), "--quiet"]).returncode == 0
    from lightsep.defaults import SEPARATE_MODEL

    assert sorted(snapshot(out)) == [f"{SEPARATE_MODEL}/long/accompaniment.wav", f"{SEPARATE_MODEL}/long/vocals.wav"]


def test_the_stems_are_committed_all_or_none(song, tmp_path, capsys, monkeypatch):
    import lightsep.audio

    out = tmp_path / "out"
    assert main(["separate", str(song), "-m", "tiny", "-o", str(out), "--quiet"]) == 0
    before = snapshot(out)
    close = lightsep.audio.AudioWriter.close

    def second_fails(self):
        close(self)
        if self.path.stem == "accompaniment":
            raise lightsep.audio.AudioError(f"{self.path}: cannot write audio (disk error)")

    monkeypatch.setattr(lightsep.audio.AudioWriter, "close", second_fails)
    code = main(["separate", str(song), "-m", "tiny", "-o", str(out), "--force", "--quiet"])
    one_error_line(capsys, code, contains=("disk error",))
    assert snapshot(out) == before  # the first stem was not replaced either


# --------------------------------------------------------------------------------------
# 10. Smaller faults
# --------------------------------------------------------------------------------------


def test_a_truncated_wav_is_separated_with_a_warning(tmp_path, capsys):
    whole = write_audio(tmp_path / "whole.wav", noise(2, 2.0), 44100)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert main(["separate", str(cut), "-m", "tiny", "-o", str(tmp_path / "o")]) == 0
    assert "announces 2.00 s but only 1.00 s could be read" in capsys.readouterr().err


def test_random_bytes_named_mp3_get_one_line_and_no_decoder_noise(tmp_path, capfd):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    code = main(["separate", str(junk), "-m", "tiny", "-o", str(tmp_path / "o")])
    line = one_error_line(capfd.readouterr().err, code, contains=("not a valid mp3 file",))
    assert "does not exist" not in line
    assert not (tmp_path / "o").exists()


def test_a_file_that_is_not_a_soundfont(tmp_path, capsys):
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"JUNK" * 100)
    one_error_line(capsys, main(["synth", str(tmp_path / "c"), "--soundfont", str(junk), "--songs", "1"]),
                   contains=("not a SoundFont",))  # fmt: skip
    assert not (tmp_path / "c").exists()


def test_clipping_in_integer_output_is_reported(tmp_path, capsys):
    loud = write_audio(tmp_path / "loud.wav", noise(2, 0.5, level=0.9), 44100, bit_depth=32)
    assert main(["separate", str(loud), "-m", "mixture", "-o", str(tmp_path / "o")]) == 0
    assert "beyond full scale were clipped" in capsys.readouterr().err
    assert main(["separate", str(loud), "-m", "mixture", "-o", str(tmp_path / "f"), "--bit-depth", "32"]) == 0
    assert "clipped" not in capsys.readouterr().err


def test_check_data_reports_nan_samples_and_a_mixture_that_is_not_the_sum(tmp_path, capsys):
    root = make_musdb_hq(tmp_path / "hq", {"train": ["nan", "off", "fine"]}, seconds=1.0)
    vocals, rate = read_audio(root / "train" / "nan" / "vocals.wav")
    vocals[0, 4410] = np.nan
    write_audio(root / "train" / "nan" / "vocals.wav", vocals, rate, bit_depth=32)
    mixture, _ = read_audio(root / "train" / "off" / "mixture.wav")
    write_audio(root / "train" / "off" / "mixture.wav", 0.5 * mixture, rate, bit_depth=32)
    assert main(["check-data", str(root), "--json"]) == 1
    problems = {t["name"]: t["problems"] for t in json.loads(capsys.readouterr().out)["tracks"]}
    assert problems["fine"] == []
    assert problems["nan"] == ["vocals holds 1 NaN or infinite sample(s), the first at 0.100 s"]
    assert len(problems["off"]) == 1 and "the mixture is not the sum of its stems" in problems["off"][0]
    assert main(["check-data", str(root), "--headers-only"]) == 0  # the headers are fine
