import json
import warnings

import numpy as np
import pytest
import torch

from helpers import load_script
from lightsep import Separator
from lightsep.checkpoint import save_checkpoint
from lightsep.errors import CheckpointError
from lightsep.checkpoint import load_checkpoint
from lightsep.models.registry import SPECTRAL_TRAINING_GEOMETRY, build_model
from lightsep.pretrained import (
    PRETRAINED_DIR,
    bundle,
    bundled_models,
    manifest,
    pretrained_checkpoint,
)


@pytest.fixture
def tiny_bundle(tmp_path):
    model = build_model("tiny")
    checkpoint = save_checkpoint(model, tmp_path / "best.pt", {"step": 7})
    folder = tmp_path / "pretrained"
    path = bundle(checkpoint, {"training": {"steps": 7}}, folder)
    return folder, path, model


def test_bundle_writes_a_manifest_that_loading_verifies(tiny_bundle):
    folder, path, model = tiny_bundle
    info = json.loads(path.read_text())
    assert info["name"] == "tiny" and info["training"] == {"steps": 7}
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert bundled_models(folder) == ["tiny"] and manifest("tiny", folder) == info
    assert pretrained_checkpoint("tiny", folder) == folder / "tiny.pt"
    assert pretrained_checkpoint("proposed-4stem", folder) is None


def _bundle_script():
    return load_script("scripts/reproduce/bundle_pretrained.py")


def test_rebundling_converts_the_geometry_keeps_the_training_and_takes_new_scores(tmp_path):
    trained = build_model("spectral-2stem", **SPECTRAL_TRAINING_GEOMETRY)
    folder = tmp_path / "pretrained"
    old_scores = {"vocals": {"sisec18": 1.0, "pooled": 1.0}}
    bundle(save_checkpoint(trained, tmp_path / "best.pt"), {"training": {"steps": 3}, "test": {"sdr": old_scores}}, folder)
    # an evaluation of the converted weights: lightsep evaluate's summary and per-track files
    evaluation = tmp_path / "eval"
    (evaluation / "test").mkdir(parents=True)
    (evaluation / "test" / "Some - Song.json").write_text("{}")
    target = {"SDR": {"sisec18": {"median": 4.5}, "pooled": {"median": 4.25}}}
    summary = {"tracks": 1, "targets": {"vocals": target, "accompaniment": target}, "subset": "test"}
    (evaluation / "summary.json").write_text(json.dumps(summary))
    path = _bundle_script().rebundle("spectral-2stem", evaluation, None, folder)
    info = json.loads(path.read_text())
    assert info["training"] == {"steps": 3} and info["trained_geometry"] == SPECTRAL_TRAINING_GEOMETRY
    assert info["test"]["sdr"]["vocals"] == {"sisec18": 4.5, "pooled": 4.25} and info["test"]["track_names"] == ["Some - Song"]
    bundled = load_checkpoint(pretrained_checkpoint("spectral-2stem", folder))  # the manifest's sha256 holds
    assert bundled.config == build_model("spectral-2stem").config
    assert all(torch.equal(a, b) for a, b in zip(bundled.state_dict().values(), trained.state_dict().values()))


