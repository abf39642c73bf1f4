"""Several datasets and the augmentations of TrainingSegments (docs/data.md)."""

import numpy as np
import pytest
import torch

from helpers import make_musdb_hq
from lightsep.audio import write_audio
from lightsep.config import ConfigError, load_config
from lightsep.data import AudioCache, TrainingSegments, list_tracks
from lightsep.data.sampler import Augmentation, change_speed, random_eq
from lightsep.training import dataset_splits


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    root = make_musdb_hq(tmp_path_factory.mktemp("aug") / "hq", {"train": ["a", "b", "c"]}, seconds=1.0)
    return list_tracks(root)


def segments(tracks, tmp_path, **kwargs):
    return TrainingSegments(tracks, ("vocals", "drums", "bass", "other"), 4096, sample_rate=22050, channels=2,
                            examples_per_epoch=16, seed=3, cache=AudioCache(tmp_path / "cache"), **kwargs)  # fmt: skip


def test_polarity_inverts_the_examples_the_paper_sampler_draws(tracks, tmp_path):
    plain = segments(tracks, tmp_path)
    inverted = segments(tracks, tmp_path, augmentation=Augmentation(polarity=1.0))
    for i in range(4):
        (m0, t0), (m1, t1) = plain[i], inverted[i]
        assert torch.equal(m1, -m0) and torch.equal(t1, -t0)


def test_every_augmentation_is_reproducible_and_keeps_the_mixture_the_sum(tracks, tmp_path):
    everything = Augmentation(remix=1.0, channel_swap=0.5, polarity=0.5, eq=1.0)
    data = segments(tracks, tmp_path, augmentation=everything)
    again = segments(tracks, tmp_path, augmentation=everything)
    plain = segments(tracks, tmp_path)
    for i in range(6):
        mixture, targets = data[i]
        assert torch.equal(mixture, again[i][0]) and torch.equal(targets, again[i][1])
        assert torch.allclose(mixture, targets.sum(0), atol=1e-5)
        assert not torch.equal(mixture, plain[i][0])


def test_an_eq_of_zero_db_changes_nothing_and_shelves_act_where_they_should():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 8192)).astype(np.float32)
    np.testing.assert_allclose(random_eq(audio, 22050, 0.0, 0.0), audio, atol=1e-5)
    boosted = random_eq(audio, 22050, 6.0, -6.0)
    spectrum = lambda x: np.abs(np.fft.rfft(x[0])) ** 2  # noqa: E731
    freqs = np.fft.rfftfreq(8192, 1 / 22050)
    ratio = spectrum(boosted) / spectrum(audio)
    assert abs(10 * np.log10(ratio[(freqs > 20) & (freqs < 100)].mean()) - 6) < 0.5
    assert abs(10 * np.log10(ratio[freqs > 8000].mean()) + 6) < 0.5
    assert abs(10 * np.log10(ratio[(freqs > 600) & (freqs < 1500)].mean())) < 0.5


def peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio[0] * np.hanning(audio.shape[-1])))
    return float(np.fft.rfftfreq(audio.shape[-1], 1 / rate)[spectrum.argmax()])


def test_change_speed_raises_pitch_by_its_factor_and_keeps_the_length():
    rate, length = 22050, 8192
    t = np.arange(16384) / rate
    tone = np.stack([np.sin(2 * np.pi * 441.0 * t)] * 2).astype(np.float32)
    for factor in (2 ** (-2 / 12), 1.0, 2 ** (2 / 12)):
        played = change_speed(tone, factor, length)
        assert played.shape == (2, length) and played.dtype == np.float32
        assert abs(peak_hz(played, rate) - 441.0 * factor) < 5.0
    with pytest.raises(ValueError, match="cannot make"):
        change_speed(tone[:, :8000], 1.0, 8192)


