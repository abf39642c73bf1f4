"""Install the benchmark's peers into the current environment: openunmix and demucs with
--no-deps (they declare torchaudio, which has no build for this torch), and the small
pure-Python packages their model code imports. They are an optional extra, used only by
benchmarks/speed.py."""

import subprocess
import sys

PEERS = ["openunmix==1.3.0", "demucs==4.1.0"]
THEIR_IMPORTS = ["einops", "julius"]

subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *PEERS, *THEIR_IMPORTS], check=True)
print("installed:", ", ".join(PEERS + THEIR_IMPORTS))