def _evaluation(folder, vocals=4.5):
    """A lightsep evaluate folder on one test clip."""
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "Some - Song.json").write_text("{}")
    target = {"SDR": {"sisec18": {"median": vocals}, "pooled": {"median": vocals}}}
    summary = {"tracks": 1, "targets": {"vocals": target, "accompaniment": target}, "subset": "test"}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_an_ensemble_is_bundled_with_each_members_training(tmp_path):
    from lightsep.errors import LightsepError
    from lightsep.models.spectral import ensemble_of

    folder = tmp_path / "pretrained"
    datasets = [{"name": "musdb18-7", "root": "data/musdb18-7", "weight": 2.0, "split": "paper", "licence": "x", "what": "y", "source": "z"}]
    dense = build_model("spectral-2stem", hidden=16)
    bundle(save_checkpoint(dense, tmp_path / "dense.pt"), {"data": {"datasets": datasets}, "training": {"steps": 3, "training_seconds": 10.0},
                                                           "hardware": {"cores": 2}}, folder)  # fmt: skip
    run = tmp_path / "runs" / "member"  # a finished run's files, as lightsep train writes them
    member = build_model("spectral-2stem", hidden=16, frequency_channels=[4, 8], time_kernel=3)
    run.mkdir(parents=True)
    save_checkpoint(member, run / "best.pt", {"data_root": "", "datasets": {"musdb18-7": [70, 23]}, "train_tracks": 70, "valid_tracks": 23,
                                              "step": 5, "phase": "main", "valid_loss": 0.1, "device": "cpu"})  # fmt: skip
    config = {"name": "spectral-2stem-member", "model": {}, "run": {"threads": 1},
              "data": {"datasets": [{k: datasets[0][k] for k in ("name", "root", "weight", "split")}], "gain_min": 0.7, "gain_max": 1.0},
              "training": {"seed": 0, "iterations_per_epoch": 200, "main": {}, "finetune": {}}}  # fmt: skip
    torch.save({"progress": {"step": 6, "seconds": 20.0, "finished": True}, "config": config}, run / "state.pt")
    joined = save_checkpoint(ensemble_of([dense, member], "spectral-2stem-ensemble"), tmp_path / "ensemble.pt")
    script = _bundle_script()
    info = script.ensemble_info(joined, ["spectral-2stem", str(run)], _evaluation(tmp_path / "eval"), folder=folder)
    assert [m.get("bundled") or m.get("run") for m in info["members"]] == ["spectral-2stem", str(run)]
    assert info["members"][1]["training"]["steps"] == 6 and info["members"][1]["training"]["config"] == "configs/spectral-2stem-member.toml"
    assert info["training"]["steps"] == 9 and info["training"]["training_seconds"] == 30.0
    assert info["data"]["datasets"] == datasets and info["data"]["test_tracks"] == 1 and info["test"]["sdr"]["vocals"]["sisec18"] == 4.5
    path = bundle(joined, info, folder)
    assert load_checkpoint(pretrained_checkpoint("spectral-2stem-ensemble", folder)).config["members"][1]["frequency_channels"] == [4, 8]
    assert json.loads(path.read_text())["members"][0]["training"] == {"steps": 3, "training_seconds": 10.0}
    with pytest.raises(LightsepError, match="has 2 members, but 1"):
        script.ensemble_info(joined, ["spectral-2stem"], tmp_path / "eval", folder=folder)
    with pytest.raises(LightsepError, match="neither a run folder nor a bundled model"):
        script.ensemble_info(joined, ["spectral-2stem", "nope"], tmp_path / "eval", folder=folder)


def test_a_full_band_model_is_bundled_with_its_base_models_training_and_its_gains(tmp_path):
    from lightsep.errors import LightsepError
    from lightsep.models.spectral import SpectralMaskNet, ensemble_of, full_band_of

    folder = tmp_path / "pretrained"
    small = dict(n_fft=256, hop=64, context_samples=2048, bands=32, full_resolution_bins=8)
    base = ensemble_of([SpectralMaskNet(hidden=16, **small), SpectralMaskNet(hidden=8, **small)], "spectral-2stem-ensemble")
    bundle(save_checkpoint(base, tmp_path / "base.pt"), {"data": {"datasets": []}, "training": {"steps": 3}, "hardware": {"cores": 2}}, folder)
    wide = full_band_of(base, high_bands=4, high_gain=4)
    wide.name = "spectral-2stem-fullband"
    gain = {"command": "experiments/high_band.py compact --save x.pt", "clips": 93, "hidden": 4, "steps": 9, "base": "spectral-2stem-ensemble"}
    carried = save_checkpoint(wide, tmp_path / "wide.pt", {"high_gain": gain})
    script = _bundle_script()
    info = script.carried_info(carried, _evaluation(tmp_path / "eval", vocals=5.5), folder=folder)
    assert info["carried_from"]["bundled"] == "spectral-2stem-ensemble"
    assert info["carried_from"]["sha256"] == json.loads((folder / "spectral-2stem-ensemble.json").read_text())["sha256"]
    assert info["training"] == {"steps": 3} and info["high_gain"]["clips"] == 93 and "research" in info["high_gain"]["licence"]
    assert info["test"]["sdr"]["vocals"]["sisec18"] == 5.5 and info["data"]["test_tracks"] == 1
    bundle(carried, info, folder)
    loaded = load_checkpoint(pretrained_checkpoint("spectral-2stem-fullband", folder))
    assert loaded.config["high_gain"] == 4
    with pytest.raises(LightsepError, match="no high_gain metadata"):
        script.carried_info(tmp_path / "base.pt", tmp_path / "eval", folder=folder)


