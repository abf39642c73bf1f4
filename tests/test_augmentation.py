"""Several datasets and the augmentations of TrainingSegments (docs/data.md)."""

import numpy as np
import pytest
import torch

from helpers import make_musdb_hq
from lightsep.config import ConfigError, load_config
from lightsep.data import AudioCache, TrainingSegments, list_tracks
from lightsep.data.sampler import Augmentation, random_eq


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
                             ("data.augment.eq_db=-1", "eq_db")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            load_config(config, [setting])
    config.write_text('[model]\nname = "tiny"\n[[data.datasets]]\nname = "a"\nroot = "x"\nsplit = "half"\n')
    with pytest.raises(ConfigError, match="split must be paper, musdb, train or valid"):
        load_config(config)