def test_resampling_moves_every_source_of_an_example_by_the_same_interval(tmp_path):
    """Two tones a fifth apart stay a fifth apart (the sources stay together), within the
    configured range, and the mixture is still the sum; with probability 0 nothing moves."""
    rate, seconds = 22050, 2.0
    t = np.arange(int(rate * seconds)) / rate
    folder = tmp_path / "hq" / "train" / "tones"
    tones = {"vocals": 660.0, "drums": 0.0, "bass": 0.0, "other": 440.0}
    for name, hz in tones.items():
        audio = 0.3 * np.sin(2 * np.pi * hz * t) if hz else np.zeros_like(t)
        write_audio(folder / f"{name}.wav", np.stack([audio] * 2).astype(np.float32), rate, bit_depth=32)
    write_audio(folder / "mixture.wav", np.zeros((2, t.size), np.float32), rate, bit_depth=32)
    tracks = list_tracks(tmp_path / "hq")
    moved = []
    for probability in (0.0, 1.0):
        data = segments(tracks, tmp_path, augmentation=Augmentation(resample=probability, resample_semitones=2.0))
        for i in range(8):
            mixture, targets = data[i]
            assert torch.allclose(mixture, targets.sum(0), atol=1e-5)
            vocals, other = peak_hz(targets[0].numpy(), rate), peak_hz(targets[3].numpy(), rate)
            assert abs(vocals / other - 1.5) < 0.03
            factor = other / 440.0
            assert 2 ** (-2 / 12) - 0.02 < factor < 2 ** (2 / 12) + 0.02
            if probability == 0.0:
                assert abs(factor - 1) < 0.02
            else:
                moved.append(abs(factor - 1) > 0.02)
    assert sum(moved) >= 4  # most draws move by more than the peak's resolution


def test_track_weights_choose_the_datasets(tracks, tmp_path):
    only_last = segments(tracks, tmp_path, track_weights=[0.0, 0.0, 1.0])
    counts = np.bincount([only_last._track(np.random.default_rng(i)) for i in range(50)], minlength=3)
    assert counts.tolist() == [0, 0, 50]
    halves = segments(tracks, tmp_path, track_weights=[1.0, 1.0, 2.0])
    counts = np.bincount([halves._track(np.random.default_rng(i)) for i in range(2000)], minlength=3)
    assert abs(counts[2] / 2000 - 0.5) < 0.05
    with pytest.raises(Exception, match="one non-negative number per track"):
        segments(tracks, tmp_path, track_weights=[1.0, 1.0])


def test_dataset_and_augmentation_settings_are_checked(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[model]\nname = "tiny"\n[[data.datasets]]\nname = "a"\nroot = "x"\n[[data.datasets]]\nname = "b"\nroot = "y"\n')
    loaded = load_config(config)
    assert [d.name for d in loaded.data.datasets] == ["a", "b"] and loaded.data.datasets[0].split == "paper"
    for setting, message in [("data.valid_dataset='c'", "is not one of data.datasets' names"),
                             ("data.augment.remix=1.5", "is a probability"),
                             ("data.root='z'", "not both"),
                             ("data.augment.eq_db=-1", "eq_db"),
                             ("data.augment.resample=2", "is a probability"),
                             ("data.augment.resample_semitones=0", "resample_semitones")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            load_config(config, [setting])
    config.write_text('[model]\nname = "tiny"\n[[data.datasets]]\nname = "a"\nroot = "x"\nsplit = "half"\n')
    with pytest.raises(ConfigError, match="split must be paper, musdb, train or valid"):
        load_config(config)
    config.write_text('[model]\nname = "tiny"\n[[data.datasets]]\nname = "a"\nroot = "x"\nmax_train_tracks = -1\n')
    with pytest.raises(ConfigError, match="max_train_tracks must be 0 or more"):
        load_config(config)


def test_max_train_tracks_takes_nested_subsets_and_leaves_validation_alone(tmp_path):
    names = [f"song{i:02d}" for i in range(12)]
    root = make_musdb_hq(tmp_path / "hq", {"train": names}, seconds=0.1)
    config = tmp_path / "c.toml"

    def splits(extra: str = ""):
        config.write_text(f'[model]\nname = "tiny"\n[[data.datasets]]\nname = "a"\nroot = "{root}"\n{extra}')
        return dataset_splits(load_config(config))[0]

    full = splits()
    assert len(full[2]) == 9 and len(full[3]) == 3  # the paper's 75 / 25
    chosen = {}
    for count in (2, 5, 9, 20):
        _, _, train, valid = splits(f"max_train_tracks = {count}\n")
        assert [t.name for t in valid] == [t.name for t in full[3]]
        chosen[count] = [t.name for t in train]
        assert chosen[count] == sorted(chosen[count]) and len(chosen[count]) == min(count, 9)
    assert set(chosen[2]) < set(chosen[5]) < set(chosen[9]) == {t.name for t in full[2]}
    assert chosen[5] != [t.name for t in full[2]][:5]  # a shuffle, not the first names
