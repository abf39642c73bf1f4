"""`pip install lightsep-*.whl` is the whole product: the wheel, installed into a fresh virtual
environment outside the checkout, separates, streams, exports and serves the web page (which
then separates a file in headless Chromium) with no checkout and no network.

The fresh environment borrows the already installed dependencies (torch and the rest) through
a path file instead of downloading them again; the wheel itself is installed with --no-deps,
and the test checks that ``lightsep`` is imported from the new environment, not the checkout.
"""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lightsep import browser

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(bin folder, environment)`` of a fresh venv with the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(work / "dist")],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    (wheel,) = (work / "dist").glob("lightsep-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    # the dependencies already installed here, after the venv's own site-packages (a .pth path
    # line; the checkout's editable lightsep is not among them: its .pth files are not read)
    borrowed = [p for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}]
    Path(purelib, "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(LIGHTSEP_CACHE=str(work / "cache"), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return venv / "bin", env, work


def run(installed, *args, timeout=600) -> subprocess.CompletedProcess:
    bin_dir, env, work = installed
    return subprocess.run([str(bin_dir / "lightsep"), *args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_is_imported_from_its_environment_and_carries_everything(installed):
    bin_dir, env, work = installed
    code = "import lightsep, lightsep.web as w; print(lightsep.__file__); print(w.WEB_ROOT); print(lightsep.__version__)"
    lines = subprocess.run([str(bin_dir / "python"), "-c", code], cwd=work, env=env, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    venv = str(bin_dir.parent)
    assert lines[0].startswith(venv) and lines[1].startswith(venv), lines  # not the checkout's
    assert re.fullmatch(r"\d+\.\d+\.\d+", lines[2])
    assert run(installed, "--version").stdout.strip() == f"lightsep {lines[2]}"
    root = Path(lines[1])
    for name in ("index.html", "app.js", "worker.js", "lightsep.js", "ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm",
                 "ort/LICENSE"):  # fmt: skip
        assert (root / name).is_file(), name
    info = json.loads(run(installed, "info", "--json").stdout)
    assert {m["name"] for m in info if m["bundled_weights"]} >= {"proposed-2stem", "proposed-4stem", "proposed-2stem-lowlatency",
                                                                          "spectral-2stem-live", "spectral-2stem-live-20ms"}


def test_the_wheel_separates_streams_and_exports(installed):
    _, _, work = installed
    audio = (0.1 * np.random.default_rng(0).standard_normal((44100, 2))).astype(np.float32)
    sf.write(work / "clip.wav", audio, 44100, subtype="FLOAT")
    result = run(installed, "separate", "clip.wav", "-o", "separated", "--quiet")
    assert result.returncode == 0, result.stderr
    assert len(list((work / "separated").rglob("*.wav"))) == 2
    result = run(installed, "stream", "clip.wav", "-o", "streamed", "--no-pace")
    assert result.returncode == 0 and "latency:" in result.stdout, result.stderr
    for stem in ("vocals", "accompaniment"):  # the same layout as separate: OUT/<model>/<track>/<stem>.wav
        assert (work / "streamed" / "spectral-2stem-live" / "clip" / f"{stem}.wav").is_file()
    result = run(installed, "stream", "clip.wav", "-o", "streamed", "--no-pace", "--latency", "20", "--block-ms", "5")
    assert result.returncode == 0 and "latency: 17 ms" in result.stdout, result.stderr  # the 20 ms model's bundled weights
    assert (work / "streamed" / "spectral-2stem-live-20ms" / "clip" / "vocals.wav").is_file()
    bin_dir, env, _ = installed
    code = ("import lightsep; w = lightsep.separate_files('clip.wav', 'api'); print(w['clip.wav']['vocals']); "
            "print(len(lightsep.list_models()))")  # fmt: skip
    result = subprocess.run([str(bin_dir / "python"), "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "api/spectral-2stem-ensemble/clip/vocals.wav" in result.stdout, result.stderr
    result = run(installed, "export", "proposed-2stem", "model.onnx")
    assert result.returncode == 0 and (work / "model.onnx").stat().st_size > 100_000, result.stderr


def test_the_wheel_serves_the_page_which_separates_in_chromium(installed):
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    bin_dir, env, work = installed
    process = subprocess.Popen([str(bin_dir / "lightsep"), "web", "--no-browser", "--port", "0"], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        audio = (0.1 * np.random.default_rng(1).standard_normal((2 * 44100, 2))).astype(np.float32)
        sf.write(work / "page.wav", audio, 44100, subtype="FLOAT")
        with browser.chromium_page(url) as page:
            result = browser.separate_in_page(page, work / "page.wav")
        assert result["state"] == "done", result
        assert all(stem.shape == (2, 2 * 44100) for stem in result["stems"].values())
        np.testing.assert_allclose(sum(result["stems"].values()), audio.T, atol=1e-5)
    finally:
        process.terminate()
        process.wait(timeout=60)
