"""Packaging hook: the wheel carries the web app (``lightsep web``) as package data.

``build_py`` copies the page's own files from ``web/`` and the ONNX Runtime Web files the
page loads from the npm package ``onnxruntime-web`` (``web/node_modules``, installed first
with ``npm ci --prefix web`` at the version ``web/package-lock.json`` pins, when missing)
into ``lightsep/webapp/`` of the build, with the npm package's licence. Everything else is
in ``pyproject.toml``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PAGE_FILES = ("index.html", "app.js", "worker.js", "live-worklet.js", "lightsep.js", "views.js", "style.css")  # lightsep.web.PAGE_FILES
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")  # what the page's worker loads


class BuildWithWebApp(build_py):
    def run(self) -> None:
        super().run()
        web = ROOT / "web"
        dist = web / "node_modules" / "onnxruntime-web" / "dist"
        if not all((dist / name).is_file() for name in ORT_FILES):
            if shutil.which("npm") is None:
                raise SystemExit("building lightsep needs npm for the web app's ONNX Runtime Web (Debian: apt-get install npm)")
            subprocess.run(["npm", "ci", "--prefix", str(web), "--no-audit", "--no-fund", "--loglevel=error"], check=True)
        target = Path(self.build_lib) / "lightsep" / "webapp"
        (target / "ort").mkdir(parents=True, exist_ok=True)
        for name in PAGE_FILES:
            shutil.copyfile(web / name, target / name)
        for name in ORT_FILES:
            shutil.copyfile(dist / name, target / "ort" / name)
        package = json.loads((dist.parent / "package.json").read_text())
        (target / "ort" / "LICENSE").write_text(
            f"{package['name']} {package['version']} (npm), licence: {package['license']}\n"
            "Copyright (c) Microsoft Corporation. Permission is hereby granted, free of charge, to any person obtaining a copy\n"
            "of this software and associated documentation files (the \"Software\"), to deal in the Software without\n"
            "restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute,\n"
            "sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do\n"
            "so, subject to the following conditions: The above copyright notice and this permission notice shall be\n"
            "included in all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT\n"
            "WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.\n"
        )


setup(cmdclass={"build_py": BuildWithWebApp})
