import numpy as np
import onnxruntime as ort
import pytest
import torch

from lightsep.cli import main
from lightsep.export import export_onnx
from lightsep.models import build_model
from lightsep.separator import Separator


@pytest.mark.parametrize("name", ["tiny", "proposed-2stem", "proposed-4stem", "ablation-c"])
def test_onnx_equals_torch(name, tmp_path):
    model = build_model(name).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):  # a dynamic batch
        x = 0.1 * torch.randn(batch, 1, model.context_samples)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"mixture": x.numpy()})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4


def test_int8_export_runs_and_stays_close(tmp_path):
    model = build_model("proposed-2stem").eval()
    path = export_onnx(model, tmp_path / "q.onnx", int8=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = 0.1 * torch.randn(1, 1, model.context_samples)
    with torch.no_grad():
        expected = model(x).numpy()
    got = session.run(None, {"mixture": x.numpy()})[0]
    assert got.shape == expected.shape and np.isfinite(got).all()
    # quantised weights change the output, but not beyond a fraction of its level
    assert np.sqrt(np.mean((got - expected) ** 2)) < 0.5 * np.sqrt(np.mean(expected**2))


def test_the_onnx_backend_separates_like_torch():
    audio = (0.1 * np.random.default_rng(0).standard_normal((2, 30000))).astype(np.float32)
    model = build_model("tiny")  # one set of (random) weights for both backends
    torch_out = Separator(model, backend="torch").separate(audio, 44100)
    onnx_out = Separator(model, backend="onnx").separate(audio, 44100)
    for name in torch_out:
        assert np.abs(torch_out[name] - onnx_out[name]).max() < 1e-4


def test_export_cli(tmp_path, capsys):
    assert main(["export", "tiny", str(tmp_path / "tiny.onnx")]) == 0
    assert "stems (batch, 2, 1, 1024)" in capsys.readouterr().out
    assert (tmp_path / "tiny.onnx").stat().st_size > 0
    assert main(["export", "nope", str(tmp_path / "x.onnx")]) == 2


@pytest.mark.parametrize("network", [{}, dict(hidden=32, frequency_channels=[4, 8, 8])], ids=["preset", "band-convolutions"])
def test_a_frame_streamed_model_exports_its_frame_step(tmp_path, capsys, network):
    from lightsep.frames import FrameStep

    model = build_model("spectral-2stem-live", **network).eval()
    path = export_onnx(model, tmp_path / "live.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["magnitude", "state"]
    step = FrameStep(model)
    state = step.initial_state()
    for frames in (1, 5):  # a dynamic frame count, the state carried from call to call
        magnitude = 3 * torch.rand(1, 2, model.bins, frames)
        with torch.no_grad():
            masks, next_state = step(magnitude, state)
        got_masks, got_state = session.run(None, {"magnitude": magnitude.numpy(), "state": state.numpy()})
        assert got_masks.shape == (1, 1, 2, model.bins, frames)
        assert np.abs(got_masks - masks.numpy()).max() < 1e-5 and np.abs(got_state - next_state.numpy()).max() < 1e-5
        state = next_state
    if network:
        return
    assert main(["export", "spectral-2stem-live", str(tmp_path / "cli.onnx"), "--random-weights"]) == 0
    out = capsys.readouterr().out
    assert "its frame step: magnitude (1, 2, 1025, frames)" in out and "frames of 2048 every 512 samples, Hann windows" in out
    assert main(["export", "spectral-2stem-live-20ms", str(tmp_path / "low.onnx"), "--random-weights"]) == 0
    assert "windows lightsep.models.spectral.low_delay_windows(2048, 512, " in capsys.readouterr().out  # what the caller must apply
