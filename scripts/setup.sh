#!/usr/bin/env bash
# Set up lightsep on a fresh Debian machine: system packages (when missing), a virtual
# environment in .venv at the repository root, torch pinned to the local CPU build, and the
# package with the extras the tests and the demo use. Safe to run again: it only does what is
# missing, and reinstalls the Python packages when pyproject.toml or this script change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TORCH_VERSION="2.13.0"   # a plain 'torch' would pull a multi-GB CUDA build; see DEVELOPERS.md
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# --- system packages: ffmpeg (m4a/mp4/stem.mp4 I/O), FluidSynth and its GM soundfont
#     (procedural corpus), espeak-ng (sung syllables), Chromium (the web app's browser
#     tests) and Node.js's npm (the web app's ONNX Runtime Web) --------------------------
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: cannot install ${missing[*]} (needs root and apt-get); the features that use them will report it" >&2
    fi
fi

# --- Python ------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
# pip, without one message this project's machines print for every package (a package index
# folder configured but absent); pip's own exit status is kept
pip() {
    .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    return "${PIPESTATUS[0]}"
}
stamp=".venv/.lightsep-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python packages into .venv" >&2
    pip install -q --upgrade pip
    pip install -q "torch==${TORCH_VERSION}"
    pip install -q -e ".[test,eval,onnx,plot,web]"
    echo "$want" > "$stamp"
fi

# --- the web app's packages (web/package-lock.json: ONNX Runtime Web), served by lightsep web --
if command -v npm >/dev/null 2>&1; then
    if [ ! -f web/node_modules/.package-lock.json ] || ! cmp -s web/package-lock.json web/node_modules/.lightsep-lock; then
        echo "setup: installing the web app's npm packages (web/package-lock.json)" >&2
        npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null
        cp web/package-lock.json web/node_modules/.lightsep-lock
    fi
else
    echo "setup: no npm; lightsep web needs it (Debian: apt-get install npm)" >&2
fi
