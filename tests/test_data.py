import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lightsep.data import (
    AudioCache,
    DatasetError,
    StemRef,
    Track,
    TrainingSegments,
    ValidationSegments,
    detect_layout,
    list_tracks,
    make_targets,
    split_tracks,
)
from lightsep.data import cache as cache_module
from lightsep.data.splits import musdb_validation_names

from helpers import STEM_LEVELS, make_ccmixter, make_musdb_hq, make_musdb_stem_mp4


@pytest.fixture
def cache(tmp_path):
    return AudioCache(tmp_path / "cache")


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_musdb18hq_tree(tmp_path, cache):
    root = make_musdb_hq(tmp_path / "hq", {"train": ["a", "b"], "test": ["c"]}, seconds=1.5)
    assert detect_layout(root) == "musdb18hq"
    tracks = list_tracks(root)
    assert [(t.subset, t.name) for t in tracks] == [("train", "a"), ("train", "b"), ("test", "c")]
    audio = tracks[0].load(22050, 1, cache, mixture=True)
    assert set(audio) == {"drums", "bass", "other", "vocals", "mixture"}
    assert all(a.shape == (1, int(1.5 * 22050)) for a in audio.values())
    levels = [rms(audio[n]) for n in ("drums", "bass", "other", "vocals")]
    assert levels == sorted(levels)  # each stem read from its own file


def test_ccmixter_tree(tmp_path, cache):
    root = make_ccmixter(tmp_path / "cc", ["song1", "song2"], seconds=1.0)
    assert detect_layout(root) == "ccmixter"
    tracks = list_tracks(root)
    assert [t.name for t in tracks] == ["song1", "song2"] and tracks[0].sources == ("accompaniment", "vocals")
    audio = tracks[0].load(22050, 1, cache, mixture=True)
    assert rms(audio["vocals"]) > rms(audio["accompaniment"])  # source-02 is the voice
    targets = make_targets(audio, ["vocals", "accompaniment"])
    assert targets.shape == (2, 1, 22050)
    with pytest.raises(DatasetError, match="drums"):
        make_targets(audio, ["drums"])


def test_musdb18_stem_mp4_tree(tmp_path, cache):
    root = make_musdb_stem_mp4(tmp_path / "musdb", {"train": ["x"], "test": ["y"]}, seconds=1.0)
    assert detect_layout(root) == "musdb18"
    tracks = list_tracks(root)
    assert [(t.subset, t.name) for t in tracks] == [("train", "x"), ("test", "y")]
    assert tracks[0].stems["vocals"] == StemRef(root / "train" / "x.stem.mp4", 4)
    audio = tracks[0].load(44100, 2, cache, mixture=True)
    lengths = {a.shape[-1] for a in audio.values()}
    assert len(lengths) == 1 and abs(lengths.pop() - 44100) <= 2048  # AAC frames
    levels = [rms(audio[n]) for n in ("drums", "bass", "other", "vocals")]
    assert levels == sorted(levels)
    assert rms(audio["mixture"]) > rms(audio["vocals"])


