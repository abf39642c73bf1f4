import pickle

import pytest
import torch

from lightsep import CheckpointError, build_model, load_checkpoint, save_checkpoint
from lightsep.checkpoint import read_checkpoint


@pytest.mark.parametrize("name", ["tiny", "proposed-2stem", "ablation-c", "waveunet-m5"])
def test_round_trip_gives_identical_outputs(tmp_path, name):
    model = build_model(name)
    # move batch-norm statistics away from their defaults so that buffers matter too
    model.train()
    with torch.no_grad():
        model(torch.randn(2, model.audio_channels, model.context_samples) * 0.1)
    model.eval()
    path = save_checkpoint(model, tmp_path / "model.pt", metadata={"steps": 3})
    restored = load_checkpoint(path)
    assert type(restored) is type(model) and restored.name == name
    assert restored.metadata == {"steps": 3}
    x = torch.randn(1, model.audio_channels, model.context_samples) * 0.1
    with torch.no_grad():
        assert torch.equal(model(x), restored(x))


def test_checkpoint_is_plain_data_loadable_with_weights_only(tmp_path):
    path = save_checkpoint(build_model("tiny"), tmp_path / "tiny.pt")
    data = torch.load(path, weights_only=True)
    assert data["model_name"] == "tiny" and data["model_class"] == "LightSepNet"
    assert data["model_args"]["context_samples"] == 1024
    assert set(data) >= {"format", "version", "model_args", "state_dict", "metadata"}


def test_overrides_are_kept(tmp_path):
    model = build_model("tiny", attention=False)
    restored = load_checkpoint(save_checkpoint(model, tmp_path / "m.pt"))
    assert restored.config["attention"] is False and restored.heads[0].attention is None


def test_truncated_checkpoint_fails_clearly(tmp_path):
    path = save_checkpoint(build_model("tiny"), tmp_path / "tiny.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty file"),
        (b"this is not a checkpoint", "not a lightsep checkpoint .not a file torch.save wrote"),
        (b"PK\x03\x04 a zip archive cut short", "truncated or corrupt"),
        (b"\x80\x02 a pickle cut short", "truncated or corrupt|not a lightsep checkpoint"),
    ],
)
def test_garbage_fails_clearly(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="directory"):
        load_checkpoint(tmp_path)


class _Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_foreign_files_are_refused(tmp_path):
    plain = tmp_path / "state_dict.pt"
    torch.save(build_model("tiny").state_dict(), plain)
    with pytest.raises(CheckpointError, match="not a lightsep checkpoint"):
        load_checkpoint(plain)
    pickled = tmp_path / "pickled.pt"
    with open(pickled, "wb") as handle:
        torch.save({"format": "lightsep-checkpoint", "payload": _Evil()}, handle, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="objects other than plain data"):
        read_checkpoint(pickled)


def test_mismatched_weights_fail_clearly(tmp_path):
    path = save_checkpoint(build_model("tiny"), tmp_path / "tiny.pt")
    data = torch.load(path, weights_only=True)
    data["model_args"]["aspp_channels"] = 16
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = save_checkpoint(build_model("tiny"), tmp_path / "tiny.pt")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(build_model("tiny"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.pt"]
