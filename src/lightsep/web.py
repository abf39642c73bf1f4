"""``lightsep web``: the browser app (``web/``) served on this machine.

The page separates a file entirely in the browser with ONNX Runtime Web: the same
overlap-add, crossfade, silence gate and difference stem as :class:`lightsep.Separator`
(``web/lightsep.js``), on the ONNX export of a bundled model. This module exports the
models (once; :func:`lightsep.export.cached_export` caches them), describes their geometry
in ``models/index.json``, and serves the page, ONNX Runtime Web's scripts and WASM files
(from ``web/node_modules``, installed by ``npm ci`` in ``web/``) and the models on
127.0.0.1, with the cross-origin isolation headers that multi-threaded WASM needs. Nothing
comes from the network.
"""

from __future__ import annotations

import functools
import http.server
import json
import posixpath
import sys
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .apply import hop_samples
from .defaults import WEB_MODELS  # the models the page offers by default
from .errors import LightsepError

PACKAGED_WEB_ROOT = Path(__file__).resolve().parent / "webapp"
"""The app's files in an installed wheel (``setup.py`` puts them there, ONNX Runtime Web's in
``webapp/ort/``)."""

WEB_ROOT = PACKAGED_WEB_ROOT if (PACKAGED_WEB_ROOT / "index.html").is_file() else Path(__file__).resolve().parents[2] / "web"
"""The app's files: the installed package's, else a source checkout's ``web/``."""


PAGE_FILES = ("index.html", "app.js", "worker.js", "live-worklet.js", "lightsep.js", "views.js", "style.css")
"""The page's own files: the only ones served from ``web/`` itself."""

REQUEST_TIMEOUT_S = 10.0
"""How long the server waits on a connection that sends nothing (a request's headers, say)."""

SEGMENTS_PER_CALL = 4
"""Segments (times channels) per ONNX Runtime call in the page."""


def ort_dist(root: Path = WEB_ROOT) -> Path:
    """ONNX Runtime Web's files: ``ort/`` in an installed package, ``node_modules`` in a checkout."""
    packaged = root / "ort"
    return packaged if packaged.is_dir() else root / "node_modules" / "onnxruntime-web" / "dist"


def check_web_root(root: Path = WEB_ROOT) -> None:
    """Refuse, in one line, a checkout whose app or ONNX Runtime Web files are missing."""
    if not (root / "index.html").is_file():
        raise LightsepError(f"{root}: the web app is not there (an installed wheel carries it; a source checkout has web/)")
    if not (ort_dist(root) / "ort.wasm.min.mjs").is_file():
        raise LightsepError(f"{ort_dist(root)}: ONNX Runtime Web is not installed; run: npm ci --prefix {root} (scripts/setup.sh does)")


def model_description(name: str, model, overlap: float | None = None) -> dict:
    """What the page needs to know of a model to run its ONNX export as the Separator does
    (``overlap``: the model's ``default_overlap``, as the Separator's, unless given)."""
    from .models.registry import PRESETS
    from .separator import SILENCE_GATE_RANGE_DB, frame_streamed, silence_floor

    difference = model.difference_source
    floor = silence_floor(model)
    description = {
        "name": name,
        "description": PRESETS[name].description if name in PRESETS else str(name),
        "url": "models/" + quote(f"{name}.onnx", safe=""),  # a checkpoint's path may hold any character
        "sources": list(model.sources),
        "direct_sources": [i for i, s in enumerate(model.sources) if s != difference],
        "difference_source": difference,
        "sample_rate": model.sample_rate,
        "audio_channels": model.audio_channels,
        "context_samples": model.context_samples,
        "output_samples": model.output_samples,
        "output_offset": model.output_offset,
        "hop": hop_samples(model.output_samples, model.default_overlap if overlap is None else overlap),
        "segments_per_call": SEGMENTS_PER_CALL,
        "silence_floor_db": floor,
        "silence_open_db": None if floor is None else floor + SILENCE_GATE_RANGE_DB,
        "kind": "segments",
    }
    if frame_streamed(model):  # its export is the frame step (lightsep.frames.FrameStep): web/lightsep.js's FrameEngine runs it
        from .frames import state_shape

        description.update(kind="frames", n_fft=model.n_fft, hop=model.hop, state_shape=list(state_shape(model)),
                           synthesis_samples=model.synthesis_samples if model.low_delay else 0,  # 0: Hann frames
                           latency_samples=model.synthesis_samples - 1)  # fmt: skip
    return description