def test_unknown_layouts(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        detect_layout(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a known dataset layout"):
        detect_layout(tmp_path / "empty")


def test_targets():
    sources = {n: np.full((1, 4), level, np.float32) for n, level in STEM_LEVELS.items()}
    two = make_targets(sources, ["vocals", "accompaniment"])
    assert np.allclose(two[0], 0.4) and np.allclose(two[1], 0.1 + 0.2 + 0.3)
    four = make_targets(sources, ["vocals", "drums", "bass", "other"])
    assert np.allclose(four.sum(0), 1.0)


def fake_tracks(n, subset="train"):
    return [Track(f"track {i:03d}", subset, "musdb18hq") for i in range(n)]


def test_paper_split_is_75_25_and_fixed():
    tracks = fake_tracks(100) + fake_tracks(50, "test")
    split = split_tracks(tracks)
    assert (len(split["train"]), len(split["valid"]), len(split["test"])) == (75, 25, 50)
    again = split_tracks(list(reversed(tracks)))
    assert [t.name for t in again["valid"]] == [t.name for t in split["valid"]]
    other_seed = split_tracks(tracks, seed=1)
    assert [t.name for t in other_seed["valid"]] != [t.name for t in split["valid"]]


def test_musdb_official_validation_split():
    names = musdb_validation_names()
    assert len(names) == 14
    tracks = [Track(n, "train", "musdb18hq") for n in names] + fake_tracks(86)
    split = split_tracks(tracks, "musdb")
    assert len(split["valid"]) == 14 and len(split["train"]) == 86


def test_cache_decodes_once_and_follows_file_changes(tmp_path, monkeypatch):
    root = make_musdb_hq(tmp_path / "hq", {"train": ["a"]}, seconds=0.5)
    cache = AudioCache(tmp_path / "cache")
    import lightsep.audio

    calls = []
    real = lightsep.audio.read_audio
    monkeypatch.setattr(lightsep.audio, "read_audio", lambda *a, **k: calls.append(a) or real(*a, **k))
    path = root / "train" / "a" / "vocals.wav"
    first = cache.load(path, 22050, 1)
    second = cache.load(path, 22050, 1)
    assert len(calls) == 1 and np.array_equal(first, second)
    assert isinstance(second, np.memmap)
    cache.load(path, 16000, 1)  # another rate is another entry
    assert len(calls) == 2
    import os

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    cache.load(path, 22050, 1)
    assert len(calls) == 3


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LIGHTSEP_CACHE", str(tmp_path / "here"))
    assert cache_module.default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("LIGHTSEP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_module.default_cache_dir() == tmp_path / "xdg" / "lightsep"


@pytest.fixture
def hq_tracks(tmp_path):
    root = make_musdb_hq(tmp_path / "hq", {"train": ["a", "b", "c"]}, seconds=1.0)
    return list_tracks(root)


def test_training_segments_are_augmented_sums(hq_tracks, cache):
    data = TrainingSegments(hq_tracks, ["vocals", "drums", "bass", "other"], 4096, examples_per_epoch=20, seed=3, cache=cache)
    raw = [t.load(22050, 1, cache) for t in hq_tracks]
    for i in range(len(data)):
        mixture, targets = data[i]
        assert mixture.shape == (1, 4096) and targets.shape == (4, 1, 4096)
        torch.testing.assert_close(targets.sum(0), mixture)  # the mixture is rebuilt from the sources
        # each source is scaled by a gain in [0.7, 1.0]: its RMS against the raw stem's RMS
        for k, name in enumerate(["vocals", "drums", "bass", "other"]):
            ratio = rms(targets[k].numpy()) / rms(raw[0][name])
            assert 0.7 * 0.85 < ratio < 1.0 * 1.15  # the stems' RMS varies a little along the track


def test_training_segments_are_deterministic_and_worker_independent(hq_tracks, cache):
    def batches(workers, epoch=0, seed=0):
        data = TrainingSegments(hq_tracks, ["vocals", "accompaniment"], 2048, examples_per_epoch=12, seed=seed, cache=cache)
        data.set_epoch(epoch)
        loader = DataLoader(data, batch_size=4, num_workers=workers)
        return [torch.cat([m.flatten(), t.flatten()]) for m, t in loader]

    single = batches(0)
    assert all(torch.equal(a, b) for a, b in zip(single, batches(2)))
    assert not torch.equal(single[0], batches(0, epoch=1)[0])
    assert not torch.equal(single[0], batches(0, seed=1)[0])


def test_training_segments_with_context_crop_the_targets(hq_tracks, cache):
    data = TrainingSegments(hq_tracks, ["vocals", "accompaniment"], 4096, 1024, examples_per_epoch=4, cache=cache)
    mixture, targets = data[0]
    assert mixture.shape == (1, 4096) and targets.shape == (2, 1, 1024)
    torch.testing.assert_close(targets.sum(0), mixture[:, 1536:2560])


def test_validation_covers_whole_tracks(hq_tracks, cache):
    data = ValidationSegments(hq_tracks, ["vocals", "accompaniment"], 4096, cache=cache)
    total = sum(int(data[i][2].sum()) for i in range(len(data)))
    assert total == 3 * 22050
    # the segments of one track tile it: concatenated targets equal the track's sources
    raw = hq_tracks[0].load(22050, 1, cache)
    pieces = [data[i][1] for i, (k, _) in enumerate(data.index) if k == 0]
    vocals = torch.cat([p[0, 0] for p in pieces])[:22050]
    assert np.allclose(vocals.numpy(), raw["vocals"][0])


def test_sampling_from_no_tracks_is_an_error(cache):
    with pytest.raises(DatasetError, match="no tracks"):
        TrainingSegments([], ["vocals"], 1024, cache=cache)
