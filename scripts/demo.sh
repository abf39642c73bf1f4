#!/usr/bin/env bash
# The main job: set up, then separate the example song that ships with the repository
# (examples/everything-is-remixed-lithium/) with the default model, spectral-2stem-ensemble. Writes
# the stems and a picture under demo-output/ and prints each stem's SDR against the true stems. Offline.
# Arguments go to examples/demo.py, e.g. `bash scripts/demo.sh -m proposed-4stem`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python examples/demo.py "$@"
