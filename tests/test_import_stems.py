import subprocess
from pathlib import Path

import numpy as np
import pytest

from lightsep.audio import read_audio, write_audio
from lightsep.cli import main
from lightsep.data.importer import stem_by_name


@pytest.mark.parametrize(
    "name, stem",
    [
        ("Song_Stem_VOX LEAD.m4a", "vocals"),
        ("2.Lithium_Stem_BGVOX 1.m4a", "vocals"),
        ("choir.wav", "vocals"),
        ("Lead.wav", "vocals"),
        ("LEAD SYNTH.wav", "other"),
        ("Song_Stem_MAIN DRUMS.m4a", "drums"),
        ("Song_Stem_HH GLITCH.m4a", "drums"),
        ("Song_Stem_K & SN.m4a", "drums"),
        ("Song_Stem_BUILD PRC.m4a", "drums"),
        ("Bass Drum.wav", "drums"),
        ("Song_Stem_SUB BASS.m4a", "bass"),
        ("Song_Stem_PAD + BASS_mobile.m4a", "bass"),
        ("808.wav", "bass"),
        ("Song_Stem_MELODY BREAK.m4a", "other"),
        ("Song_Stem_BREAK.m4a", "drums"),
        ("Song_Stem_MINILOGUE_SYNTH_mobile.m4a", "other"),
        ("Song_Stem_SWEEPS.m4a", "other"),
        ("6.Caesium_Master_mobile.m4a", "skip"),
    ],
)
def test_names_go_to_the_stem_a_listener_would_choose(name, stem):
    assert stem_by_name(Path(name))[0] == stem


def tone(seconds, rate, freq, channels=1, level=0.1):
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None].repeat(channels, axis=0)


@pytest.fixture
def session(tmp_path):
    """A song's stems as a studio exports them: mixed formats, rates, channels and lengths."""
    folder = tmp_path / "sessions" / "My Song"
    write_audio(folder / "My Song_Stem_VOX LEAD.wav", tone(1.0, 22050, 440), 22050, bit_depth=32)
    write_audio(folder / "My Song_Stem_BGVOX.flac", tone(0.8, 48000, 660, 2), 48000, bit_depth=24)
    write_audio(folder / "My Song_Stem_KICK.wav", tone(1.2, 44100, 60, 2), 44100, bit_depth=32)
    write_audio(folder / "My Song_Stem_SUB BASS.wav", tone(1.0, 44100, 55), 44100, bit_depth=32)
    write_audio(folder / "My Song_Stem_PAD.wav", tone(1.0, 44100, 330, 2), 44100, bit_depth=32)
    write_audio(folder / "My Song_Stem_PAD_mobile.wav", tone(1.0, 44100, 330, 2, level=0.5), 44100)  # a copy
    write_audio(folder / "My Song_Master.wav", tone(1.0, 44100, 100, 2, level=0.5), 44100)  # the mix
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "My Song_Stem_PAD.wav"), "-c:a", "aac",
                    str(folder / "My Song_Stem_SWEEP.m4a")], check=True)  # fmt: skip
    return folder


def expected(path, rate=44100):
    audio, _ = read_audio(path, rate, 2)
    return audio


def test_dry_run_says_where_every_file_goes_and_writes_nothing(session, tmp_path, capsys):
    assert main(["import-stems", str(session), str(tmp_path / "hq"), "--dry-run"]) == 0
    lines = {line.split()[-1].rstrip(")"): line for line in capsys.readouterr().out.splitlines()[1:]}
    out = "\n".join(lines.values())
    assert "vocals    My Song_Stem_VOX LEAD.wav  (name word 'vox')" in out
    assert "duplicate My Song_Stem_PAD_mobile.wav  (a copy of My Song_Stem_PAD.wav (other))" in out
    assert "skip      My Song_Master.wav" in out and "drums     My Song_Stem_KICK.wav" in out
    assert len(out.splitlines()) == 8
    assert not (tmp_path / "hq").exists()


