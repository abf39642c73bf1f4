"""Driving the web app (``lightsep web``) in headless Chromium, for its tests and
``benchmarks/browser.py``.

Needs Playwright's Python package (``pip install 'lightsep[web]'``) and a Chromium on the
machine (Debian's ``chromium``, which ``scripts/setup.sh`` installs); Playwright's own
browser download is not used. :func:`missing` says which is absent, for a skip reason.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)
"""Headless on a machine with no network: no background connections, no sandbox (root)."""


def chromium_path() -> str | None:
    """``$LIGHTSEP_CHROMIUM``, else ``chromium`` (or ``chromium-browser``) on the PATH."""
    return os.environ.get("LIGHTSEP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why the page cannot be driven here (a skip reason), or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright's Python package is not installed (pip install 'lightsep[web]')"
    if chromium_path() is None:
        return "no Chromium on this machine (Debian: apt-get install chromium; scripts/setup.sh installs it)"
    return None


@contextlib.contextmanager
def chromium_page(url: str, width: int = 900, height: int = 900, flags: tuple[str, ...] = ()) -> Iterator:
    """A Playwright page in headless Chromium, opened at ``url`` and ready (models listed);
    ``flags`` go to Chromium after :data:`CHROMIUM_FLAGS`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=[*CHROMIUM_FLAGS, *flags])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            messages: list[str] = []
            page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
            page.console_messages = messages
            page.goto(url)
            page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=30_000)
            yield page
        finally:
            browser.close()


_READ_RESULT = """() => {
  const r = window.lightsep.result;
  const b64 = (a) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const stems = {};
  for (const [name, channels] of Object.entries(r.stems)) stems[name] = channels.map(b64);
  return { rate: r.rate, seconds: r.seconds, modelSeconds: r.modelSeconds, threads: r.threads,
           audioSeconds: r.audioSeconds, model: r.model, stems };
}"""


def agreement_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """How closely ``estimate`` matches ``reference`` (one stem from the page and from
    Python): the SDR of the difference, ``10 log10(|reference|^2 / |estimate - reference|^2)``."""
    reference, estimate = reference.astype(np.float64), estimate.astype(np.float64)
    return float(10 * np.log10(np.sum(reference**2) / np.sum((estimate - reference) ** 2)))


def separate_in_page(page, path: str | os.PathLike, model: str | None = None, timeout_s: float = 300.0) -> dict:
    """Give the page ``path`` (as a user choosing a file would), wait until it is done or
    shows an error. Returns ``{"state": "done", "stems": {name: (channels, samples)},
    "rate", "seconds", "modelSeconds", "threads", ...}`` or ``{"state": "error", "error": text}``."""
    if model is not None:
        page.select_option("#model", model)
    page.evaluate("document.body.dataset.state = 'submitted'")
    page.set_input_files("#file", str(Path(path)))
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=timeout_s * 1000)
    state = page.evaluate("document.body.dataset.state")
    if state == "error":
        return {"state": "error", "error": page.inner_text("#status")}
    result = page.evaluate(_READ_RESULT)
    result["stems"] = {
        name: np.stack([np.frombuffer(base64.b64decode(c), dtype=np.float32) for c in channels])
        for name, channels in result["stems"].items()
    }
    result["state"] = "done"
    return result