def prepare_models(names=WEB_MODELS, random_weights: bool = False) -> tuple[list[dict], dict[str, Path]]:
    """Export ``names`` to ONNX (cached) and describe them: ``(index, {file name: path})``."""
    from .export import cached_export
    from .separator import resolve_model

    index, files = [], {}
    for name in names:
        model = resolve_model(name, random_weights=random_weights)
        index.append(model_description(name, model))
        files[f"{name}.onnx"] = cached_export(model)
    return index, files


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The app's files, ``/ort/`` (ONNX Runtime Web) and ``/models/``, with the headers that
    make the page cross-origin isolated (SharedArrayBuffer, so WASM threads)."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".onnx": "application/octet-stream",
    }

    timeout = REQUEST_TIMEOUT_S  # a connection that sends nothing for this long is closed

    def __init__(self, *args, root: Path, index: bytes, files: dict[str, Path], **kwargs):
        self.root, self.index, self.files = root, index, files
        super().__init__(*args, directory=str(root), **kwargs)

    def translate_path(self, path: str) -> str:
        """The file for a request's path, or "" (404): the page's own files, ``/ort/``'s
        and ``/models/``'s; never a folder listing, ``node_modules`` by any spelling, or a
        path with a NUL or control character."""
        path = unquote(urlsplit(path).path)
        if any(ord(c) < 32 for c in path):
            return ""
        if path.startswith("/models/"):  # an exact name from the index (a checkpoint's path may hold any character)
            model = self.files.get(path[len("/models/") :])
            return str(model) if model else ""
        path = posixpath.normpath(path)
        path = path if path.startswith("/") else "/" + path
        if path.startswith("/ort/"):
            name = path[len("/ort/") :]
            return str(ort_dist(self.root) / name) if "/" not in name else ""
        name = "index.html" if path == "/" else path[1:]
        return str(self.root / name) if name in PAGE_FILES else ""

    def list_directory(self, path):
        self.send_error(404, "File not found")
        return None

    def _index(self, body: bool) -> bool:
        """Answer ``/models/index.json`` (made in memory); whether the path was it."""
        if urlsplit(self.path).path != "/models/index.json":
            return False
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.index)))
        self.end_headers()
        if body:
            self.wfile.write(self.index)
        return True

    def do_GET(self):
        if not self._index(body=True):
            super().do_GET()

    def do_HEAD(self):
        if not self._index(body=False):
            super().do_HEAD()

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet: the page's own requests are not news
        pass


class _Server(http.server.ThreadingHTTPServer):
    """Serves each connection in a thread; an error in one is a line on stderr, not a
    traceback, and a browser that drops a connection mid-answer is not an error at all."""

    request_queue_size = 1024  # the listen backlog (socketserver's default is 5): a burst of a
    # page's parallel requests waits in it instead of being refused or dropped

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # a reload, a cancelled fetch, a closed tab
            return
        host, port = client_address[:2]
        print(f"lightsep web: error answering {host}:{port}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def make_server(port: int = 8000, models=WEB_MODELS, random_weights: bool = False, root: Path = WEB_ROOT) -> _Server:
    """The server (not yet serving) on 127.0.0.1:``port`` (0: a free port)."""
    check_web_root(root)
    index, files = prepare_models(models, random_weights)
    handler = functools.partial(_Handler, root=root, index=json.dumps(index).encode(), files=files)
    try:
        server = _Server(("127.0.0.1", port), handler)
    except OSError as exc:
        raise LightsepError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}; choose another --port") from None
    return server


def address(server: http.server.HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


def serve_in_thread(server: http.server.HTTPServer) -> threading.Thread:
    """Serve in a daemon thread (tests, benchmarks); ``server.shutdown()`` stops it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
