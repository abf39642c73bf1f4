"""Separation speed in the browser against Python, on the same file in the same run.

    .venv/bin/python benchmarks/browser.py [--seconds 30] [--models proposed-2stem proposed-4stem]
        [--input SONG] [--screenshot docs/images/web.png]

Serves the web app as ``lightsep web`` does, opens it in headless Chromium (Playwright) and
separates a stereo 44.1 kHz clip (the demo song's mixture, repeated to ``--seconds``, or
``--input``) the way a user would: choosing the file on the page. The page's time runs from
the file to the finished stems (decoding, resampling, ONNX Runtime Web's WASM backend,
assembling); Python's is ``Separator(model, backend="onnx").separate_file`` on the same file
with its defaults. Each side separates a short clip first, so that neither pays for loading
its model in the timed run. Prints both real-time factors (audio seconds per second), the
ratio, and the SDR of the page's stems against Python's. ``--screenshot`` saves the page
after the last separation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["proposed-2stem", "proposed-4stem"])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the clip (default 30)")
    parser.add_argument("--input", help="an audio file to use instead of the demo song")
    parser.add_argument("--screenshot", help="save a PNG of the page after the last separation here")
    args = parser.parse_args()

    import onnxruntime
    import torch

    from lightsep import browser
    from lightsep.separator import Separator
    from lightsep.web import address, make_server, serve_in_thread
    from streaming import music

    reason = browser.missing()
    if reason:
        sys.exit(f"browser.py: {reason}")
    audio, rate = music(args.seconds, args.input)
    with tempfile.TemporaryDirectory() as tmp:
        clip, warm = Path(tmp) / "clip.wav", Path(tmp) / "warm-up.wav"
        sf.write(clip, audio.T, rate, subtype="FLOAT")
        sf.write(warm, audio[:, : 2 * rate].T, rate, subtype="FLOAT")
        server = make_server(0, args.models)
        serve_in_thread(server)
        try:
            with browser.chromium_page(address(server), width=900, height=1000) as page:
                print(f"{args.seconds:g} s of stereo {rate} Hz music; Chromium (headless, {page.evaluate('navigator.hardwareConcurrency')} "
                      f"logical CPUs) vs Python (onnxruntime {onnxruntime.__version__}, torch {torch.__version__}), {os.cpu_count()} CPU(s)")  # fmt: skip
                print(f"{'model':<16} {'page':>9} {'threads':>7} {'python':>9} {'page/python':>11} {'SDR page vs python':>19}")
                for model in args.models:
                    # Python first: the page's WASM threads keep spinning a while after a run
                    separator = Separator(model, backend="onnx")
                    separator.separate_file(warm)
                    start = time.perf_counter()
                    python, _ = separator.separate_file(clip)
                    python_seconds = time.perf_counter() - start
                    browser.separate_in_page(page, warm, model)
                    result = browser.separate_in_page(page, clip, model, timeout_s=1200)
                    if result["state"] != "done":
                        sys.exit(f"browser.py: the page failed: {result['error']}")
                    page_rtf, python_rtf = args.seconds / result["seconds"], args.seconds / python_seconds
                    sdr = min(browser.agreement_db(python[k], result["stems"][k]) for k in python)
                    print(f"{model:<16} {page_rtf:>8.1f}x {result['threads']:>7d} {python_rtf:>8.1f}x {page_rtf / python_rtf:>10.2f}x "
                          f"{sdr:>15.1f} dB", flush=True)  # fmt: skip
                if args.screenshot:
                    page.screenshot(path=args.screenshot, full_page=True)
                    print(f"screenshot: {args.screenshot}")
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
