"""Instrumental datasets (music without vocals): their layout, and training examples that
pair them with other tracks' vocals."""

import numpy as np
import pytest

from lightsep.data import AudioCache, DatasetError, TrainingSegments, detect_layout, list_tracks

from helpers import make_instrumental, make_musdb_hq


@pytest.fixture
def cache(tmp_path):
    return AudioCache(tmp_path / "cache")


def test_layout(tmp_path, cache):
    root = make_instrumental(tmp_path / "games", ["b", "a"], seconds=1.0)
    (root / "train" / "notes.txt").write_text("not audio")
    (root / "train" / ".hidden.wav").write_bytes(b"")
    assert detect_layout(root) == "instrumental"
    tracks = list_tracks(root)
    assert [t.name for t in tracks] == ["a", "b"] and tracks[0].sources == ("accompaniment",)
    audio = tracks[0].load(22050, 2, cache)
    assert set(audio) == {"accompaniment"} and audio["accompaniment"].shape == (2, 22050)


def segments(tracks, targets, cache, weights=None):
    return TrainingSegments(tracks, targets, context_samples=4096, sample_rate=22050, channels=2, cache=cache,
                            examples_per_epoch=64, seed=3, track_weights=weights)  # fmt: skip


def gain_of(scaled: np.ndarray, original: np.ndarray) -> bool:
    """Whether ``scaled`` is ``original`` times one gain in the sampler's [0.7, 1]."""
    ratio = scaled[:, :8] / original[:, :8]
    if not (0.7 - 1e-4 <= ratio.min() and ratio.max() <= 1.0 + 1e-4 and np.ptp(ratio) < 1e-4):
        return False
    return bool(np.allclose(scaled, ratio.mean() * original, atol=1e-5))


def test_instrumental_tracks_are_paired_with_other_tracks_vocals(tmp_path, cache):
    vocal_tracks = list_tracks(make_musdb_hq(tmp_path / "hq", {"train": ["x", "y"]}, seconds=1.0))
    instrumental = list_tracks(make_instrumental(tmp_path / "games", ["g"], seconds=1.0))
    # (almost) all the weight on the instrumental track: every example is a pairing
    data = segments(vocal_tracks + instrumental, ("vocals", "accompaniment"), cache, weights=[1e-9, 1e-9, 1.0])
    game = instrumental[0].load(22050, 2, cache)["accompaniment"]
    for index in range(6):
        mixture, targets = data[index]
        vocals, accompaniment = targets.numpy()
        assert np.abs(vocals).max() > 0.1  # a partner's vocals (the helper's vocal stems are at 0.4)
        assert np.allclose(mixture.numpy(), vocals + accompaniment, atol=1e-6)
        # the accompaniment is a window of the game track's audio, scaled by one gain
        assert any(gain_of(accompaniment, game[:, start : start + 4096]) for start in range(game.shape[1] - 4096 + 1))
    first, again = data[4], data[4]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, again))  # deterministic


def test_tracks_with_vocals_see_the_same_examples_with_instrumental_data_beside_them(tmp_path, cache):
    vocal_tracks = list_tracks(make_musdb_hq(tmp_path / "hq", {"train": ["x"]}, seconds=1.0))
    instrumental = list_tracks(make_instrumental(tmp_path / "games", ["g"], seconds=1.0))
    alone = segments(vocal_tracks, ("vocals", "accompaniment"), cache, weights=[1.0])
    beside = segments(vocal_tracks + instrumental, ("vocals", "accompaniment"), cache, weights=[1.0, 0.0])
    for index in range(4):
        assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(alone[index], beside[index]))


def test_what_instrumental_tracks_cannot_train(tmp_path, cache):
    vocal_tracks = list_tracks(make_musdb_hq(tmp_path / "hq", {"train": ["x"]}, seconds=1.0))
    instrumental = list_tracks(make_instrumental(tmp_path / "games", ["g"], seconds=1.0))
    with pytest.raises(DatasetError, match="cannot give the target"):
        segments(vocal_tracks + instrumental, ("vocals", "drums", "bass", "other"), cache)
    with pytest.raises(DatasetError, match="add a dataset with vocals"):
        segments(instrumental, ("vocals", "accompaniment"), cache)
    with pytest.raises(DatasetError, match="weight 0"):
        segments(vocal_tracks + instrumental, ("vocals", "accompaniment"), cache, weights=[0.0, 1.0])


def test_check_data_reads_an_instrumental_dataset(tmp_path, capsys):
    import json

    from lightsep.cli import main

    root = make_instrumental(tmp_path / "games", ["a", "b"], seconds=1.5)
    assert main(["check-data", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == "instrumental"
    assert [(t["name"], t["duration_s"], t["problems"]) for t in report["tracks"]] == [("a", 1.5, []), ("b", 1.5, [])]