def test_a_checkpoint_is_saved_as_it_will_be_bundled(tmp_path):
    from lightsep.pretrained import save_at_preset_geometry

    trained = build_model("spectral-2stem", **SPECTRAL_TRAINING_GEOMETRY)
    checkpoint = save_checkpoint(trained, tmp_path / "best.pt", {"step": 7})
    converted = load_checkpoint(save_at_preset_geometry(checkpoint, tmp_path / "separating.pt"))
    assert converted.config == build_model("spectral-2stem").config != trained.config
    assert converted.metadata == {"step": 7}
    assert all(torch.equal(a, b) for a, b in zip(converted.state_dict().values(), trained.state_dict().values()))
    # a network that differs from its preset in more than the geometry takes the preset's
    # geometry and keeps the rest of its configuration
    other = build_model("spectral-2stem", bands=512, full_resolution_bins=256, **SPECTRAL_TRAINING_GEOMETRY)
    converted = load_checkpoint(save_at_preset_geometry(save_checkpoint(other, tmp_path / "other.pt"), tmp_path / "o.pt"))
    preset = build_model("spectral-2stem").config
    assert converted.config == {**other.config, **{k: preset[k] for k in SPECTRAL_TRAINING_GEOMETRY}} != other.config
    assert all(torch.equal(a, b) for a, b in zip(converted.state_dict().values(), other.state_dict().values()))
    convolutional = build_model("spectral-2stem", frequency_channels=[4, 8], time_kernel=3, **SPECTRAL_TRAINING_GEOMETRY)
    converted = load_checkpoint(save_at_preset_geometry(save_checkpoint(convolutional, tmp_path / "c.pt"), tmp_path / "c2.pt"))
    assert converted.config["frequency_channels"] == [4, 8] and converted.context_samples == preset["context_samples"]
    # one whose network cannot take the preset's geometry (a hop that does not divide the
    # preset's context) is written as it is
    odd = build_model("spectral-2stem", hop=384, context_samples=32640, output_start=4224, output_samples=24192)
    assert load_checkpoint(save_at_preset_geometry(save_checkpoint(odd, tmp_path / "h.pt"), tmp_path / "h2.pt")).config == odd.config
    # one at the preset's geometry is written as it is
    wide = build_model("spectral-2stem", hidden=64)
    assert load_checkpoint(save_at_preset_geometry(save_checkpoint(wide, tmp_path / "w.pt"), tmp_path / "w2.pt")).config == wide.config


def test_a_changed_checkpoint_is_refused(tiny_bundle):
    folder, _, _ = tiny_bundle
    data = bytearray((folder / "tiny.pt").read_bytes())
    data[-100] ^= 0xFF
    (folder / "tiny.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its manifest"):
        pretrained_checkpoint("tiny", folder)
    (folder / "tiny.json").unlink()
    with pytest.raises(CheckpointError, match="without a manifest"):
        pretrained_checkpoint("tiny", folder)


def test_a_model_trained_on_shorter_segments_is_bundled_at_its_presets_geometry(tmp_path):
    trained = build_model("spectral-2stem", **SPECTRAL_TRAINING_GEOMETRY)
    checkpoint = save_checkpoint(trained, tmp_path / "best.pt", {"step": 3})
    path = bundle(checkpoint, {"training": {"steps": 3}}, tmp_path / "pretrained")
    bundled = load_checkpoint(tmp_path / "pretrained" / "spectral-2stem.pt")
    assert bundled.config == build_model("spectral-2stem").config != trained.config
    assert all(torch.equal(a, b) for a, b in zip(bundled.state_dict().values(), trained.state_dict().values()))
    info = json.loads(path.read_text())
    assert info["trained_geometry"] == SPECTRAL_TRAINING_GEOMETRY and info["training"] == {"steps": 3}
    assert info["parameters"] == sum(p.numel() for p in trained.parameters())


@pytest.mark.parametrize("name", bundled_models())
def test_every_bundled_model_verifies_and_documents_its_training(name):
    info = manifest(name)
    assert pretrained_checkpoint(name) == PRETRAINED_DIR / f"{name}.pt"
    for key in ("data", "training", "hardware", "test"):
        assert info[key], key
    assert info["training"]["steps"] > 0 and info["training"]["training_seconds"] > 0
    assert (PRETRAINED_DIR / f"{name}.pt").stat().st_size < 8_000_000
    for dataset in info["data"].get("datasets", []):  # every dataset says what it is and under which licence
        assert dataset["licence"] and dataset["what"] and dataset["source"], dataset["name"]


def test_the_bundled_models_are_the_separate_and_stream_commands_defaults():
    from lightsep.defaults import SEPARATE_MODEL, STREAM_MODEL, WEB_MODELS

    names = bundled_models()
    assert {"proposed-2stem", "proposed-4stem", "proposed-2stem-lowlatency", "spectral-2stem", "spectral-2stem-ensemble", "spectral-4stem"} <= set(names), names
    assert {SEPARATE_MODEL, STREAM_MODEL, *WEB_MODELS} <= set(names)
    # it beat spectral-2stem, which beat proposed-2stem, on validation (docs/models.md)
    assert Separator().name == SEPARATE_MODEL == "spectral-2stem-ensemble"
    assert Separator("proposed-2stem-lowlatency", batch_size=1).model.look_ahead == 768  # trained, not refused
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "random weights" warning: the bundled ones load
        assert Separator().sources == ("vocals", "accompaniment")
        assert Separator("proposed-4stem").sources == ("vocals", "drums", "bass", "other")
    assert np.isfinite(Separator().separate(np.zeros((2, 100), np.float32), 44100)["vocals"]).all()
