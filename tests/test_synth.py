import hashlib
import json
import time

import numpy as np
import pytest

from lightsep.audio import read_audio
from lightsep.cli import main
from lightsep.data import list_tracks
from lightsep.errors import LightsepError
from lightsep.synth import Composer, make_corpus
from lightsep.synth.composer import INSTRUMENT_FAMILIES, chord_tones


def digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "c"
    start = time.perf_counter()
    report = make_corpus(root, songs=2, seconds=10, seed=5, jobs=2)
    return root, report, time.perf_counter() - start


def test_a_two_song_corpus_renders_in_seconds(corpus):
    root, report, wall = corpus
    assert report.songs_rendered == 2 and report.audio_seconds == 20
    assert wall < 60  # "in seconds": about 3 s on 2 cores
    tracks = list_tracks(root)
    assert {t.subset for t in tracks} == {"train", "test"}
    for track in tracks:
        assert set(track.stems) == {"mixture", "drums", "bass", "other", "vocals"}
        audio, rate = read_audio(track.stems["mixture"].path)
        assert rate == 44100 and audio.shape == (2, 441000)


def test_stems_sum_to_the_mixture(corpus):
    root, _, _ = corpus
    for track in list_tracks(root):
        stems = {n: read_audio(ref.path)[0] for n, ref in track.stems.items()}
        total = stems["drums"] + stems["bass"] + stems["other"] + stems["vocals"]
        assert np.abs(total - stems["mixture"]).max() <= 1e-4
        assert all(np.abs(stems[n]).max() > 0.01 for n in ("drums", "bass", "other", "vocals"))


def test_same_seed_same_bytes(corpus, tmp_path):
    root, _, _ = corpus
    again = tmp_path / "again"
    make_corpus(again, songs=2, seconds=10, seed=5, jobs=1)
    assert digest(again) == digest(root)


def test_manifest_records_the_split_and_the_songs(corpus):
    root, _, _ = corpus
    manifest = json.loads((root / "lightsep-corpus.json").read_text())
    assert manifest["parameters"]["seed"] == 5 and manifest["complete"]
    subsets = {t["name"]: t["subset"] for t in manifest["tracks"]}
    assert subsets == {t.name: t.subset for t in list_tracks(root)}
    for entry in manifest["tracks"]:
        assert -10 <= entry["vocal_to_accompaniment_db"] <= 0
        assert set(entry["instruments"]) == {"drums", "bass", "other", "vocals"}


def test_an_interrupted_corpus_resumes_and_other_parameters_are_refused(tmp_path):
    root = tmp_path / "c"
    make_corpus(root, songs=2, seconds=3, seed=1, jobs=1)
    reference = digest(root)
    song = next((root / "train").iterdir())
    for f in song.iterdir():
        f.unlink()
    song.rmdir()
    report = make_corpus(root, songs=2, seconds=3, seed=1, jobs=1)
    assert (report.songs_rendered, report.songs_skipped) == (1, 1)
    assert digest(root) == reference
    with pytest.raises(LightsepError, match="other parameters"):
        make_corpus(root, songs=2, seconds=3, seed=2)


def test_synth_cli_reports_its_speed(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "c"), "--songs", "1", "--seconds", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "wrote 1 song(s)" in out and "s of audio per second" in out


def test_synth_cli_bad_input(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    assert main(["synth", str(tmp_path / "full"), "--songs", "1", "--seconds", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lightsep: error:") and "not empty" in err
    assert (tmp_path / "full" / "x.txt").read_text() == "mine"
    assert main(["synth", str(tmp_path / "x"), "--seconds", "0.1"]) == 2
    assert "--seconds must be between" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own one-line usage error
        main(["synth", str(tmp_path / "x"), "--songs", "0"])
    assert exit_info.value.code == 2
    assert "--songs: must be at least 1" in capsys.readouterr().err


# --- the composition --------------------------------------------------------------------


def test_composition_is_musical_and_deterministic():
    songs = [Composer(seed).compose(60) for seed in range(12)]
    assert Composer(3).compose(60).describe() == songs[3].describe()
    assert len({(s.key, s.mode) for s in songs}) > 4 and len({round(s.tempo) for s in songs}) > 6
    for song in songs:
        kinds = [s.kind for s in song.sections]
        assert len(set(kinds)) >= 2
        drums = song.stems["drums"][0]
        assert drums.channel == 9 and {36, 38}.issubset({n.pitch for n in drums.notes} | {38})
        # the bass plays the chord root on each bar's downbeat
        bass = song.stems["bass"][0]
        for note in bass.notes:
            if abs(note.start % 4.0) < 1e-9:
                bar = int(note.start // 4)
                section = next(s for s in song.sections if s.start_bar <= bar < s.start_bar + s.bars)
                root = chord_tones(song.key, song.mode, section.chords[bar - section.start_bar])[0]
                assert note.pitch % 12 == root
        # "other" draws on two or three instrument families
        others = song.stems["other"]
        families = {f for p in others for f, programs in INSTRUMENT_FAMILIES.items() if p.program in programs}
        assert 2 <= len(families) == len(others) <= 3
        # the voice: a voice patch, phrases with rests, vibrato and scoops as pitch bends
        voice = song.stems["vocals"][0]
        assert voice.program in (52, 53, 54, 85) and voice.notes and voice.bends
        gaps = [b.start - (a.start + a.duration) for a, b in zip(voice.notes, voice.notes[1:])]
        assert max(gaps) >= 1.0
        assert min(b.value for b in voice.bends) < -500 and max(b.value for b in voice.bends) > 500
