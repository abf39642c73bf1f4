#!/usr/bin/env bash
# The main job: set up, then run lightsep's demonstration.
# For now: the paper's Table 2 for every named model (parameters, receptive and target
# fields, FLOPs), with receptive fields measured from gradients.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/lightsep info "$@"
