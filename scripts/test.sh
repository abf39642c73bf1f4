#!/usr/bin/env bash
# Set up, then run the test suite. Slow checks run with LIGHTSEP_SLOW=1; GPU checks run
# only where CUDA is available. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python -m pytest -q "$@"