def test_a_session_becomes_a_musdb18hq_track_whose_mixture_is_the_exact_sum(session, tmp_path, capsys):
    root = tmp_path / "hq"
    assert main(["import-stems", str(session), str(root)]) == 0
    track = root / "train" / "My Song"
    stems = {}
    for name in ("vocals", "drums", "bass", "other", "mixture"):
        data, rate = read_audio(track / f"{name}.wav")
        assert rate == 44100 and data.shape == (2, int(1.2 * 44100))  # the longest file
        stems[name] = np.rint(data * 32768).astype(np.int32)
    assert np.array_equal(stems["mixture"], stems["vocals"] + stems["drums"] + stems["bass"] + stems["other"])
    vocals = expected(session / "My Song_Stem_VOX LEAD.wav")
    bgvox = expected(session / "My Song_Stem_BGVOX.flac")
    reference = np.zeros((2, stems["vocals"].shape[1]))
    reference[:, : vocals.shape[1]] += vocals
    reference[:, : bgvox.shape[1]] += bgvox
    assert np.abs(stems["vocals"] / 32768 - reference).max() < 1e-3
    pad = expected(session / "My Song_Stem_PAD.wav")  # the full copy, not the _mobile one at +14 dB
    other = stems["other"][:, : pad.shape[1]] / 32768
    assert np.abs(other).max() < 2.5 * np.abs(pad).max()
    assert main(["check-data", str(root)]) == 0


