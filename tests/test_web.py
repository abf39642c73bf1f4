"""The browser app: ``lightsep web``'s server, the page's pipeline (web/lightsep.js, run by
Node.js against lightsep's own Python) and the page itself in headless Chromium."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from helpers import ROOT
from lightsep import browser
from lightsep.apply import OverlapAdd
from lightsep.audio import convert_channels
from lightsep.errors import LightsepError
from lightsep.frames import FrameEngine
from lightsep.gate import SilenceGate
from lightsep.models.spectral import low_delay_windows
from lightsep.web import WEB_ROOT, address, check_web_root, make_server, model_description, ort_dist, serve_in_thread

sys.path.insert(0, str(ROOT / "examples"))

needs_ort_web = pytest.mark.skipif(
    not (ort_dist() / "ort.wasm.min.mjs").is_file(), reason="web/node_modules missing: npm ci --prefix web (scripts/setup.sh)"
)


@pytest.fixture(scope="module")
def tiny_server():
    server = make_server(0, ["tiny"])
    serve_in_thread(server)
    yield address(server)
    server.shutdown()
    server.server_close()


# -- the server ----------------------------------------------------------------------------


@needs_ort_web
def test_server_sends_the_page_with_cross_origin_isolation(tiny_server):
    with urllib.request.urlopen(tiny_server) as response:
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert b'src="app.js"' in response.read()
    with urllib.request.urlopen(tiny_server + "ort/ort-wasm-simd-threaded.wasm") as response:
        assert response.headers["Content-Type"] == "application/wasm"
    with urllib.request.urlopen(tiny_server + "ort/ort.wasm.min.mjs") as response:
        assert response.headers["Content-Type"] == "text/javascript"


@needs_ort_web
def test_server_describes_and_serves_the_models(tiny_server):
    with urllib.request.urlopen(tiny_server + "models/index.json") as response:
        index = json.load(response)
    (tiny,) = index
    assert tiny["name"] == "tiny" and tiny["url"] == "models/tiny.onnx"
    assert tiny["hop"] == tiny["output_samples"] // 2
    assert tiny["silence_open_db"] == tiny["silence_floor_db"] + 30.0  # the Separator's gate
    assert [tiny["sources"][i] for i in tiny["direct_sources"]] + [tiny["difference_source"]] == tiny["sources"]
    with urllib.request.urlopen(tiny_server + tiny["url"]) as response:
        import onnx

        graph = onnx.load_from_string(response.read()).graph
    assert [i.name for i in graph.input] == ["mixture"]


@needs_ort_web
@pytest.mark.parametrize("path", ["ort/../../package.json", "node_modules/onnxruntime-web/package.json", "models/other.onnx",
                                  "ort/nothing.wasm"])  # fmt: skip
def test_server_serves_nothing_else(tiny_server, path):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(tiny_server + path)
    assert error.value.code == 404


def raw_request(base: str, method: str, path: str) -> tuple[int, bytes, dict]:
    """``method path`` sent as it is (no client-side normalisation): status, body, headers."""
    import http.client

    host, port = base.rstrip("/").rsplit("/", 1)[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


@needs_ort_web
@pytest.mark.parametrize("path", ["/./node_modules/", "/./node_modules/onnxruntime-web/package.json", "/x/../node_modules/",
                                  "/node_modules", "/%00", "/ort/%00", "/index.html%00", "/ort/", "/models/"])  # fmt: skip
def test_no_spelling_of_a_path_reaches_what_is_not_served(tiny_server, path, capfd):
    status, body, _ = raw_request(tiny_server, "GET", path)
    assert status == 404, (path, body[:200])
    assert "Traceback" not in capfd.readouterr().err


@needs_ort_web
def test_head_answers_as_get_does(tiny_server):
    for path in ("/models/index.json", "/", "/models/tiny.onnx"):
        get_status, body, get_headers = raw_request(tiny_server, "GET", path)
        head_status, nothing, head_headers = raw_request(tiny_server, "HEAD", path)
        assert get_status == head_status == 200 and nothing == b""
        assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(body))


@needs_ort_web
def test_connections_that_never_finish_their_headers_are_closed(monkeypatch):
    import socket

    from lightsep import web

    monkeypatch.setattr(web._Handler, "timeout", 0.5)
    server = make_server(0, ["tiny"])
    serve_in_thread(server)
    host, port = server.server_address[:2]
    sockets = []
    try:
        for _ in range(20):
            client = socket.create_connection((host, port), timeout=30)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            sockets.append(client)
        for client in sockets:
            assert client.recv(1024) == b""  # the server closed it (a 30 s guard, not a timing check)
        status, _, _ = raw_request(address(server), "GET", "/models/index.json")
        assert status == 200  # and it still serves
    finally:
        for client in sockets:
            client.close()
        server.shutdown()
        server.server_close()


@needs_ort_web
def test_a_dropped_connection_is_no_traceback_and_other_errors_are_one_line(capsys):
    # a browser that reloads while a model downloads resets the connection mid-answer;
    # socketserver's default printed a traceback for it
    server = make_server(0, ["tiny"])
    try:
        for error in (ConnectionResetError(104, "Connection reset by peer"), BrokenPipeError(32, "Broken pipe")):
            try:
                raise error
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 5000))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("bad")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 5000))
        assert capsys.readouterr().err == "lightsep web: error answering 127.0.0.1:5000: ValueError: bad\n"
    finally:
        server.server_close()


@needs_ort_web
def test_a_checkpoint_with_any_name_is_served(tmp_path):
    from lightsep.checkpoint import save_checkpoint
    from lightsep.models.registry import build_model

    checkpoint = str(save_checkpoint(build_model("tiny"), tmp_path / "my run #1" / "best 50%.pt"))
    server = make_server(0, [checkpoint])
    serve_in_thread(server)
    try:
        with urllib.request.urlopen(address(server) + "models/index.json") as response:
            (entry,) = json.load(response)
        assert entry["name"] == checkpoint
        with urllib.request.urlopen(address(server) + entry["url"]) as response:
            assert response.headers["Content-Type"] == "application/octet-stream" and len(response.read()) > 1000
    finally:
        server.shutdown()
        server.server_close()


def test_missing_onnx_runtime_web_is_one_clear_error(tmp_path):
    (tmp_path / "index.html").write_text("<html></html>")
    with pytest.raises(LightsepError, match="npm ci"):
        check_web_root(tmp_path)
    with pytest.raises(LightsepError, match="web app is not there"):
        check_web_root(tmp_path / "nowhere")


def test_models_are_described_with_their_channel_count():
    from lightsep.models.registry import build_model

    assert model_description("spectral-2stem", build_model("spectral-2stem"))["audio_channels"] == 2  # stereo: one segment
    assert model_description("tiny", build_model("tiny"))["audio_channels"] == 1  # mono: each channel separately


@needs_ort_web
def test_cli_port_in_use_is_one_line(tiny_server):
    port = tiny_server.rstrip("/").rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "web", "--port", port, "--no-browser", "--models", "tiny"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--port" in result.stderr


@needs_ort_web
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_cli_serves_until_stopped(stop):
    process = subprocess.Popen([sys.executable, "-m", "lightsep.cli", "web", "--port", "0", "--no-browser", "--models", "tiny"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "models/index.json", timeout=30) as response:
            assert [m["name"] for m in json.load(response)] == ["tiny"]
        process.send_signal(stop)
        assert process.wait(timeout=60) == 128 + stop  # as every command stopped by a signal (docs/failures.md)
        assert process.stderr.read().strip() == f"lightsep web: stopped by {stop.name}"
    finally:
        process.kill()
        process.wait()


def test_cli_help_names_the_options():
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "web", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--port", "--no-browser", "--models"):
        assert option in result.stdout


# -- the page's pipeline, run by Node.js -----------------------------------------------------


class FakeCausalModel(torch.nn.Module):
    """A stand-in for a causal spectrogram-mask model (what frames.FrameEngine runs), the same
    function as pipeline.mjs's ``step``: the first source's mask is ``m / (m + 1 + state)``,
    the state after a frame ``0.9 state + 0.1 mean(m)``; Hann frames, or low-delay ones with
    ``synthesis_samples``."""

    causal = True
    sources = ("a", "rest")

    def __init__(self, n_fft: int, hop: int, synthesis_samples: int = 0):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.config = {"layers": 1, "hidden": 1}
        if synthesis_samples:
            analysis, synthesis = (torch.from_numpy(w) for w in low_delay_windows(n_fft, hop, synthesis_samples))
        else:
            analysis = synthesis = torch.hann_window(n_fft, dtype=torch.float64)
        self.synthesis_samples = synthesis_samples or n_fft
        self.frame_lead = n_fft - hop if synthesis_samples else n_fft // 2
        self.register_buffer("window", analysis.float())
        self.register_buffer("synthesis_window", synthesis.float())

    def masks_and_state(self, magnitude, state):
        s, masks = state.reshape(()), []
        for k in range(magnitude.shape[-1]):
            frame = magnitude[..., k]
            masks.append(frame / (frame + 1 + s))
            s = 0.9 * s + 0.1 * frame.mean()
        first = torch.stack(masks, dim=-1)
        return torch.stack([first, 1 - first], dim=1), s.reshape(1, 1, 1)


@pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js on this machine")
def test_page_pipeline_matches_python(tmp_path):
    rng = np.random.default_rng(0)
    rate, channels = 22050, 2
    signal = (0.3 * rng.standard_normal((channels, 9001))).astype(np.float32)
    signal[:, 3000:4500] = 0.0  # silence: the gate closes
    signal[:, 4500:5000] *= 1e-4  # quiet: it is half open
    meta = {"sources": ["a", "b", "rest"], "context_samples": 1024, "output_samples": 512, "output_offset": 256, "hop": 256,
            "segments_per_call": 3, "direct_sources": [0, 1]}  # fmt: skip
    (tmp_path / "signal.f32").write_bytes(signal.tobytes())
    sf.write(tmp_path / "a.wav", signal.T, 48000)
    sf.write(tmp_path / "b.flac", signal.T * 0.5, 32000)
    sf.write(tmp_path / "c.ogg", signal.T * 0.5, 44100)
    (tmp_path / "d.mp3").write_bytes(b"this is text, not audio")
    sniff = {"a.wav": 48000, "b.flac": 32000, "c.ogg": 44100, "d.mp3": None}
    if shutil.which("ffmpeg"):
        for name, rate_in_file in [("e.m4a", 24000), ("f.mp3", 22050)]:
            subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=d=0.5:r={rate_in_file}", str(tmp_path / name)], check=True)
            sniff[name] = rate_in_file
    spec = {"channels": channels, "rate": rate, "floor_db": -90.0, "open_db": -60.0, "meta": meta, "resample": [[22050, 44100], [22050, 16000]],
            "sniff": list(sniff), "frames": {"n_fft": 256, "hop": 64, "audio_channels": channels},
            "low_delay_frames": {"n_fft": 256, "hop": 64, "audio_channels": channels, "synthesis_samples": 96}}  # fmt: skip
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    subprocess.run(["node", str(ROOT / "tests" / "web" / "pipeline.mjs"), str(tmp_path)], check=True, timeout=120)

    def model(segments):  # (n, channels, context) -> (n, sources, channels, output): what pipeline.mjs runs
        region = segments[..., 256 : 256 + 512]
        ramp = (1 + np.arange(512) / 512).astype(np.float32)
        return np.stack([region * np.float32(1 + s / 2) * ramp for s in range(3)], axis=1)

    engine = OverlapAdd(model, channels, 3, 1024, 512, 256, overlap=0.5, batch_size=2)
    expected = np.concatenate([engine.push(signal), engine.flush()], axis=2)[:2]
    page = np.fromfile(tmp_path / "overlap_add.f32", np.float32).reshape(2, channels, -1)
    np.testing.assert_allclose(page, expected, atol=2e-6)

    def joint_model(segments):  # what pipeline.mjs's jointModel runs
        region = segments[..., 256 : 256 + 512]
        scale = (1 + np.arange(channels, dtype=np.float32))[:, None]
        return np.stack([region * np.float32(1 + s / 2) * scale + 0.25 * region[:, ::-1] for s in range(3)], axis=1)

    engine = OverlapAdd(joint_model, channels, 3, 1024, 512, 256, overlap=0.5, batch_size=2)
    expected = np.concatenate([engine.push(signal), engine.flush()], axis=2)[:2]
    page = np.fromfile(tmp_path / "overlap_add_joint.f32", np.float32).reshape(2, channels, -1)
    np.testing.assert_allclose(page, expected, atol=2e-6)
    for count in (1, 3):
        page = np.fromfile(tmp_path / f"convert-{count}.f32", np.float32).reshape(count, -1)
        np.testing.assert_array_equal(page, convert_channels(signal, count))
    page = np.fromfile(tmp_path / "convert-up.f32", np.float32).reshape(2, -1)
    np.testing.assert_array_equal(page, convert_channels(signal[:1], 2))

    gains = np.fromfile(tmp_path / "gate.f32", np.float32)
    np.testing.assert_array_equal(gains, SilenceGate(rate, -90.0, -60.0)(signal))
    assert gains[3500] == 0.0 and 0.0 < gains[4800] < 1.0 and gains[-1] == 1.0
    np.testing.assert_array_equal(np.fromfile(tmp_path / "gate-blocks.f32", np.float32), gains)  # a stream's gate, block by block

    for prefix, synthesis in (("frames", 0), ("low-delay-frames", 96)):
        engine = FrameEngine(FakeCausalModel(n_fft=256, hop=64, synthesis_samples=synthesis), channels)
        expected = np.concatenate([engine.push(signal), engine.flush()], axis=2)[0]
        for name in (f"{prefix}-whole.f32", f"{prefix}-blocks.f32"):
            page = np.fromfile(tmp_path / name, np.float32).reshape(channels, -1)
            assert page.shape == expected.shape, name
            np.testing.assert_allclose(page, expected, atol=2e-5, err_msg=name)

    for to in (44100, 16000):
        page = np.fromfile(tmp_path / f"resample-22050-{to}.f32", np.float32).reshape(channels, -1)
        stream = soxr.ResampleStream(22050, to, channels, dtype="float32", quality="HQ")
        python = np.concatenate([stream.resample_chunk(signal.T), stream.resample_chunk(np.zeros((0, channels), np.float32), last=True)]).T
        assert page.shape == python.shape
        # white noise fills the filters' transition band, where soxr and the page differ most: the worst case
        assert browser.agreement_db(python, page) > 40.0, to

    assert json.loads((tmp_path / "sniffed.json").read_text()) == sniff
    encoded, encoded_rate = sf.read(tmp_path / "encoded.wav", dtype="float32")
    assert encoded_rate == rate
    np.testing.assert_array_equal(encoded.T, signal)


# -- the page in headless Chromium -----------------------------------------------------------


@pytest.fixture(scope="module")
def web_page(tmp_path_factory):
    """The page with the default models, in a Chromium whose microphone is a file (live mode's
    tests): a 440 Hz tone, 44.1 kHz stereo, looped."""
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    if not (ort_dist() / "ort.wasm.min.mjs").is_file():
        pytest.skip("web/node_modules missing: npm ci --prefix web (scripts/setup.sh)")
    rate = 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)
    microphone = tmp_path_factory.mktemp("microphone") / "microphone.wav"
    sf.write(microphone, np.stack([tone, 0.5 * tone], axis=1), rate, subtype="PCM_16")
    flags = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}")
    server = make_server(0)
    serve_in_thread(server)
    try:
        with browser.chromium_page(address(server), flags=flags) as page:
            page.microphone = microphone
            yield page
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def song_clip(tmp_path_factory) -> Path:
    """Four seconds of the demo song's mixture (real music, 44.1 kHz stereo)."""
    from demo import load_song

    stems, rate = load_song()
    path = tmp_path_factory.mktemp("web") / "clip.wav"
    sf.write(path, stems["mixture"][:, 2 * rate : 6 * rate].T, rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("model", ["spectral-2stem-ensemble", "spectral-2stem", "spectral-4stem", "spectral-2stem-live", "spectral-2stem-live-20ms",
                                   "proposed-2stem", "proposed-4stem"])  # fmt: skip
def test_page_separates_like_python(web_page, song_clip, model):
    from lightsep.separator import Separator, frame_streamed, resolve_model

    result = browser.separate_in_page(web_page, song_clip, model)
    assert result["state"] == "done", (result, web_page.console_messages)
    audio, rate = sf.read(song_clip, dtype="float32", always_2d=True)
    frames = frame_streamed(resolve_model(model))  # its export is the frame step: Python runs it on torch
    python = Separator(model, backend="torch" if frames else "onnx").separate(audio.T, rate)
    assert result["rate"] == rate and list(result["stems"]) == list(python)
    # the page's resampler is not soxr: their outputs differ near the model's Nyquist frequency,
    # and a mask model's masks (functions of log magnitudes) pass more of that difference on
    # than a waveform model does (docs/web.md); the live model runs at the clip's rate, unresampled
    floor = 50.0 if frames else 30.0 if model.startswith("spectral") else 40.0
    for name, stem in result["stems"].items():
        assert stem.shape == python[name].shape
        assert browser.agreement_db(python[name], stem) > floor, name
    np.testing.assert_allclose(sum(result["stems"].values()), audio.T, atol=1e-5)  # the difference stem, exactly as in Python


def test_page_reports_bad_files_and_keeps_working(web_page, song_clip, tmp_path):
    text = tmp_path / "song.mp3"
    text.write_text("not audio at all\n" * 100)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    hour = tmp_path / "hour.wav"  # one hour: 8 kHz mono 16-bit, 58 MB
    with sf.SoundFile(hour, "w", 8000, 1, subtype="PCM_16") as handle:
        block = np.zeros(8000 * 60, np.int16)
        for _ in range(60):
            handle.write(block)
    for path, message in [(text, "not an audio file"), (empty, "empty"), (hour, "60:00 long")]:
        result = browser.separate_in_page(web_page, path, "proposed-2stem", timeout_s=60)
        assert result["state"] == "error", path
        assert message in result["error"] and path.name in result["error"]
    result = browser.separate_in_page(web_page, song_clip, "proposed-2stem")
    assert result["state"] == "done"
    assert list(result["stems"]) == ["vocals", "accompaniment"]


# -- live mode: the microphone (a fake one) and a playing file -------------------------------


def _run_live(page, start, seconds: float) -> dict:
    page.select_option("#live-stem", "-1")  # hear the mixture: the stems summed, so the input itself
    start()
    page.wait_for_function(f"(window.lightsep.live?.stats?.played || 0) > {seconds} * window.lightsep.live.meta.sample_rate "
                           "|| window.lightsep.live?.error", timeout=120_000)  # fmt: skip
    page.wait_for_function("window.lightsep.live.frames > 0", timeout=30_000)
    live = page.evaluate("(({meta, stats, frames, latencyMs, modelMs, bufferMs, error}) => "
                         "({hop: meta.hop, rate: meta.sample_rate, stats, frames, latencyMs, modelMs, bufferMs, error}))(window.lightsep.live)")  # fmt: skip
    status = page.inner_text("#live-status")
    page.click("#live-stop")
    page.wait_for_function("document.getElementById('live-status').textContent.startsWith('Stopped.')", timeout=30_000)
    live["status"] = status
    return live


def test_live_mode_separates_the_microphone(web_page):
    assert web_page.is_visible("#live")
    live = _run_live(web_page, lambda: web_page.click("#live-mic"), seconds=2.0)
    assert live["error"] is None, (live, web_page.console_messages)
    assert live["modelMs"] == pytest.approx(1000 * 2047 / 44100, abs=0.05)  # n_fft - 1 samples at the model's rate
    assert live["latencyMs"] <= 60.0 and f"{live['latencyMs']:.1f} ms latency" in live["status"]
    stats = live["stats"]
    assert stats["received"] >= 2.0 * live["rate"]  # the worklet sent what it heard to the worker
    assert live["frames"] >= 0.5 * stats["received"] / live["hop"]  # and the worker kept separating it
    assert stats["loudest"] > 0.01  # the separated stems (summed) were heard, not only silence
    assert not [m for m in web_page.console_messages if m.startswith(("error", "pageerror"))]


def test_live_mode_runs_the_20_ms_model(web_page):
    options = web_page.eval_on_selector_all("#live-model option", "(options) => options.map((o) => o.value)")
    assert options[0] == "spectral-2stem-live" and "spectral-2stem-live-20ms" in options
    web_page.select_option("#live-model", "spectral-2stem-live-20ms")
    try:
        live = _run_live(web_page, lambda: web_page.click("#live-mic"), seconds=2.0)
    finally:
        web_page.select_option("#live-model", "spectral-2stem-live")
    assert live["error"] is None, (live, web_page.console_messages)
    assert live["modelMs"] == pytest.approx(1000 * 767 / 44100, abs=0.05)  # synthesis_samples - 1 at the model's rate
    assert f"{live['latencyMs']:.1f} ms latency" in live["status"] and "spectral-2stem-live-20ms" in live["status"]
    stats = live["stats"]
    assert stats["received"] >= 2.0 * live["rate"] and live["frames"] >= 0.5 * stats["received"] / live["hop"]
    assert stats["loudest"] > 0.01
    assert not [m for m in web_page.console_messages if m.startswith(("error", "pageerror"))]


def test_live_mode_separates_a_playing_file(web_page):
    live = _run_live(web_page, lambda: web_page.set_input_files("#live-file", str(web_page.microphone)), seconds=1.0)
    assert live["error"] is None, (live, web_page.console_messages)
    assert live["status"].startswith("File") and live["frames"] > 0 and live["stats"]["loudest"] > 0.01