def test_rules_override_the_names(session, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[files]\n"My Song_Stem_BGVOX.flac" = "skip"\n[patterns]\n"*sweep*" = "drums"\n')
    root = tmp_path / "hq"
    assert main(["import-stems", str(session), str(root), "--rules", str(rules)]) == 0
    vocals, _ = read_audio(root / "train" / "My Song" / "vocals.wav")
    assert np.abs(vocals - np.pad(expected(session / "My Song_Stem_VOX LEAD.wav"), ((0, 0), (0, 8820)))).max() < 1e-3
    drums, _ = read_audio(root / "train" / "My Song" / "drums.wav")
    kick = expected(session / "My Song_Stem_KICK.wav")
    assert np.abs(drums - kick).max() > 0.01  # the sweep joined the kick


def test_bad_rules_clipping_unreadable_files_and_existing_tracks(session, tmp_path, capsys):
    root = tmp_path / "hq"
    rules = tmp_path / "rules.toml"
    rules.write_text('[files]\n"x.wav" = "guitar"\n')
    assert main(["import-stems", str(session), str(root), "--rules", str(rules)]) == 2
    assert "a stem is one of vocals, drums, bass, other or skip" in capsys.readouterr().err
    assert main(["import-stems", str(session), str(root), "--gain", "20"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would clip" in err[0] and "--gain" in err[0]
    assert not root.exists()
    (session / "My Song_Stem_BROKEN.wav").write_bytes(b"RIFF not really")
    assert main(["import-stems", str(session), str(root)]) == 2
    assert "My Song_Stem_BROKEN.wav" in capsys.readouterr().err and not root.exists()
    (session / "My Song_Stem_BROKEN.wav").unlink()
    assert main(["import-stems", str(session), str(root)]) == 0
    before = (root / "train" / "My Song" / "mixture.wav").read_bytes()
    assert main(["import-stems", str(session), str(root)]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert (root / "train" / "My Song" / "mixture.wav").read_bytes() == before


def test_an_unreadable_full_copy_falls_back_to_the_mobile_one(session, tmp_path, capsys):
    (session / "My Song_Stem_PAD.wav").write_bytes(b"missing in this snapshot")
    assert main(["import-stems", str(session), str(tmp_path / "hq")]) == 0
    assert "used My Song_Stem_PAD_mobile.wav instead" in capsys.readouterr().err


def test_each_imports_every_song_and_warns_of_an_empty_stem(tmp_path, capsys):
    for song in ("a", "b"):
        write_audio(tmp_path / "songs" / song / "vocal.wav", tone(0.5, 44100, 300), 44100)
        write_audio(tmp_path / "songs" / song / "drums.wav", tone(0.5, 44100, 80), 44100)
    assert main(["import-stems", str(tmp_path / "songs"), str(tmp_path / "hq"), "--each", "--subset", "test"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("no file went to bass: bass.wav is silent") == 2
    assert sorted(p.name for p in (tmp_path / "hq" / "test").iterdir()) == ["a", "b"]
    assert main(["import-stems", str(tmp_path / "songs" / "a"), str(tmp_path / "x"), "--each"]) == 2


def test_the_fetch_script_imports_everything_is_remixed_and_holds_the_demo_song_out(tmp_path):
    # scripts/get_real_music.py runs `python -m lightsep import-stems` with its own Python,
    # as on a fresh machine where .venv/bin is not on PATH
    from helpers import load_script

    fetch = load_script("scripts/get_real_music.py")
    clone = tmp_path / "everythingisremixed"
    for song in ("1.Hydrogen", fetch.DEMO_SONG):
        write_audio(clone / "src" / song / f"{song}_Stem_VOX LEAD_mobile.wav", tone(0.5, 22050, 440, 2), 22050)
        write_audio(clone / "src" / song / f"{song}_Stem_KICK_mobile.wav", tone(0.5, 22050, 60, 2), 22050)
    fetch.everything_is_remixed(tmp_path / "data", clone)
    dataset = tmp_path / "data" / "everythingisremixed"
    assert sorted(p.name for p in (dataset / "train").iterdir()) == ["1.Hydrogen"]
    assert sorted(p.name for p in (dataset / "test").iterdir()) == [fetch.DEMO_SONG]
    vocals, _ = read_audio(dataset / "train" / "1.Hydrogen" / "vocals.wav", 22050, 2)
    assert np.allclose(vocals, tone(0.5, 22050, 440, 2) * 10 ** (-6 / 20), atol=1e-3)  # --gain -6
    fetch.everything_is_remixed(tmp_path / "data", clone)  # a rerun finds it done


def test_the_fetch_script_reads_a_git_folder_without_a_work_tree(tmp_path, capsys):
    # the search tool's fetch gives a mirror (no work tree) in which large files may be
    # absent; their _mobile copies stand in for them
    import os
    import shutil

    from helpers import load_script

    fetch = load_script("scripts/get_real_music.py")
    work = tmp_path / "work"
    names = []
    for stem, frequency in (("VOX LEAD", 440), ("KICK", 60)):
        for suffix in ("", "_mobile"):
            names.append(f"{fetch.DEMO_SONG}_Stem_{stem}{suffix}.wav")
            write_audio(work / "src" / fetch.DEMO_SONG / names[-1], tone(0.5, 22050, frequency + len(suffix), 2), 22050)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["init", "-q"], ["add", "src"], ["commit", "-q", "-m", "stems"]):
        subprocess.run(["git", "-C", str(work), *command], check=True, env=env)
    mirror = tmp_path / "mirror.git"  # a push this small arrives as loose objects, so one can be taken out
    subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", str(mirror), "HEAD:refs/heads/main"], check=True)
    subprocess.run(["git", "-C", str(mirror), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    big = f"{fetch.DEMO_SONG}_Stem_VOX LEAD.wav"
    object_id = subprocess.run(["git", "-C", str(mirror), "rev-parse", f"HEAD:src/{fetch.DEMO_SONG}/{big}"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (mirror / "objects" / object_id[:2] / object_id[2:]).unlink()
    stems = fetch.stems_folder(mirror)
    try:
        assert sorted(p.name for p in (stems / fetch.DEMO_SONG).iterdir()) == sorted(n for n in names if n != big)
        audio, _ = read_audio(stems / fetch.DEMO_SONG / f"{fetch.DEMO_SONG}_Stem_KICK.wav", 22050, 2)
        assert np.allclose(audio, tone(0.5, 22050, 60, 2), atol=1e-4)
        err = capsys.readouterr().err
        assert "3 files from" in err and "1 absent" in err
    finally:
        shutil.rmtree(stems.parent)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="neither a clone"):
        fetch.stems_folder(tmp_path / "empty")


def test_python_dash_m_lightsep_is_the_command():
    import sys

    result = subprocess.run([sys.executable, "-m", "lightsep", "separate", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: lightsep separate" in result.stdout
